"""Local stand-ins for cloning engines, speaking their documented wire formats over HTTP.

No cloning model runs here (none ships in a package), so the servers answer with a tone
instead of cloned speech; what they check, and record for the tests, is everything our
request code sends: paths, headers, form fields, the uploaded clip, the JSON bodies.

- :func:`chatterbox_app`: the Chatterbox TTS API's voice library and OpenAI-compatible
  speech (``POST /v1/voices``, ``DELETE /v1/voices/{name}``, ``POST /v1/audio/speech``
  answering WAV).
- :func:`elevenlabs_app`: ElevenLabs instant voice cloning and streaming speech
  (``POST /v1/voices/add``, ``DELETE /v1/voices/{id}``,
  ``POST /v1/text-to-speech/{id}/stream?output_format=pcm_24000`` answering raw PCM).
- :func:`cartesia_app`: Cartesia voice cloning and speech, API version 2026-03-01
  (``POST /voices/clone``, ``DELETE /voices/{id}``, ``POST /tts/bytes`` answering raw PCM).
"""

from __future__ import annotations

import io
import secrets
import threading
import time
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.support.net import free_port
from vocable.voices.normalise import SAMPLE_RATE, to_wav

RATE = SAMPLE_RATE  # what to_wav writes
TONE_HZ = 180.0


@dataclass
class EngineState:
    """What a fake engine holds and what it was sent."""

    api_key: str | None = None
    voices: dict[str, bytes] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_speech: int | None = None
    """When set, speech answers this HTTP status (the engine is broken)."""

    def calls(self, method: str, path_prefix: str) -> list[dict[str, Any]]:
        return [
            r for r in self.requests if r["method"] == method and r["path"].startswith(path_prefix)
        ]

    def spoken(self) -> list[str]:
        return [r["text"] for r in self.requests if "text" in r]


def tone(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    out: np.ndarray = (0.3 * np.sin(2 * np.pi * TONE_HZ * t) * 32767).astype("<i2")
    return out


def _seconds_for(text: str) -> float:
    return min(4.0, 0.4 + 0.05 * len(text))


def wav_info(data: bytes) -> tuple[int, int, float]:
    """(sample rate, channels, seconds) of a WAV; raises ``wave.Error`` if it is not one."""
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), w.getnchannels(), w.getnframes() / w.getframerate()


async def _chunks(data: bytes, size: int = 4800) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):  # streamed in pieces, as the real engines do
        yield data[i : i + size]


def chatterbox_app(state: EngineState) -> FastAPI:
    app = FastAPI()

    def authorised(request: Request) -> bool:
        return state.api_key is None or (
            request.headers.get("authorization") == f"Bearer {state.api_key}"
        )

    def denied() -> JSONResponse:
        return JSONResponse({"error": {"message": "Invalid API key"}}, status_code=401)

    @app.post("/v1/voices")
    async def upload(
        request: Request,
        voice_name: Annotated[str, Form()],
        voice_file: Annotated[UploadFile, File()],
    ) -> Response:
        clip = await voice_file.read()
        state.requests.append(
            {"method": "POST", "path": "/v1/voices", "voice_name": voice_name, "clip": clip}
        )
        if not authorised(request):
            return denied()
        if voice_name in state.voices:
            return JSONResponse(
                {"error": {"message": f"Voice '{voice_name}' already exists"}}, status_code=400
            )
        wav_info(clip)  # a clip that is not a WAV is a 500 here: the test sees it
        state.voices[voice_name] = clip
        return JSONResponse({"message": "Voice uploaded", "voice": {"name": voice_name}}, 201)

    @app.delete("/v1/voices/{name}")
    async def delete(request: Request, name: str) -> Response:
        state.requests.append({"method": "DELETE", "path": f"/v1/voices/{name}"})
        if not authorised(request):
            return denied()
        if state.voices.pop(name, None) is None:
            return JSONResponse({"error": {"message": "Voice not found"}}, status_code=404)
        return JSONResponse({"message": "deleted"})

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        body = await request.json()
        state.requests.append(
            {
                "method": "POST",
                "path": "/v1/audio/speech",
                "text": body.get("input"),
                "voice": body.get("voice"),
                "body": body,
            }
        )
        if not authorised(request):
            return denied()
        if state.fail_speech:
            return JSONResponse({"error": {"message": "engine down"}}, state.fail_speech)
        if body.get("voice") not in state.voices:
            return JSONResponse(
                {"error": {"message": f"Voice '{body.get('voice')}' not found"}}, status_code=404
            )
        wav = to_wav(tone(_seconds_for(body.get("input") or "")) / 32767)
        return StreamingResponse(_chunks(wav), media_type="audio/wav")

    return app


def elevenlabs_app(state: EngineState) -> FastAPI:
    app = FastAPI()

    def authorised(request: Request) -> bool:
        return request.headers.get("xi-api-key") == state.api_key

    def denied() -> JSONResponse:
        return JSONResponse(
            {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, 401
        )

    @app.post("/v1/voices/add")
    async def add(
        request: Request,
        name: Annotated[str, Form()],
        files: Annotated[list[UploadFile], File()],
        description: Annotated[str | None, Form()] = None,
        remove_background_noise: Annotated[str | None, Form()] = None,
    ) -> Response:
        clips = [await f.read() for f in files]
        state.requests.append(
            {
                "method": "POST",
                "path": "/v1/voices/add",
                "name": name,
                "description": description,
                "clip": clips[0] if clips else b"",
                "files": len(clips),
            }
        )
        if not authorised(request):
            return denied()
        voice_id = secrets.token_hex(10)
        state.voices[voice_id] = clips[0]
        return JSONResponse({"voice_id": voice_id, "requires_verification": False})

    @app.delete("/v1/voices/{voice_id}")
    async def delete(request: Request, voice_id: str) -> Response:
        state.requests.append({"method": "DELETE", "path": f"/v1/voices/{voice_id}"})
        if not authorised(request):
            return denied()
        if state.voices.pop(voice_id, None) is None:
            return JSONResponse({"detail": {"status": "voice_not_found"}}, 404)
        return JSONResponse({"status": "ok"})

    @app.post("/v1/text-to-speech/{voice_id}/stream")
    async def stream(request: Request, voice_id: str) -> Response:
        body = await request.json()
        state.requests.append(
            {
                "method": "POST",
                "path": f"/v1/text-to-speech/{voice_id}/stream",
                "text": body.get("text"),
                "voice": voice_id,
                "body": body,
                "output_format": request.query_params.get("output_format"),
            }
        )
        if not authorised(request):
            return denied()
        if state.fail_speech:
            return JSONResponse({"detail": {"status": "server_error"}}, state.fail_speech)
        if voice_id not in state.voices:
            return JSONResponse(
                {"detail": {"status": "voice_not_found", "message": "not found"}}, 404
            )
        if request.query_params.get("output_format") != "pcm_24000":
            return JSONResponse({"detail": {"status": "invalid_output_format"}}, 400)
        pcm = tone(_seconds_for(body.get("text") or "")).tobytes()
        return StreamingResponse(_chunks(pcm), media_type="audio/pcm")

    return app


def cartesia_app(state: EngineState) -> FastAPI:
    """Cartesia's documented API, version 2026-03-01: ``Authorization: Bearer`` and the
    ``Cartesia-Version`` header on every request."""
    app = FastAPI()

    def refused(request: Request) -> JSONResponse | None:
        if request.headers.get("cartesia-version") != "2026-03-01":
            return JSONResponse({"error": "Cartesia-Version header is required"}, 400)
        if request.headers.get("authorization") != f"Bearer {state.api_key}":
            return JSONResponse({"error": "Invalid API key"}, 401)
        return None

    @app.post("/voices/clone")
    async def clone(
        request: Request,
        clip: Annotated[UploadFile, File()],
        name: Annotated[str, Form()],
        description: Annotated[str | None, Form()] = None,
    ) -> Response:
        data = await clip.read()
        state.requests.append(
            {"method": "POST", "path": "/voices/clone", "name": name, "clip": data}
        )
        if (answer := refused(request)) is not None:
            return answer
        voice_id = str(uuid.uuid4())
        state.voices[voice_id] = data
        return JSONResponse({"id": voice_id, "name": name, "description": description or ""})

    @app.delete("/voices/{voice_id}")
    async def delete(request: Request, voice_id: str) -> Response:
        state.requests.append({"method": "DELETE", "path": f"/voices/{voice_id}"})
        if (answer := refused(request)) is not None:
            return answer
        if state.voices.pop(voice_id, None) is None:
            return JSONResponse({"error": "Voice not found"}, 404)
        return Response(status_code=204)

    @app.post("/tts/bytes")
    async def tts_bytes(request: Request) -> Response:
        body = await request.json()
        voice = body.get("voice") or {}
        state.requests.append(
            {
                "method": "POST",
                "path": "/tts/bytes",
                "text": body.get("transcript"),
                "voice": voice.get("id"),
                "body": body,
            }
        )
        if (answer := refused(request)) is not None:
            return answer
        if state.fail_speech:
            return JSONResponse({"error": "server error"}, state.fail_speech)
        if voice.get("mode") != "id" or voice.get("id") not in state.voices:
            return JSONResponse({"error": "Voice not found"}, 404)
        fmt = body.get("output_format") or {}
        if (fmt.get("container"), fmt.get("encoding"), fmt.get("sample_rate")) != (
            "raw",
            "pcm_s16le",
            RATE,
        ):
            return JSONResponse({"error": "unsupported output_format"}, 400)
        pcm = tone(_seconds_for(body.get("transcript") or "")).tobytes()
        return StreamingResponse(_chunks(pcm), media_type="audio/pcm")

    return app


@dataclass
class RunningEngine:
    url: str
    state: EngineState


@contextmanager
def running_engine(app: FastAPI, state: EngineState) -> Iterator[RunningEngine]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/docs", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise RuntimeError("fake engine did not start")
    try:
        yield RunningEngine(url=url, state=state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
