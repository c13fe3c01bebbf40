"""Whisper as a streaming recogniser: phrases transcribed while the caller is still pausing.

Whisper transcribes whole utterances. Behind the framework's plain adapter it starts only
once the session's VAD has declared the end of speech (0.45 s of silence), so every turn
waits for that silence *and then* for Whisper. This stream has its own VAD with a short
silence (``phrase_silence``): it starts Whisper on each phrase after a brief pause, while
the session's VAD is still waiting to be sure the caller has finished. The transcript is
handed to the session ``hold`` seconds after the speech stopped (just before the session's
own end of speech), so the turn is committed the moment the silence is long enough rather
than a Whisper pass later.

If the caller speaks again within ``hold``, nothing is handed over: the next pass hears the
turn's audio from its start, pauses and all (a phrase transcribed alone loses the context
of the words around it: "Hello, can you hear me?" cut at its comma came back as "Hello?
Can you fear me?"), so a sentence with a pause inside it stays one message.
While the caller speaks, an interim pass every ``interim_every`` seconds of speech (only
when the model is idle) gives the browser the words so far.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Never

from livekit import rtc
from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    APIConnectOptions,
    APIError,
    stt,
    utils,
    vad,
)
from livekit.agents.types import NOT_GIVEN, NotGivenOr

from vocable.providers.whisper_stt import WhisperSTT

log = logging.getLogger(__name__)

PHRASE_SILENCE = 0.2
"""Silence after which a phrase is transcribed (the stream's own VAD)."""
HOLD = 0.35
"""How long after the speech stopped a phrase's transcript is handed to the session."""
INTERIM_EVERY = 1.0
"""Seconds of new speech between two interim passes."""
PRE_ROLL = 0.5
"""Audio kept from before the start of speech (the VAD notices speech a little late)."""
MAX_TURN_AUDIO = 20.0
"""A caller who keeps talking with only short pauses has their words handed over once this
much audio is waiting, so each pass does not hear a longer and longer turn."""


@dataclass(frozen=True)
class StreamTiming:
    """When the stream transcribes and hands over text (see the module docstring)."""

    hold: float = HOLD
    interim_every: float = INTERIM_EVERY


class StreamingWhisperSTT(stt.STT[Never]):  # no events beyond the base ones
    """A :class:`WhisperSTT` with its own phrase VAD, streaming interim and final transcripts."""

    def __init__(
        self, *, whisper: WhisperSTT, vad: vad.VAD, timing: StreamTiming | None = None
    ) -> None:
        """``vad`` cuts phrases (a short ``min_silence_duration``, see ``PHRASE_SILENCE``)."""
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=True))
        self._whisper = whisper
        self._vad = vad
        self._timing = timing or StreamTiming()

    @property
    def model(self) -> str:
        return self._whisper.model

    @property
    def provider(self) -> str:
        return self._whisper.provider

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        return await self._whisper.recognize(buffer, language=language, conn_options=conn_options)

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> PhraseStream:
        return PhraseStream(
            stt=self,
            whisper=self._whisper,
            vad=self._vad,
            timing=self._timing,
            language=language,
            conn_options=conn_options,
        )


@dataclass(frozen=True)
class _Phrase:
    number: int
    audio: rtc.AudioFrame
    """The turn's audio up to this phrase's end."""
    frames: int
    """How many of the stream's kept frames that audio is made of."""
    speech_end: float


class PhraseStream(stt.RecognizeStream):
    """One caller's audio: phrases cut by the VAD, each transcribed as soon as it ends."""

    def __init__(
        self,
        *,
        stt: StreamingWhisperSTT,
        whisper: WhisperSTT,
        vad: vad.VAD,
        timing: StreamTiming,
        language: NotGivenOr[str],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._whisper = whisper
        self._vad = vad
        self._timing = timing
        self._language = language
        self._audio: deque[rtc.AudioFrame] = deque()  # the open turn's audio, or a pre-roll
        self._audio_seconds = 0.0
        self._turn_open = False
        self._speaking = False
        self._speech_seconds = 0.0
        self._interim_at = 0.0
        self._interim: asyncio.Task[None] | None = None
        self._phrase = 0  # bumped at each start of speech: stale results are dropped
        self._finals: asyncio.Queue[_Phrase] = asyncio.Queue()

    async def _run(self) -> None:
        vad_stream = self._vad.stream()

        async def forward() -> None:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    vad_stream.flush()
                else:
                    vad_stream.push_frame(item)
            vad_stream.end_input()

        async def phrases() -> None:
            async for ev in vad_stream:
                self._on_vad(ev)

        tasks = [
            asyncio.create_task(forward(), name="whisper_forward"),
            asyncio.create_task(phrases(), name="whisper_phrases"),
            asyncio.create_task(self._finalise(), name="whisper_finals"),
        ]
        try:
            await asyncio.gather(*tasks[:2])
            await self._finals.join()
        finally:
            if self._interim is not None:
                self._interim.cancel()
            await utils.aio.cancel_and_wait(*tasks)
            await vad_stream.aclose()

    # --- phrases ----------------------------------------------------------------------

    def _on_vad(self, ev: vad.VADEvent) -> None:
        if ev.type == vad.VADEventType.INFERENCE_DONE:
            self._keep(ev.frames)
            if ev.speaking:
                self._speech_seconds = ev.speech_duration
                if self._speech_seconds - self._interim_at >= self._timing.interim_every:
                    self._start_interim()
        elif ev.type == vad.VADEventType.START_OF_SPEECH:
            self._phrase += 1
            self._turn_open = self._speaking = True
            self._speech_seconds = self._interim_at = ev.speech_duration
            self._event_ch.send_nowait(stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH))
        elif ev.type == vad.VADEventType.END_OF_SPEECH:
            speech_end = time.time() - ev.silence_duration - ev.inference_duration
            self._speaking = False
            self._event_ch.send_nowait(
                stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH, speech_end_time=speech_end)
            )
            self._finals.put_nowait(
                _Phrase(self._phrase, self._turn_audio(), len(self._audio), speech_end)
            )

    def _keep(self, frames: list[rtc.AudioFrame]) -> None:
        """Every frame of an open turn; between turns, only the last ``PRE_ROLL`` seconds
        (the start of speech is found a little after it began)."""
        for frame in frames:
            self._audio.append(frame)
            self._audio_seconds += frame.duration
        while not self._turn_open and self._audio_seconds > PRE_ROLL and len(self._audio) > 1:
            self._audio_seconds -= self._audio.popleft().duration

    def _turn_audio(self) -> rtc.AudioFrame:
        return utils.merge_frames(list(self._audio))

    def _hand_over(self, phrase: _Phrase) -> None:
        """The phrase's audio was handed over: forget it, keeping what came after it."""
        for _ in range(min(phrase.frames, len(self._audio))):
            self._audio_seconds -= self._audio.popleft().duration
        self._turn_open = self._speaking
        self._keep([])

    def _start_interim(self) -> None:
        self._interim_at = self._speech_seconds
        busy = self._interim is not None and not self._interim.done()
        if busy or not self._finals.empty() or self._whisper.busy:
            return  # never queue behind a final or another call's pass
        self._interim = asyncio.create_task(self._interim_pass(self._phrase, self._turn_audio()))

    async def _interim_pass(self, phrase: int, audio: rtc.AudioFrame) -> None:
        text = await self._transcribe(audio)
        # an interim after the phrase ended would cancel the session's end of turn
        if text and phrase == self._phrase and self._speaking:
            self._send(stt.SpeechEventType.INTERIM_TRANSCRIPT, text)

    async def _finalise(self) -> None:
        while True:
            phrase = await self._finals.get()
            try:
                long = phrase.audio.duration >= MAX_TURN_AUDIO
                if phrase.number != self._phrase and not long:
                    continue  # the caller went on: the next phrase's pass hears this one too
                text = await self._transcribe(phrase.audio)
                delay = phrase.speech_end + self._timing.hold - time.time()
                if delay > 0 and phrase.number == self._phrase:
                    await asyncio.sleep(delay)
                if phrase.number == self._phrase or long:  # quiet still, or too much waiting
                    self._hand_over(phrase)
                    if text:
                        self._send(stt.SpeechEventType.FINAL_TRANSCRIPT, text)
            finally:
                self._finals.task_done()

    async def _transcribe(self, audio: rtc.AudioFrame) -> str:
        try:
            event = await self._whisper.recognize(
                audio, language=self._language, conn_options=self._conn_options
            )
        except APIError as e:
            # one phrase lost is better than a call that no longer hears the caller
            log.warning("a phrase could not be transcribed: %s", e)
            return ""
        return event.alternatives[0].text.strip() if event.alternatives else ""

    def _send(self, kind: stt.SpeechEventType, text: str) -> None:
        language: Any = self._whisper.language
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=kind,
                alternatives=[stt.SpeechData(language=language, text=text)],
            )
        )
