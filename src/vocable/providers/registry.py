"""Engine names (``vocable.contracts.catalog``) → livekit-agents STT, LLM, TTS and VAD objects.

Embedded models load once per worker process and are shared by every call it runs;
hosted engines are configured per process from settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from livekit.agents import llm, stt, tts, vad
from livekit.agents.vad import VAD

from vocable.contracts.sessions import WorkerSessionConfig
from vocable.settings import Settings

SESSION_VAD_SILENCE = 0.45
"""Silence (s) after which the session's VAD says the caller stopped: the turn can end."""


class EngineUnavailableError(RuntimeError):
    """An engine was chosen that this worker cannot provide (say why and how to fix it)."""


@dataclass(frozen=True)
class Engines:
    stt: stt.STT[Any]
    llm: llm.LLM[Any]
    tts: tts.TTS[Any]
    vad: vad.VAD


@dataclass(frozen=True)
class LlmOptions:
    """A call's sampling settings (the agent's conversation settings)."""

    temperature: float = 0.4
    max_tokens: int = 160


def is_english(language: str) -> bool:
    return language.split("-")[0].lower() == "en"


class EngineFactory:
    """Builds the engines of one call; heavy models are loaded at most once per process."""

    def __init__(self, *, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings

    @cached_property
    def vad(self) -> vad.VAD:
        from livekit.plugins import silero

        return silero.VAD.load(min_silence_duration=SESSION_VAD_SILENCE, activation_threshold=0.5)

    @cached_property
    def phrase_vad(self) -> VAD:
        """The embedded recogniser's own VAD: a short silence ends a phrase (see
        ``whisper_stream``); the session's ``vad`` still decides when the turn ends."""
        from livekit.plugins import silero

        from vocable.providers.whisper_stream import PHRASE_SILENCE

        return silero.VAD.load(min_silence_duration=PHRASE_SILENCE, activation_threshold=0.5)

    def stt_for(self, name: str, language: str) -> stt.STT[Any]:
        if name == "openai-compatible":
            from livekit.plugins import openai

            return openai.STT(
                model=self._settings.openai_stt_model,
                language=language.split("-")[0],
                **self._openai_client_args(),
            )
        from vocable.providers import whisper_stream, whisper_stt

        model_name: whisper_stt.WhisperModelName
        if name == "auto":
            model_name = whisper_stt.whisper_model_for_language(language)
        elif name == "whisper-tiny-en":
            # a session may override the language; tiny.en cannot hear anything else
            model_name = "tiny.en" if is_english(language) else "base"
        elif name == "whisper-base":
            model_name = "base"
        else:
            raise EngineUnavailableError(f"unknown stt engine {name!r}")
        with self._lock:
            model = whisper_stt.load_whisper(
                model_name,
                cache_dir=self._settings.cache_dir,
                cpu_threads=self._settings.stt_threads,
            )
        # greedy for English (tiny.en: same words as a beam of 5 on our recordings, 3x
        # sooner); a beam for the multilingual model, where greedy garbled espeak Spanish
        # ("¡Oga! ¡Qué osame velo..." against "Ahora, quiero saber el horario...")
        beam = 1 if model_name == "tiny.en" else 5
        whisper = whisper_stt.WhisperSTT(model=model, language=language, beam_size=beam)
        return whisper_stream.StreamingWhisperSTT(whisper=whisper, vad=self.phrase_vad)

    def llm_for(self, name: str, options: LlmOptions | None = None) -> llm.LLM[Any]:
        options = options or LlmOptions()
        if name == "openai-compatible":
            from livekit.plugins import openai

            return openai.LLM(
                model=self._settings.openai_llm_model,
                temperature=options.temperature,
                max_completion_tokens=options.max_tokens,
                **self._openai_client_args(),
            )
        from vocable.providers import gguf_weights, llama_llm

        with self._lock:
            path = gguf_weights.assemble_gguf(name, cache_dir=self._settings.cache_dir)
            # each call its own KV cache (up to llm_contexts), so calls never evict each
            # other's cached conversation; given back when the call's LLM is closed
            model, release = llama_llm.lease_llama(
                path,
                n_threads=self._settings.llm_threads,
                contexts=self._settings.llm_contexts,
            )
        return llama_llm.LlamaLLM(
            model=model,
            model_name=name,
            release=release,
            max_tokens=options.max_tokens,
            temperature=options.temperature,
        )

    def tts_for(self, name: str, language: str) -> tts.TTS[Any]:
        if name == "openai-compatible":
            from livekit.plugins import openai

            return openai.TTS(
                model=self._settings.openai_tts_model,
                voice=self._settings.openai_tts_voice,
                **self._openai_client_args(),
            )
        if name == "piper-en-us-joe" or (name == "auto" and is_english(language)):
            from vocable.providers import piper_tts

            with self._lock:
                voice = piper_tts.load_piper_voice(threads=self._settings.tts_threads)
            return piper_tts.PiperTTS(voice=voice)
        if name in ("espeak-ng", "auto"):
            from vocable.providers.espeak_tts import EspeakTTS

            return EspeakTTS(language=language)
        raise EngineUnavailableError(f"unknown tts engine {name!r}")

    def build(self, config: WorkerSessionConfig) -> Engines:
        return self.build_for(
            stt_engine=config.stt_engine,
            llm_engine=config.llm_engine,
            tts_engine=config.tts_engine,
            language=config.language,
            llm_options=LlmOptions(
                temperature=config.conversation.temperature,
                max_tokens=config.conversation.max_reply_tokens,
            ),
        )

    def build_for(
        self,
        *,
        stt_engine: str,
        llm_engine: str,
        tts_engine: str,
        language: str,
        llm_options: LlmOptions | None = None,
    ) -> Engines:
        return Engines(
            stt=self.stt_for(stt_engine, language),
            llm=self.llm_for(llm_engine, llm_options),
            tts=self.tts_for(tts_engine, language),
            vad=self.vad,
        )

    def prewarm(self, *, llm_engine: str, language: str = "en") -> None:
        """Load the default engines before the first call, so it is answered at once
        (with as many embedded LLM caches as calls keep their own: ``llm_contexts``)."""
        held = [
            self.build_for(
                stt_engine="auto", llm_engine=llm_engine, tts_engine="auto", language=language
            )
            for _ in range(self._settings.llm_contexts)
        ]
        del held  # built and given back: the next calls lease them

    def _openai_client_args(self) -> dict[str, Any]:
        s = self._settings
        if not s.openai_base_url:
            raise EngineUnavailableError(
                "this agent uses an openai-compatible engine: set VOCABLE_OPENAI_BASE_URL "
                "(and VOCABLE_OPENAI_API_KEY) for the worker"
            )
        key = s.openai_api_key.get_secret_value() if s.openai_api_key else "not-needed"
        return {"base_url": s.openai_base_url, "api_key": key}
