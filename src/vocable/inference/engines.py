"""The embedded engines behind each model id, loaded on first use and kept for the process.

The engines are the worker's own livekit-agents objects (``LlamaLLM``, ``WhisperSTT``,
``PiperTTS``, ``EspeakTTS``), so the server shares their per-model locks, their prompt
fitting and their filters against Whisper's hallucinations instead of repeating them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

from livekit.agents import tts
from llama_cpp import Llama

from vocable.inference.errors import OpenAIError, engine_unavailable, model_not_found
from vocable.providers import gguf_weights, llama_llm, piper_tts, whisper_stt
from vocable.providers.espeak_tts import EspeakMissingError, EspeakTTS
from vocable.settings import Settings

ModelKind = Literal["chat", "transcription", "speech"]


@dataclass(frozen=True)
class ModelId:
    """One id a client may pass as ``model``."""

    id: str
    kind: ModelKind


# "whisper-1" and "tts-1" are the ids OpenAI clients default to (and Vocable's own
# ``openai_stt_model``/``openai_tts_model`` settings), so they work without configuration.
CHAT_MODELS = tuple(gguf_weights.MODELS)
TRANSCRIPTION_MODELS = ("whisper-1", "whisper-tiny-en", "whisper-base")
SPEECH_MODELS = ("tts-1", "piper-en-us-joe", "espeak-ng")

MODEL_IDS: tuple[ModelId, ...] = (
    *(ModelId(m, "chat") for m in CHAT_MODELS),
    *(ModelId(m, "transcription") for m in TRANSCRIPTION_MODELS),
    *(ModelId(m, "speech") for m in SPEECH_MODELS),
)


def whisper_model_for(model: str, language: str) -> whisper_stt.WhisperModelName:
    """The Whisper model behind a transcription id; ``whisper-1`` picks by language."""
    if model == "whisper-1":
        return whisper_stt.whisper_model_for_language(language)
    if model == "whisper-tiny-en":
        return "tiny.en"
    if model == "whisper-base":
        return "base"
    raise model_not_found(model, "transcription")


class InferenceEngines:
    """Loads each engine once, off the event loop, with the settings' thread counts."""

    def __init__(self, *, settings: Settings) -> None:
        """Engines load from ``settings.cache_dir`` with ``*_threads`` threads each."""
        self._settings = settings
        self._chat: dict[str, llama_llm.LlamaLLM] = {}
        self.created = int(time.time())
        """When the server started: the ``created`` of every model in ``GET /v1/models``."""

    def check_chat_model(self, model: str) -> None:
        """Raise 404 unless ``model`` is a chat model id (cheap: nothing is loaded)."""
        if model not in CHAT_MODELS:
            raise model_not_found(model, "chat")

    async def chat(self, model: str) -> llama_llm.LlamaLLM:
        """The language engine for ``model``, loading its GGUF file on first use."""
        self.check_chat_model(model)
        engine = self._chat.get(model)
        if engine is None:
            try:
                llama = await asyncio.to_thread(self._load_llama, model)
            except gguf_weights.WeightsError as e:
                raise engine_unavailable(e) from e
            # Two first requests may both get here: they wrap the same Llama, which is
            # loaded once per process and whose generation lock is shared, so either wins.
            engine = self._chat.setdefault(model, llama_llm.LlamaLLM(model=llama, model_name=model))
        return engine

    def _load_llama(self, model: str) -> Llama:
        path = gguf_weights.assemble_gguf(model, cache_dir=self._settings.cache_dir)
        return llama_llm.load_llama(path, n_threads=self._settings.llm_threads)

    async def transcriber(self, model: str, language: str) -> whisper_stt.WhisperSTT:
        """A Whisper engine for ``model`` in ``language`` (BCP-47); 400 if it cannot."""
        name = whisper_model_for(model, language)
        try:
            whisper = await asyncio.to_thread(
                whisper_stt.load_whisper,
                name,
                cache_dir=self._settings.cache_dir,
                cpu_threads=self._settings.stt_threads,
            )
        except whisper_stt.WhisperWeightsError as e:
            raise engine_unavailable(e) from e
        try:
            return whisper_stt.WhisperSTT(model=whisper, language=language)
        except ValueError as e:
            raise OpenAIError(400, str(e), param="language") from None

    async def speaker(self, model: str, *, voice: str, speed: float) -> tts.TTS[Any]:
        """A speech engine for ``model``; ``voice`` is a language tag for ``espeak-ng``."""
        if model in ("tts-1", "piper-en-us-joe"):
            try:
                piper = await asyncio.to_thread(
                    piper_tts.load_piper_voice, threads=self._settings.tts_threads
                )
            except piper_tts.PiperVoiceMissingError as e:
                raise engine_unavailable(e) from e
            return piper_tts.PiperTTS(voice=piper, speed=speed)
        if model == "espeak-ng":
            try:
                # Blocking on first use: lists espeak-ng's voices with a subprocess.
                return await asyncio.to_thread(_espeak, voice, speed)
            except EspeakMissingError as e:
                raise engine_unavailable(e) from e
        raise model_not_found(model, "speech")


def _espeak(language: str, speed: float) -> EspeakTTS:
    return EspeakTTS(language=language, speed=speed)
