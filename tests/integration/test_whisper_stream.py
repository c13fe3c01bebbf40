"""The call's recogniser: Whisper behind its own VAD, fed in real time like a caller's track."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import stt
from livekit.plugins import silero
from tests.support.caller import SAMPLE_RATE, synthesize_speech

from vocable.providers import whisper_stream
from vocable.providers.whisper_stream import PHRASE_SILENCE, StreamingWhisperSTT, StreamTiming
from vocable.providers.whisper_stt import WhisperSTT, load_whisper


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> WhisperSTT:
    model = load_whisper("tiny.en", cache_dir=tmp_path_factory.mktemp("cache"), cpu_threads=2)
    return WhisperSTT(model=model, language="en")


def streaming(whisper: WhisperSTT, timing: StreamTiming | None = None) -> StreamingWhisperSTT:
    vad = silero.VAD.load(min_silence_duration=PHRASE_SILENCE, activation_threshold=0.5)
    return StreamingWhisperSTT(whisper=whisper, vad=vad, timing=timing)


@pytest.fixture(scope="module")
def recogniser(whisper: WhisperSTT) -> StreamingWhisperSTT:
    return streaming(whisper)


def speech(text: str, tmp_path: Path, name: str) -> np.ndarray:
    samples = synthesize_speech(text, tmp_path / f"{name}.wav")
    loud = np.flatnonzero(np.abs(samples) > 200)
    return samples[loud[0] : loud[-1] + 1]  # without espeak-ng's own silence


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


async def hear(engine: StreamingWhisperSTT, audio: np.ndarray) -> list[stt.SpeechEvent]:
    """Play ``audio`` (then 1.5 s of silence) in real time; every event, as it came."""
    stream = engine.stream()
    events: list[stt.SpeechEvent] = []

    async def read() -> None:
        async for ev in stream:
            events.append(ev)

    reader = asyncio.create_task(read())
    padded = np.concatenate([silence(0.3), audio, silence(1.5)])
    step = SAMPLE_RATE // 100
    started = time.monotonic()
    for i in range(0, len(padded) - step + 1, step):
        frame = rtc.AudioFrame(padded[i : i + step].tobytes(), SAMPLE_RATE, 1, step)
        stream.push_frame(frame)
        await asyncio.sleep(max(0.0, started + (i + step) / SAMPLE_RATE - time.monotonic()))
    stream.end_input()
    await reader
    await stream.aclose()
    return events


def finals(events: list[stt.SpeechEvent]) -> list[str]:
    kind = stt.SpeechEventType.FINAL_TRANSCRIPT
    return [ev.alternatives[0].text for ev in events if ev.type == kind]


async def test_a_sentence_with_a_short_pause_inside_is_one_transcript_of_all_of_it(
    whisper: WhisperSTT, tmp_path: Path
) -> None:
    """The phrase before the pause is transcribed, then heard again with the rest (a
    phrase alone loses its context). The hold is long here so that the pause, longer
    than the phrase silence, is surely shorter than the hold on a slow machine."""
    recogniser = streaming(whisper, StreamTiming(hold=0.8))
    first = speech("Hello, can you hear me?", tmp_path, "a")
    second = speech("What are your opening hours?", tmp_path, "b")
    heard = finals(await hear(recogniser, np.concatenate([first, silence(0.4), second])))
    assert len(heard) == 1, heard
    words = heard[0].lower()
    assert "hear me" in words and "opening hours" in words, heard


async def test_two_questions_with_a_long_pause_between_are_two_transcripts(
    recogniser: StreamingWhisperSTT, tmp_path: Path
) -> None:
    first = speech("When do you open?", tmp_path, "c")
    second = speech("Do you sell coffee?", tmp_path, "d")
    heard = finals(await hear(recogniser, np.concatenate([first, silence(1.2), second])))
    assert len(heard) == 2, heard
    assert "open" in heard[0].lower() and "coffee" in heard[1].lower(), heard


async def test_the_words_so_far_come_while_the_caller_is_still_speaking(
    recogniser: StreamingWhisperSTT, tmp_path: Path
) -> None:
    long = speech(
        "I would like to order a large chocolate cake for my daughter's birthday on Saturday.",
        tmp_path,
        "e",
    )
    events = await hear(recogniser, long)
    kinds = [ev.type for ev in events]
    interim = stt.SpeechEventType.INTERIM_TRANSCRIPT
    assert interim in kinds, kinds
    # every interim comes before the final: one after it would cancel the turn's end
    assert kinds.index(stt.SpeechEventType.FINAL_TRANSCRIPT) > max(
        i for i, kind in enumerate(kinds) if kind == interim
    )
    assert "chocolate" in finals(events)[0].lower()


async def test_a_long_run_of_speech_with_short_pauses_is_handed_over_in_parts(
    whisper: WhisperSTT, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``MAX_TURN_AUDIO`` waiting, the words so far are handed over even though the
    caller goes on (each pass would otherwise hear an ever longer turn); nothing is lost
    or heard twice."""
    monkeypatch.setattr(whisper_stream, "MAX_TURN_AUDIO", 3.0)
    recogniser = streaming(whisper, StreamTiming(hold=0.8))
    parts = ["I need some bread", "and two large coffees", "and a chocolate cake", "please"]
    audio = [speech(text, tmp_path, f"p{i}") for i, text in enumerate(parts)]
    gap = silence(0.4)
    heard = finals(
        await hear(
            recogniser, np.concatenate([audio[0], gap, audio[1], gap, audio[2], gap, audio[3]])
        )
    )
    assert len(heard) >= 2, heard
    words = " ".join(heard).lower()
    for word in ("bread", "coffees", "chocolate", "cake", "please"):
        assert words.count(word) == 1, heard
