"""Cloning engines a deployment points at: their REST wire formats, and nothing else.

Two kinds of engine turn a stored reference clip into a voice that speaks like it:

- :class:`CloneServer`: a self-hosted zero-shot cloning server with an OpenAI-compatible
  ``POST /v1/audio/speech`` and a voice library (``POST /v1/voices`` with ``voice_name``
  and ``voice_file``; ``DELETE /v1/voices/{name}``), the interface of the open-source
  Chatterbox TTS API. The clip is registered once under a name; speech names it.
- :class:`ElevenLabs`: instant voice cloning (``POST /v1/voices/add``, multipart
  ``name`` and ``files``) returns a ``voice_id``; speech streams raw PCM from
  ``POST /v1/text-to-speech/{voice_id}/stream?output_format=pcm_24000``.
- :class:`Cartesia`: voice cloning (``POST /voices/clone``, multipart ``clip`` and
  ``name``) returns an ``id``; speech streams raw PCM from ``POST /tts/bytes`` (API
  version ``2026-03-01``, sent as ``Cartesia-Version``).

All are used by the worker (create a voice once per stored voice, then speak with it;
see ``vocable.providers.cloned_tts``) and by the API (delete the engine's copy when an
organisation deletes the voice). The engine's own ids are cached in ``voice_clones``.
Credentials come from settings and go only into request headers: never into logs,
errors or the database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from vocable.settings import Settings

log = logging.getLogger("vocable.voices.engines")

SpeechFormat = Literal["audio/wav", "audio/pcm"]


class CloneEngineError(Exception):
    """The engine refused or failed; ``status`` is its HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def voice_missing(self) -> bool:
        """The engine no longer knows the voice (deleted there, or its library was reset)."""
        return self.status == 404


class CloneEngine(Protocol):
    name: str
    """The ``voice`` engine name in the catalogue (an agent's ``voice_model``)."""
    target: str
    """Base URL: cached voice ids are valid for this endpoint only."""
    sample_rate: int
    speech_format: SpeechFormat

    async def create_voice(self, clip_wav: bytes, *, label: str) -> str:
        """Register ``clip_wav`` (16-bit mono WAV); return the engine's voice id."""
        ...

    async def delete_voice(self, voice_id: str) -> None: ...

    def speech(
        self, voice_id: str, text: str, *, language: str, timeout: float
    ) -> Any:  # an async context manager yielding an open streaming httpx.Response
        ...


def _raise_for(resp: httpx.Response, action: str) -> None:
    if resp.status_code < 400:
        return
    # the body may echo what we sent; only the status goes into the message
    raise CloneEngineError(f"{action} failed with HTTP {resp.status_code}", status=resp.status_code)


@dataclass
class _Http:
    base_url: str
    headers: dict[str, str]
    transport: httpx.AsyncBaseTransport | None = None

    def client(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url.rstrip("/"),
            headers=self.headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=self.transport,
            follow_redirects=False,
        )

    async def send(
        self, action: str, method: str, path: str, *, timeout: float, **kwargs: Any
    ) -> httpx.Response:
        """One request, read whole; a transport failure is a ``CloneEngineError``."""
        async with self.client(timeout) as client:
            try:
                return await client.request(method, path, **kwargs)
            except httpx.HTTPError as e:
                raise CloneEngineError(f"{action} failed: {type(e).__name__}") from e

    async def delete_voice(self, path: str) -> None:
        """Delete a voice at the engine; one it no longer has counts as deleted."""
        resp = await self.send("deleting the voice", "DELETE", path, timeout=15.0)
        if resp.status_code != 404:
            _raise_for(resp, "deleting the voice")

    @asynccontextmanager
    async def stream_speech(
        self,
        path: str,
        *,
        timeout: float,
        voice_missing: Callable[[httpx.Response], bool],
        **kwargs: Any,
    ) -> AsyncIterator[httpx.Response]:
        """POST for speech and yield the open response; an answer for which
        ``voice_missing`` is true raises ``CloneEngineError`` with status 404."""
        async with self.client(timeout) as client:
            async with client.stream("POST", path, **kwargs) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    if voice_missing(resp):
                        raise CloneEngineError("the engine does not know this voice", status=404)
                _raise_for(resp, "speech")
                yield resp


def _created_voice(resp: httpx.Response, field: str) -> tuple[dict[str, Any], str]:
    """The JSON answer to creating a voice, and the engine's voice id in ``field``."""
    _raise_for(resp, "creating the voice")
    try:
        data = resp.json()
    except ValueError as e:
        raise CloneEngineError("creating the voice: the answer was not JSON") from e
    voice_id = data.get(field) if isinstance(data, dict) else None
    if not isinstance(voice_id, str) or not voice_id or len(voice_id) > 255:
        raise CloneEngineError(f"creating the voice: no {field} in the answer")
    return data, voice_id


def _voice_not_found(resp: httpx.Response) -> bool:
    """The clone server's answer for a voice missing from its library."""
    return resp.status_code == 404 or (resp.status_code == 400 and "not found" in resp.text.lower())


def _elevenlabs_voice_not_found(resp: httpx.Response) -> bool:
    return resp.status_code == 404 or (resp.status_code == 400 and "voice_not_found" in resp.text)


class CloneServer:
    """A self-hosted cloning server (Chatterbox TTS API style)."""

    name = "clone-server"
    sample_rate = 24_000
    speech_format: SpeechFormat = "audio/wav"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        model: str = "chatterbox",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = _Http(base_url, headers, transport)
        self._model = model
        self.target = base_url.rstrip("/")

    async def create_voice(self, clip_wav: bytes, *, label: str) -> str:
        name = f"vocable-{label}"
        resp = await self._http.send(
            "registering the voice",
            "POST",
            "/v1/voices",
            timeout=30.0,
            data={"voice_name": name},
            files={"voice_file": (f"{name}.wav", clip_wav, "audio/wav")},
        )
        if resp.status_code == 409 or (resp.status_code == 400 and "exist" in resp.text.lower()):
            # registered before (the name is derived from our voice id): same clip
            return name
        _raise_for(resp, "registering the voice")
        return name

    async def delete_voice(self, voice_id: str) -> None:
        await self._http.delete_voice(f"/v1/voices/{voice_id}")

    @asynccontextmanager
    async def speech(
        self, voice_id: str, text: str, *, language: str, timeout: float
    ) -> AsyncIterator[httpx.Response]:
        body = {
            "model": self._model,
            "input": text,
            "voice": voice_id,
            "response_format": "wav",
        }
        async with self._http.stream_speech(
            "/v1/audio/speech", timeout=timeout, voice_missing=_voice_not_found, json=body
        ) as resp:
            yield resp


class ElevenLabs:
    """ElevenLabs instant voice cloning and streaming speech (raw 24 kHz PCM)."""

    name = "elevenlabs"
    sample_rate = 24_000
    speech_format: SpeechFormat = "audio/pcm"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.elevenlabs.io",
        model: str = "eleven_flash_v2_5",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = _Http(base_url, {"xi-api-key": api_key}, transport)
        self._model = model
        self.target = base_url.rstrip("/")

    async def create_voice(self, clip_wav: bytes, *, label: str) -> str:
        resp = await self._http.send(
            "creating the voice",
            "POST",
            "/v1/voices/add",
            timeout=60.0,
            data={
                "name": f"vocable-{label}",
                "description": "Reference voice added through Vocable",
                "remove_background_noise": "false",
            },
            files={"files": ("reference.wav", clip_wav, "audio/wav")},
        )
        data, voice_id = _created_voice(resp, "voice_id")
        if data.get("requires_verification"):
            raise CloneEngineError("the cloned voice needs verification before it can speak")
        return voice_id

    async def delete_voice(self, voice_id: str) -> None:
        await self._http.delete_voice(f"/v1/voices/{voice_id}")

    @asynccontextmanager
    async def speech(
        self, voice_id: str, text: str, *, language: str, timeout: float
    ) -> AsyncIterator[httpx.Response]:
        body: dict[str, Any] = {"text": text, "model_id": self._model}
        code = language.split("-")[0].lower()
        if code and code != "en":
            body["language_code"] = code
        async with self._http.stream_speech(
            f"/v1/text-to-speech/{voice_id}/stream",
            timeout=timeout,
            voice_missing=_elevenlabs_voice_not_found,
            params={"output_format": f"pcm_{self.sample_rate}"},
            json=body,
        ) as resp:
            yield resp


CARTESIA_VERSION = "2026-03-01"


class Cartesia:
    """Cartesia voice cloning and speech from ``/tts/bytes`` (raw 24 kHz 16-bit PCM)."""

    name = "cartesia"
    sample_rate = 24_000
    speech_format: SpeechFormat = "audio/pcm"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.cartesia.ai",
        model: str = "sonic-3",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}", "Cartesia-Version": CARTESIA_VERSION}
        self._http = _Http(base_url, headers, transport)
        self._model = model
        self.target = base_url.rstrip("/")

    async def create_voice(self, clip_wav: bytes, *, label: str) -> str:
        resp = await self._http.send(
            "creating the voice",
            "POST",
            "/voices/clone",
            timeout=60.0,
            data={
                "name": f"vocable-{label}",
                "description": "Reference voice added through Vocable",
            },
            files={"clip": ("reference.wav", clip_wav, "audio/wav")},
        )
        return _created_voice(resp, "id")[1]

    async def delete_voice(self, voice_id: str) -> None:
        await self._http.delete_voice(f"/voices/{voice_id}")

    @asynccontextmanager
    async def speech(
        self, voice_id: str, text: str, *, language: str, timeout: float
    ) -> AsyncIterator[httpx.Response]:
        body: dict[str, Any] = {
            "model_id": self._model,
            "transcript": text,
            "voice": {"mode": "id", "id": voice_id},
            "output_format": {
                "container": "raw",
                "encoding": "pcm_s16le",
                "sample_rate": self.sample_rate,
            },
            "language": language.split("-")[0].lower() or "en",
        }
        async with self._http.stream_speech(
            "/tts/bytes",
            timeout=timeout,
            voice_missing=lambda resp: resp.status_code == 404,
            json=body,
        ) as resp:
            yield resp


def engine_for(
    name: str, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> CloneEngine | None:
    """The cloning engine ``name`` as this deployment configures it; ``None`` when it is
    not a cloning engine (``embedded``) or is not configured here."""
    if name == "clone-server" and settings.clone_server_url:
        key = settings.clone_server_api_key
        return CloneServer(
            base_url=settings.clone_server_url,
            api_key=key.get_secret_value() if key else None,
            model=settings.clone_server_model,
            transport=transport,
        )
    if name == "elevenlabs" and settings.elevenlabs_api_key:
        return ElevenLabs(
            api_key=settings.elevenlabs_api_key.get_secret_value(),
            base_url=settings.elevenlabs_base_url,
            model=settings.elevenlabs_model,
            transport=transport,
        )
    if name == "cartesia" and settings.cartesia_api_key:
        return Cartesia(
            api_key=settings.cartesia_api_key.get_secret_value(),
            base_url=settings.cartesia_base_url,
            model=settings.cartesia_model,
            transport=transport,
        )
    return None
