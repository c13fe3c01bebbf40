"""``POST /v1/audio/speech`` on the packaged Piper voice and on espeak-ng.

Audio is always 24 kHz, 16-bit, mono, the rate OpenAI's ``pcm`` format has and the rate
livekit's openai plugin assumes for every format. ``pcm`` is streamed as it is
synthesised; ``wav`` is sent whole. MP3, Opus, AAC and FLAC are not encoded here: those
requests get WAV with ``Content-Type: audio/wav``, which OpenAI-compatible clients that
read the content type (livekit's plugin does) decode. ``instructions`` and
``stream_format`` are accepted and ignored: the body is always the audio itself.
"""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from livekit import rtc
from livekit.agents import APIError, tts
from pydantic import BaseModel, ConfigDict, Field

from vocable.inference.deps import EnginesDep
from vocable.inference.errors import engine_failed

log = logging.getLogger("vocable.inference.speech")

router = APIRouter()

SAMPLE_RATE = 24_000


class SpeechRequest(BaseModel):
    """The fields of OpenAI's speech request that this server honours."""

    model_config = ConfigDict(extra="ignore")

    model: str
    input: str = Field(min_length=1, max_length=4096)
    voice: str = "alloy"
    """Ignored by ``tts-1`` (one voice); for ``espeak-ng``, a language tag such as ``fr``."""
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(default=1.0, ge=0.25, le=4.0)


@router.post("/v1/audio/speech", response_model=None)
async def create_speech(body: SpeechRequest, engines: EnginesDep) -> Response:
    """``input`` spoken by the engine named by ``model``."""
    speaker = await engines.speaker(body.model, voice=body.voice, speed=body.speed)
    chunks = _pcm_24k(speaker, body.input)
    # The first chunk is awaited here so that an engine failing at once gets an error
    # status, not a truncated 200.
    first = await _first(chunks)
    if body.response_format == "pcm":
        return StreamingResponse(_then(first, chunks), media_type="audio/pcm")
    pcm = first + b"".join([c async for c in _guarded(chunks)])
    return Response(wav_bytes(pcm), media_type="audio/wav")


def wav_bytes(pcm: bytes) -> bytes:
    """24 kHz 16-bit mono PCM in a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return out.getvalue()


async def _pcm_24k(speaker: tts.TTS[Any], text: str) -> AsyncGenerator[bytes, None]:
    """The engine's audio as 24 kHz int16 mono PCM, a sentence or a frame at a time."""
    resampler: rtc.AudioResampler | None = None
    async with speaker.synthesize(text) as stream:
        async for audio in stream:
            frame = audio.frame
            if frame.num_channels != 1:
                raise APIError(f"{speaker.provider} spoke {frame.num_channels} channels")
            if frame.sample_rate == SAMPLE_RATE:
                yield bytes(frame.data)
                continue
            if resampler is None:
                resampler = rtc.AudioResampler(
                    frame.sample_rate, SAMPLE_RATE, quality=rtc.AudioResamplerQuality.HIGH
                )
            for out in resampler.push(frame):
                yield bytes(out.data)
    for out in resampler.flush() if resampler else []:
        yield bytes(out.data)


async def _first(chunks: AsyncIterator[bytes]) -> bytes:
    try:
        return await anext(chunks, b"")
    except APIError as e:
        log.warning("speech synthesis failed", exc_info=e)
        raise engine_failed("speech synthesis") from e


async def _guarded(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    except APIError as e:
        log.warning("speech synthesis failed", exc_info=e)
        raise engine_failed("speech synthesis") from e


async def _then(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    # A failure after the first chunk can only end the body early: the status is sent.
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()  # the client left early: stop the engine now, not at GC
