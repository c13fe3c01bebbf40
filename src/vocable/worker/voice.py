"""The call's voice: embedded matching, or a cloning engine with the embedded voice behind it.

``voice_model`` (the session's, else the agent's, else ``VOCABLE_DEFAULT_VOICE_MODEL``):

- ``embedded``: the agent's TTS matched to the reference (``matched_tts.session_tts``).
- a cloning engine (``clone-server``, ``elevenlabs``, ``cartesia``): the engine's voice
  made from the reference (created once per stored voice and endpoint, its id cached by the API),
  wrapped in a ``FallbackAdapter`` whose second engine is the embedded voice. An engine
  that is not configured, cannot make the voice in time, or fails mid-call is never a
  silent dead call: the caller hears the embedded voice, the worker logs a warning, and
  the browser gets ``voice_fallback`` on ``voice.events`` (``voice_restored`` when the
  engine answers again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from livekit.agents import tts
from livekit.agents.tts.fallback_adapter import AvailabilityChangedEvent

from vocable.contracts.sessions import WorkerSessionConfig
from vocable.providers.cloned_tts import ClonedTTS
from vocable.providers.matched_tts import ReferenceClip, session_tts
from vocable.settings import Settings
from vocable.voices.engines import CloneEngine, CloneEngineError, engine_for
from vocable.worker import protocol
from vocable.worker.channel import WorkerChannel

log = logging.getLogger(__name__)

Publish = Callable[[bytes], None]


@dataclass
class CallVoice:
    """The TTS of one call, and the voice events the browser should get."""

    tts: tts.TTS[Any]
    voice_model: str
    cloned: bool = False
    """Whether the call speaks through a cloning engine (while it is available)."""
    fallback_reason: str | None = None
    _pending: list[bytes] = field(default_factory=list)
    _publish: Publish | None = None

    def attach(self, publish: Publish) -> None:
        """Send events through ``publish`` from now on, starting with those held back."""
        self._publish = publish
        pending, self._pending = self._pending, []
        for payload in pending:
            publish(payload)

    def emit(self, payload: bytes) -> None:
        if self._publish is None:
            self._pending.append(payload)
        else:
            self._publish(payload)

    def fell_back(self, reason: str) -> None:
        self.fallback_reason = reason
        self.emit(protocol.event("voice_fallback", voice_model=self.voice_model, reason=reason))

    def usage(self) -> dict[str, Any]:
        return {
            "voice_model": self.voice_model,
            "cloned": self.cloned,
            "fallback": self.fallback_reason,
        }


def voice_model_of(config: WorkerSessionConfig, settings: Settings) -> str:
    return config.voice_model or settings.default_voice_model


async def call_voice(
    config: WorkerSessionConfig,
    *,
    base: tts.TTS[Any],
    channel: WorkerChannel,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> CallVoice:
    """The voice this call speaks in (see the module docstring)."""
    model = voice_model_of(config, settings)
    path = config.reference_audio_path
    clip = ReferenceClip(channel.http, path) if path else None
    embedded = await session_tts(
        base,
        sha256=config.reference_audio_sha256,
        clip=clip,
        cache_root=settings.cache_dir / "voices",
    )
    voice = CallVoice(tts=embedded, voice_model=model)
    if model == "embedded" or not config.reference_audio_sha256 or clip is None:
        return voice  # nothing to clone: the agent has no reference voice
    engine = engine_for(model, settings, transport=transport)
    if engine is None:
        log.warning(
            "voice engine %s is not configured on this worker; speaking in the embedded voice",
            model,
        )
        voice.fell_back("not_configured")
        return voice
    maker = _VoiceMaker(engine=engine, config=config, channel=channel, clip=clip)
    try:
        voice_id = await asyncio.wait_for(maker.voice_id(), settings.voice_clone_timeout_seconds)
    except (CloneEngineError, httpx.HTTPError, TimeoutError) as e:
        log.warning(
            "voice engine %s could not make this call's voice (%s); speaking in the embedded voice",
            model,
            e if isinstance(e, CloneEngineError) else type(e).__name__,
        )
        voice.fell_back("clone_failed")
        return voice
    cloned = ClonedTTS(
        engine=engine,
        voice_id=voice_id,
        language=config.language,
        recreate=maker.recreate,
        read_timeout=settings.voice_engine_read_timeout_seconds,
    )
    # no retries: a failed sentence goes to the embedded voice at once, and the adapter's
    # recovery probe brings the engine back when it answers again
    adapter = tts.FallbackAdapter([cloned, embedded], max_retry_per_tts=0)

    def _on_availability(ev: AvailabilityChangedEvent) -> None:
        if ev.tts is not cloned:
            return
        if ev.available:
            log.info("voice engine %s is back", model)
            voice.fallback_reason = None
            voice.emit(protocol.event("voice_restored", voice_model=model))
        else:
            log.warning("voice engine %s failed mid-call; speaking in the embedded voice", model)
            voice.fell_back("unavailable")

    adapter.on("tts_availability_changed", _on_availability)
    voice.tts = adapter
    voice.cloned = True
    return voice


@dataclass
class _VoiceMaker:
    """Finds or makes the engine's voice for the session's reference (cached by the API)."""

    engine: CloneEngine
    config: WorkerSessionConfig
    channel: WorkerChannel
    clip: ReferenceClip

    async def voice_id(self) -> str:
        cached = await self._cached()
        return cached if cached is not None else await self.recreate()

    async def recreate(self) -> str:
        """Upload the clip to the engine and remember the voice it made."""
        clip = await self.clip.get()
        label = self.config.voice_id or (self.config.reference_audio_sha256 or "")[:24]
        voice_id = await self.engine.create_voice(clip, label=label)
        log.info("made a cloned voice", extra={"engine": self.engine.name})
        try:
            await self.channel.save_voice_clone(
                self.config.session_id, self.engine.name, self.engine.target, voice_id
            )
        except httpx.HTTPError:
            # the call can use it; the next call makes another
            log.warning("could not cache a cloned voice id")
        return voice_id

    async def _cached(self) -> str | None:
        try:
            return await self.channel.voice_clone(
                self.config.session_id, self.engine.name, self.engine.target
            )
        except httpx.HTTPError:
            return None
