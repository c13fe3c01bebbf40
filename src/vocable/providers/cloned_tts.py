"""A livekit-agents TTS that speaks through a cloning engine in a cloned voice.

Each utterance is one streaming HTTP request (``vocable.voices.engines``); audio is
pushed to the call as it arrives. A 404 for the voice (the engine lost it) re-creates
the voice once through ``recreate`` and retries; any other failure is raised as a
livekit ``APIError``, so the call's ``FallbackAdapter`` switches to the embedded voice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    APIConnectionError,
    APIConnectOptions,
    APIStatusError,
    APITimeoutError,
    tts,
    utils,
)

from vocable.voices.engines import CloneEngine, CloneEngineError

Recreate = Callable[[], Awaitable[str]]


class ClonedTTS(tts.TTS[Any]):
    def __init__(
        self,
        *,
        engine: CloneEngine,
        voice_id: str,
        language: str,
        recreate: Recreate | None = None,
        read_timeout: float = 4.0,
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=engine.sample_rate,
            num_channels=1,
        )
        self._engine = engine
        self._voice_id = voice_id
        self._language = language
        self._recreate = recreate
        self._read_timeout = read_timeout
        self._recreating: asyncio.Lock = asyncio.Lock()

    @property
    def engine(self) -> CloneEngine:
        return self._engine

    @property
    def voice_id(self) -> str:
        return self._voice_id

    @property
    def model(self) -> str:
        return self._engine.name

    @property
    def provider(self) -> str:
        return self._engine.name

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ClonedChunkedStream:
        return ClonedChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    async def recreate_voice(self, stale: str) -> bool:
        """Make the voice again after the engine lost ``stale``; once per loss."""
        if self._recreate is None:
            return False
        async with self._recreating:
            if self._voice_id == stale:  # not already re-created by a concurrent utterance
                self._voice_id = await self._recreate()
        return True


class ClonedChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: ClonedTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._cloned = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        engine = self._cloned.engine
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=engine.sample_rate,
            num_channels=1,
            mime_type=engine.speech_format,
        )
        for attempt in range(2):
            voice_id = self._cloned.voice_id
            try:
                async with engine.speech(
                    voice_id,
                    self.input_text,
                    language=self._cloned._language,
                    timeout=min(self._conn_options.timeout, self._cloned._read_timeout),
                ) as resp:
                    async for chunk in resp.aiter_bytes():
                        if chunk:
                            output_emitter.push(chunk)
                output_emitter.flush()
                return
            except CloneEngineError as e:
                if e.voice_missing and attempt == 0:
                    try:
                        if await self._cloned.recreate_voice(voice_id):
                            continue
                    except (CloneEngineError, httpx.HTTPError) as again:
                        raise APIStatusError(
                            f"re-creating the voice failed: {type(again).__name__}",
                            status_code=404,
                            retryable=False,
                        ) from again
                raise APIStatusError(
                    str(e), status_code=e.status or -1, retryable=e.status >= 500
                ) from e
            except httpx.TimeoutException as e:
                raise APITimeoutError(f"{engine.name} speech timed out") from e
            except httpx.HTTPError as e:
                raise APIConnectionError(f"{engine.name} speech failed: {type(e).__name__}") from e
