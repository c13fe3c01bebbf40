"""``POST /v1/audio/transcriptions`` on the packaged Whisper models.

16-bit PCM WAV (what livekit's openai plugin uploads) is read with the ``wave`` module;
anything else (other WAV encodings, MP3, FLAC, Ogg, WebM...) is decoded by PyAV, which
faster-whisper ships with. ``prompt``, ``temperature`` and timestamp options are accepted
and ignored; ``language`` defaults to English, since Whisper's own language detection
guessed wrong on short utterances.
"""

from __future__ import annotations

import asyncio
import io
import logging
import wave
from typing import Annotated, Literal

import av.error
import numpy as np
from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse
from faster_whisper import decode_audio
from livekit import rtc
from livekit.agents import APIError

from vocable.inference.deps import EnginesDep
from vocable.inference.errors import OpenAIError, engine_failed

log = logging.getLogger("vocable.inference.transcriptions")

router = APIRouter()

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
"""OpenAI's own limit; about 13 minutes of 16 kHz 16-bit WAV."""
_DECODE_RATE = 16_000


@router.post("/v1/audio/transcriptions", response_model=None)
async def create_transcription(
    engines: EnginesDep,
    file: Annotated[UploadFile, File()],
    model: Annotated[str, Form()],
    language: Annotated[str, Form()] = "en",
    response_format: Annotated[Literal["json", "text", "verbose_json"], Form()] = "json",
) -> JSONResponse | PlainTextResponse:
    """The text spoken in ``file``; ``model`` is ``whisper-1``, ``whisper-tiny-en`` or
    ``whisper-base``, ``language`` an ISO 639-1 code."""
    transcriber = await engines.transcriber(model, language or "en")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise OpenAIError(413, "file is larger than 25 MB", param="file")
    audio = await asyncio.to_thread(decode, data)
    try:
        event = await transcriber.recognize(audio)
    except APIError as e:
        log.warning("transcription failed", exc_info=e)
        raise engine_failed("transcription") from e
    text = event.alternatives[0].text if event.alternatives else ""
    if response_format == "text":
        return PlainTextResponse(text)
    if response_format == "verbose_json":
        return JSONResponse(
            {
                "task": "transcribe",
                "language": language,
                "duration": audio.duration,
                "text": text,
                "segments": [],
            }
        )
    return JSONResponse({"text": text})


def decode(data: bytes) -> rtc.AudioFrame:
    """An uploaded audio file as one int16 frame at its own rate; 400 if unreadable.

    Blocking (decoding compressed audio is CPU work): call it off the event loop.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getsampwidth() == 2:
                pcm = wav.readframes(wav.getnframes())
                channels = wav.getnchannels()
                return rtc.AudioFrame(pcm, wav.getframerate(), channels, len(pcm) // (2 * channels))
    except (wave.Error, EOFError):
        pass  # not a PCM WAV file: let PyAV try
    try:
        samples = decode_audio(io.BytesIO(data), sampling_rate=_DECODE_RATE)
    except (av.error.FFmpegError, ValueError, OSError):
        raise OpenAIError(400, "file is not audio this server can decode", param="file") from None
    pcm16 = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    return rtc.AudioFrame(pcm16.tobytes(), _DECODE_RATE, 1, len(pcm16))
