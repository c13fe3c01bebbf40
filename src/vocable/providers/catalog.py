"""The engine names an agent may choose. Unknown names are refused when an agent is saved.

The registry that turns these names into livekit-agents objects lives with the worker;
this catalogue is what the control plane validates against, so both stay in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EngineKind = Literal["stt", "llm", "tts"]


@dataclass(frozen=True)
class Engine:
    kind: EngineKind
    name: str
    description: str
    offline: bool


ENGINES: tuple[Engine, ...] = (
    Engine("stt", "auto", "Whisper tiny.en for English, Whisper base otherwise", True),
    Engine("stt", "whisper-tiny-en", "faster-whisper tiny.en (English only, packaged)", True),
    Engine("stt", "whisper-base", "faster-whisper base (multilingual, packaged)", True),
    Engine("stt", "openai-compatible", "Any OpenAI-compatible transcription endpoint", False),
    Engine("llm", "qwen2.5-1.5b", "Qwen2.5-Coder 1.5B Instruct on llama.cpp (packaged)", True),
    Engine("llm", "qwen2.5-0.5b", "Qwen2.5-Coder 0.5B Instruct on llama.cpp (packaged)", True),
    Engine("llm", "openai-compatible", "Any OpenAI-compatible chat completions endpoint", False),
    Engine("tts", "auto", "Piper for English, espeak-ng for other languages", True),
    Engine("tts", "piper-en-us-joe", "Piper en_US joe-medium (packaged)", True),
    Engine("tts", "espeak-ng", "espeak-ng, 100+ languages", True),
    Engine("tts", "openai-compatible", "Any OpenAI-compatible speech endpoint", False),
)

DEFAULTS: dict[EngineKind, str] = {"stt": "auto", "llm": "qwen2.5-1.5b", "tts": "auto"}


def names(kind: EngineKind) -> list[str]:
    return [e.name for e in ENGINES if e.kind == kind]


def is_known(kind: EngineKind, name: str) -> bool:
    return name in names(kind)
