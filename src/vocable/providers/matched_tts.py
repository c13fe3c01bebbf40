"""An embedded TTS engine that speaks closer to a session's reference voice.

:class:`MatchedTTS` wraps the engine the call would use and passes every utterance's
audio through :class:`~vocable.voices.matching.VoiceMatcher` as it arrives: audio that
comes in one burst (a sentence from Piper or eSpeak) is transformed as one chunk, so
the first sentence plays while the next is still being synthesised, and the added
latency is the transform's own compute time (see ``bench/voice_matching.py``).

:func:`enrolled_tts` finds or computes the enrolment for (voice, engine), once per
voice and engine: in memory, then on disk, else by fetching the clip and measuring it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from livekit import rtc
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, APIError, tts, utils

from vocable.voices.enrolment import BASE_SAMPLE_TEXT, EnrolmentCache, engine_key, enrol
from vocable.voices.matching import Floats, MatchingParams, VoiceMatcher

log = logging.getLogger(__name__)

MATCHABLE_PROVIDERS = frozenset({"piper", "espeak-ng"})
"""Embedded engines whose voice is matched; hosted and cloning engines have their own."""

BURST_GAP_SECONDS = 0.03
"""Frames arriving within this of each other belong to one chunk (one engine push)."""


def _floats(frame: rtc.AudioFrame) -> Floats:
    pcm = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
    out: Floats = (pcm.mean(axis=1) / 32768.0).astype(np.float32)
    return out


def _pcm(samples: Floats) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).round().astype("<i2").tobytes()


class MatchedTTS(tts.TTS[Any]):
    """``base`` with an enrolled voice-matching transform on every utterance."""

    def __init__(self, *, base: tts.TTS[Any], params: MatchingParams) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=base.sample_rate,
            num_channels=1,
        )
        self._base = base
        self._params = params

    @property
    def base(self) -> tts.TTS[Any]:
        return self._base

    @property
    def params(self) -> MatchingParams:
        return self._params

    @property
    def model(self) -> str:
        return self._base.model

    @property
    def provider(self) -> str:
        return self._base.provider

    def prewarm(self) -> None:
        self._base.prewarm()

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> MatchedChunkedStream:
        return MatchedChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    async def aclose(self) -> None:
        await self._base.aclose()


class MatchedChunkedStream(tts.ChunkedStream):
    """One utterance: the base engine's audio, transformed burst by burst."""

    def __init__(
        self, *, tts: MatchedTTS, input_text: str, conn_options: APIConnectOptions
    ) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._matched = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=self._matched.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        matcher: VoiceMatcher | None = VoiceMatcher(
            self._matched.params, sample_rate=self._matched.sample_rate
        )
        frames: asyncio.Queue[Floats | None] = asyncio.Queue()
        # retries belong to this stream (our base class), not to the inner one too
        inner_options = dataclasses.replace(self._conn_options, max_retry=0)

        async def _read() -> None:
            try:
                async with self._matched.base.synthesize(
                    self.input_text, conn_options=inner_options
                ) as stream:
                    async for audio in stream:
                        frames.put_nowait(_floats(audio.frame))
            finally:
                frames.put_nowait(None)

        reader = asyncio.create_task(_read())
        try:
            done = False
            while not done:
                first = await frames.get()
                burst = [] if first is None else [first]
                done = first is None
                while not done:  # the rest of this burst
                    try:
                        more = await asyncio.wait_for(frames.get(), BURST_GAP_SECONDS)
                    except TimeoutError:
                        break
                    if more is None:
                        done = True
                    else:
                        burst.append(more)
                if burst:
                    chunk = np.concatenate(burst)
                    out = chunk if matcher is None else await self._transform(matcher, chunk)
                    if out is None:  # the transform failed: the rest goes out unchanged
                        matcher, out = None, chunk
                    if len(out):
                        output_emitter.push(_pcm(out))
            await reader  # raises the base engine's error, if any
            if matcher is not None:
                output_emitter.push(_pcm(await asyncio.to_thread(matcher.flush)))
        finally:
            await utils.aio.cancel_and_wait(reader)
        output_emitter.flush()

    @staticmethod
    async def _transform(matcher: VoiceMatcher, chunk: Floats) -> Floats | None:
        try:
            return await asyncio.to_thread(matcher.process, chunk)
        except (RuntimeError, ValueError):  # Praat refused this audio; speak it unmatched
            log.warning("voice matching failed on a chunk; the utterance goes on unmatched")
            return None


BaseSample = tuple[Floats, int]
_base_samples: dict[str, BaseSample] = {}
_memory: dict[tuple[str, str], MatchingParams] = {}


def forget_voice(sha256: str) -> None:
    """Drop the in-memory enrolments of a deleted voice."""
    for key in [k for k in _memory if k[0] == sha256]:
        del _memory[key]


async def base_sample(base: tts.TTS[Any]) -> BaseSample:
    """``BASE_SAMPLE_TEXT`` spoken by ``base``; once per engine per process."""
    key = engine_key(base.provider, base.model)
    sample = _base_samples.get(key)
    if sample is None:
        async with base.synthesize(BASE_SAMPLE_TEXT) as stream:
            frame = await stream.collect()
        sample = (_floats(frame), frame.sample_rate)
        _base_samples[key] = sample
    return sample


async def enrolled_tts(
    base: tts.TTS[Any],
    *,
    sha256: str,
    fetch_clip: Callable[[], Awaitable[bytes]],
    cache: EnrolmentCache,
) -> MatchedTTS:
    """``base`` matched to the voice ``sha256``; the enrolment is computed at most once
    per (voice, engine) and kept in memory and in ``cache``.

    Raises whatever ``fetch_clip`` raises, or ``ValueError`` for an unusable clip.
    """
    engine = engine_key(base.provider, base.model)
    params = _memory.get((sha256, engine)) or await asyncio.to_thread(cache.load, sha256, engine)
    if params is None:
        clip = await fetch_clip()
        sample, rate = await base_sample(base)
        params = await asyncio.to_thread(enrol, clip, sample, rate)
        await asyncio.to_thread(cache.save, sha256, engine, params)
        log.info(
            "enrolled a reference voice",
            extra={"engine": engine, "f0": params.target_f0, "formants": params.formant_ratio},
        )
    _memory[(sha256, engine)] = params
    return MatchedTTS(base=base, params=params)


class ReferenceClip:
    """The session's normalised clip from the API (``/internal/voices/<sha256>``), fetched
    with the worker's credential through ``http``, at most once per call: enrolment and a
    cloning engine both need it."""

    def __init__(self, http: httpx.AsyncClient, path: str) -> None:
        self._http = http
        self.path = path
        self._data: bytes | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> bytes:
        async with self._lock:
            if self._data is None:
                resp = await self._http.get(self.path)
                resp.raise_for_status()
                self._data = resp.content
            return self._data


async def session_tts(
    base: tts.TTS[Any],
    *,
    sha256: str | None,
    clip: ReferenceClip | None,
    cache_root: Path,
) -> tts.TTS[Any]:
    """The call's TTS: ``base`` matched to the session's reference voice when it has one
    and ``base`` is an embedded engine; ``base`` itself otherwise, or when enrolling
    fails (the call goes on in the default voice, with a warning in the log).

    ``clip`` is fetched only when the voice is not enrolled yet; ``cache_root`` holds
    enrolments by voice hash.
    """
    if not sha256 or clip is None or base.provider not in MATCHABLE_PROVIDERS:
        return base

    try:
        return await enrolled_tts(
            base, sha256=sha256, fetch_clip=clip.get, cache=EnrolmentCache(root=cache_root)
        )
    # RuntimeError: Praat's errors (parselmouth.PraatError) while measuring the clip
    except (httpx.HTTPError, ValueError, OSError, RuntimeError, APIError) as e:
        log.warning("voice matching is off for this call: %s", type(e).__name__)
        return base
