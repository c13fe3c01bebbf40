"""A headless caller: joins the room like a browser, talks, types and listens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc

SAMPLE_RATE = 16_000
FRAME_MS = 10
SILENCE_RMS = 300.0  # int16 units; the agent's silence is digital zero


@dataclass
class Message:
    topic: str
    data: dict[str, Any]
    at: float


@dataclass
class Caller:
    room: rtc.Room = field(default_factory=rtc.Room)
    messages: list[Message] = field(default_factory=list)
    raw_messages: list[bytes] = field(default_factory=list)
    audio: list[tuple[float, np.ndarray]] = field(default_factory=list)
    _mic: rtc.AudioSource | None = None
    _speaking: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server closes the room or removes this caller."""
    agent_left: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the agent participant leaves the room."""
    connection_events: list[str] = field(default_factory=list)
    """``reconnecting``, ``reconnected``, ``disconnected`` and ``left:<identity>:<kind>``
    (a remote participant left), in the order they came."""

    async def join(self, url: str, token: str) -> None:
        self.room.on("disconnected", self._on_disconnected)
        self.room.on("reconnecting", lambda: self.connection_events.append("reconnecting"))
        self.room.on("reconnected", lambda: self.connection_events.append("reconnected"))
        self.room.on("participant_disconnected", self._on_participant_left)
        self.room.on("data_received", self._on_data)
        self.room.on("track_subscribed", self._on_track)
        await self.room.connect(url, token)
        self._mic = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track("mic", self._mic)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._tasks.append(asyncio.create_task(self._feed_silence()))

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.room.disconnect()

    # --- receiving ----------------------------------------------------------------------

    def _on_disconnected(self, *_: object) -> None:
        self.connection_events.append("disconnected")
        self.disconnected.set()

    def _on_participant_left(self, participant: rtc.RemoteParticipant) -> None:
        self.connection_events.append(f"left:{participant.identity}:{participant.kind}")
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            self.agent_left.set()

    def _on_data(self, packet: rtc.DataPacket) -> None:
        self.raw_messages.append(packet.data)
        with contextlib.suppress(ValueError):
            self.messages.append(
                Message(packet.topic or "", json.loads(packet.data), time.monotonic())
            )
        self._changed.set()

    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, _p: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._tasks.append(asyncio.create_task(self._record(track)))

    async def _record(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        async for ev in stream:
            samples = np.frombuffer(ev.frame.data, dtype=np.int16).copy()
            self.audio.append((time.monotonic(), samples))

    def replies(self, kind: str | None = None, since: float = 0.0) -> list[dict[str, Any]]:
        return [
            m.data
            for m in self.messages
            if m.topic == "voice.reply"
            and m.at >= since
            and (kind is None or m.data.get("type") == kind)
        ]

    async def wait_reply(
        self, kind: str, since: float = 0.0, timeout: float = 60.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.replies(kind, since)
            if found:
                return found[0]
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=0.5)
        raise AssertionError(f"no {kind!r} on voice.reply within {timeout}s; got {self.replies()}")

    async def wait_reply_where(
        self, kind: str, since: float, check: Any, timeout: float = 90.0
    ) -> dict[str, Any]:
        """The first ``kind`` reply since ``since`` for which ``check(message)`` is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.replies(kind, since):
                if check(message):
                    return message
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=0.5)
        raise AssertionError(f"no matching {kind!r} within {timeout}s; got {self.replies()}")

    def audio_between(self, start: float, end: float | None = None) -> np.ndarray:
        chunks = [s for t, s in self.audio if t >= start and (end is None or t <= end)]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def first_sound_after(self, start: float) -> float | None:
        for t, samples in self.audio:
            if t >= start and rms(samples) > SILENCE_RMS:
                return t
        return None

    def last_sound(self) -> float | None:
        for t, samples in reversed(self.audio):
            if rms(samples) > SILENCE_RMS:
                return t
        return None

    async def wait_for_sound(self, since: float, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.first_sound_after(since)
            if t is not None:
                return t
            await asyncio.sleep(0.05)
        raise AssertionError(f"no agent audio within {timeout}s")

    async def wait_for_quiet(self, quiet_for: float = 1.5, timeout: float = 60.0) -> float:
        """Wait until the agent was silent for ``quiet_for`` s; return when it stopped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.last_sound()
            if last is not None and time.monotonic() - last >= quiet_for:
                return last
            await asyncio.sleep(0.1)
        raise AssertionError("agent did not go quiet")

    # --- sending ------------------------------------------------------------------------

    async def send_text(self, text: str) -> float:
        payload = json.dumps({"type": "user_text", "text": text}).encode()
        return await self.send_raw(payload)

    async def send_raw(self, payload: bytes, topic: str = "voice.user_text") -> float:
        sent = time.monotonic()
        await self.room.local_participant.publish_data(payload, reliable=True, topic=topic)
        return sent

    async def _feed_silence(self) -> None:
        # a real microphone sends frames all the time; so does ours, between utterances
        assert self._mic is not None
        frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, SAMPLE_RATE * FRAME_MS // 1000)
        while True:
            if not self._speaking:
                await self._mic.capture_frame(frame)
            else:
                await asyncio.sleep(FRAME_MS / 1000)

    async def _capture(self, frame: rtc.AudioFrame) -> None:
        """Queue one microphone frame, waiting while the source's buffer is full.

        The native source refuses a frame ("InvalidState - failed to capture frame") when
        its 1 s buffer is full, which happens when its sending thread falls behind on a
        starved 2-core machine (CI, a 9 s utterance); a microphone would block, so wait.
        """
        assert self._mic is not None
        for _ in range(200):  # up to 10 s behind
            try:
                await self._mic.capture_frame(frame)
                return
            except Exception as e:
                if "failed to capture frame" not in str(e):
                    raise
                await asyncio.sleep(0.05)
        raise AssertionError("the microphone source stayed full for 10 s")

    async def speak(self, samples: np.ndarray) -> float:
        """Play 16 kHz int16 ``samples`` into the microphone in real time; return the end time."""
        assert self._mic is not None
        self._speaking = True
        try:
            step = SAMPLE_RATE * FRAME_MS // 1000
            for i in range(0, len(samples), step):
                chunk = samples[i : i + step]
                if len(chunk) < step:
                    chunk = np.pad(chunk, (0, step - len(chunk)))
                frame = rtc.AudioFrame(chunk.astype(np.int16).tobytes(), SAMPLE_RATE, 1, step)
                await self._capture(frame)
            # capture_frame returns once a frame is queued; the end of speech is when the
            # queue has played out (up to a second later)
            await self._mic.wait_for_playout()
        finally:
            self._speaking = False
        return time.monotonic()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


def synthesize_speech(text: str, path: Path, *, voice: str = "en-us") -> np.ndarray:
    """Speak ``text`` with espeak-ng and return it as 16 kHz mono int16."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), "--", text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(path)], check=True
    )
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).copy()
