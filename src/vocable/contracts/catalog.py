"""The engine names an agent may choose. Unknown names are refused when an agent is saved.

The registry that turns these names into livekit-agents objects lives with the worker;
this catalogue is what the control plane validates against, so both stay in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EngineKind = Literal["stt", "llm", "tts", "voice"]


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
    # how the reference voice is applied (an agent's ``voice_model``)
    Engine("voice", "embedded", "Voice matching on the agent's embedded TTS (packaged)", True),
    Engine(
        "voice",
        "clone-server",
        "A self-hosted zero-shot cloning server (OpenAI-compatible speech + voice library)",
        False,
    ),
    Engine("voice", "elevenlabs", "ElevenLabs instant voice cloning", False),
    Engine("voice", "cartesia", "Cartesia voice cloning", False),
)

ENGINE_KINDS: tuple[EngineKind, ...] = ("stt", "llm", "tts", "voice")

DEFAULTS: dict[EngineKind, str] = {
    "stt": "auto",
    "llm": "qwen2.5-1.5b",
    "tts": "auto",
    "voice": "embedded",
}


def names(kind: EngineKind) -> list[str]:
    return [e.name for e in ENGINES if e.kind == kind]


def is_known(kind: EngineKind, name: str) -> bool:
    return name in names(kind)


# Whisper's languages (faster_whisper.tokenizer._LANGUAGE_CODES, kept in step by a unit test)
WHISPER_LANGUAGES: frozenset[str] = frozenset(
    {
        "af",
        "am",
        "ar",
        "as",
        "az",
        "ba",
        "be",
        "bg",
        "bn",
        "bo",
        "br",
        "bs",
        "ca",
        "cs",
        "cy",
        "da",
        "de",
        "el",
        "en",
        "es",
        "et",
        "eu",
        "fa",
        "fi",
        "fo",
        "fr",
        "gl",
        "gu",
        "ha",
        "haw",
        "he",
        "hi",
        "hr",
        "ht",
        "hu",
        "hy",
        "id",
        "is",
        "it",
        "ja",
        "jw",
        "ka",
        "kk",
        "km",
        "kn",
        "ko",
        "la",
        "lb",
        "ln",
        "lo",
        "lt",
        "lv",
        "mg",
        "mi",
        "mk",
        "ml",
        "mn",
        "mr",
        "ms",
        "mt",
        "my",
        "ne",
        "nl",
        "nn",
        "no",
        "oc",
        "pa",
        "pl",
        "ps",
        "pt",
        "ro",
        "ru",
        "sa",
        "sd",
        "si",
        "sk",
        "sl",
        "sn",
        "so",
        "sq",
        "sr",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "tk",
        "tl",
        "tr",
        "tt",
        "uk",
        "ur",
        "uz",
        "vi",
        "yi",
        "yo",
        "yue",
        "zh",
    }
)
_WHISPER_ALIASES = {"nb": "no", "jv": "jw"}


def stt_supports(engine: str, language: str) -> bool:
    """Whether ``engine`` can transcribe the BCP-47 ``language`` (hosted engines: assumed)."""
    if engine == "openai-compatible":
        return True
    base = language.split("-")[0].lower()
    return _WHISPER_ALIASES.get(base, base) in WHISPER_LANGUAGES


def unsupported_language_message(engine: str) -> str:
    return f"the {engine} speech-to-text engine cannot transcribe this language"
