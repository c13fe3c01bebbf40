"""The embedded Whisper engine on real synthetic speech (espeak-ng), through ``recognize()``."""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from faster_whisper import WhisperModel
from livekit import rtc
from livekit.agents import stt

from vocable.providers.whisper_stt import (
    BASE_MODEL_BIN_SHA256,
    BASE_MODEL_BIN_SIZE,
    WhisperSTT,
    WhisperTranscriptionError,
    base_model_dir,
    load_whisper,
    whisper_model_for_language,
)

RATE = 48_000
FRAME_SAMPLES = RATE // 100  # 10 ms frames, as a LiveKit track delivers them


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("whisper-cache")


@pytest.fixture(scope="module")
def tiny_en(cache_dir: Path) -> WhisperModel:
    return load_whisper("tiny.en", cache_dir=cache_dir, cpu_threads=2)


@pytest.fixture(scope="module")
def base(cache_dir: Path) -> WhisperModel:
    return load_whisper("base", cache_dir=cache_dir, cpu_threads=2)


def speak(
    text: str, folder: Path, *, voice: str = "en-us", channels: int = 1
) -> list[rtc.AudioFrame]:
    """Synthesise ``text`` with espeak-ng and return it as 48 kHz 10 ms frames."""
    raw, wav = folder / "raw.wav", folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", str(channels), "-b", "16", str(wav)], check=True
    )
    with wave.open(str(wav), "rb") as f:
        pcm = f.readframes(f.getnframes())
    return frames_of(np.frombuffer(pcm, dtype=np.int16), channels)


def frames_of(samples: np.ndarray, channels: int = 1) -> list[rtc.AudioFrame]:
    step = FRAME_SAMPLES * channels
    return [
        rtc.AudioFrame(
            data=samples[i : i + step].tobytes(),
            sample_rate=RATE,
            num_channels=channels,
            samples_per_channel=len(samples[i : i + step]) // channels,
        )
        for i in range(0, len(samples), step)
    ]


def words(event: stt.SpeechEvent) -> set[str]:
    return set(re.findall(r"\w+", event.alternatives[0].text.lower()))


async def test_english_speech_at_48khz_is_transcribed_by_tiny_en(
    tiny_en: WhisperModel, tmp_path: Path
) -> None:
    engine = WhisperSTT(model=tiny_en, language="en-US")
    frames = speak("I would like to book an appointment for tomorrow morning.", tmp_path)

    event = await engine.recognize(frames)

    assert event.type is stt.SpeechEventType.FINAL_TRANSCRIPT
    assert {"book", "appointment", "tomorrow", "morning"} <= words(event)
    assert event.alternatives[0].language == "en-US"
    assert engine.model == "whisper-tiny.en"


async def test_stereo_speech_is_mixed_down_before_transcription(
    tiny_en: WhisperModel, tmp_path: Path
) -> None:
    engine = WhisperSTT(model=tiny_en, language="en")
    frames = speak("Please call me back this afternoon.", tmp_path, channels=2)

    event = await engine.recognize(frames)

    assert {"call", "back", "afternoon"} <= words(event)


async def test_spanish_speech_is_transcribed_by_the_base_model(
    base: WhisperModel, tmp_path: Path
) -> None:
    engine = WhisperSTT(model=base, language="es-MX")
    frames = speak("Hola, quiero reservar una mesa para dos personas.", tmp_path, voice="es")

    event = await engine.recognize(frames)

    assert {"hola", "mesa", "personas"} <= words(event)
    assert event.alternatives[0].language == "es-MX"


async def test_language_passed_to_recognize_overrides_the_engine_default(
    base: WhisperModel, tmp_path: Path
) -> None:
    engine = WhisperSTT(model=base, language="es")
    frames = speak("Good morning, how are you today?", tmp_path)

    event = await engine.recognize(frames, language="en")

    assert {"morning", "today"} <= words(event)
    assert event.alternatives[0].language == "en"


async def test_silence_gives_an_empty_transcript(tiny_en: WhisperModel) -> None:
    engine = WhisperSTT(model=tiny_en, language="en")

    event = await engine.recognize(frames_of(np.zeros(2 * RATE, dtype=np.int16)))

    assert event.type is stt.SpeechEventType.FINAL_TRANSCRIPT
    assert event.alternatives[0].text == ""


async def test_background_hiss_without_speech_gives_an_empty_transcript(
    base: WhisperModel,
) -> None:
    # Whisper base turns -40 dBFS white noise into "I'm sorry, I'm sorry, ..." unfiltered.
    hiss = np.random.default_rng(0).normal(0, 300, 2 * RATE).astype(np.int16)

    event = await WhisperSTT(model=base, language="en").recognize(frames_of(hiss))

    assert event.alternatives[0].text == ""


async def test_no_audio_gives_an_empty_transcript(tiny_en: WhisperModel) -> None:
    event = await WhisperSTT(model=tiny_en, language="en").recognize([])

    assert event.alternatives[0].text == ""


async def test_a_language_the_model_lacks_fails_without_retry(tiny_en: WhisperModel) -> None:
    engine = WhisperSTT(model=tiny_en, language="en")
    errors: list[stt.STTError] = []
    engine.on("error", errors.append)

    with pytest.raises(WhisperTranscriptionError) as caught:
        await engine.recognize(frames_of(np.zeros(RATE, dtype=np.int16)), language="es")

    assert caught.value.retryable is False
    assert [e.recoverable for e in errors] == [False]


async def test_frames_with_mixed_sample_rates_fail_without_retry(tiny_en: WhisperModel) -> None:
    mixed = [
        rtc.AudioFrame(bytes(960), 48_000, 1, 480),
        rtc.AudioFrame(bytes(320), 16_000, 1, 160),
    ]

    with pytest.raises(WhisperTranscriptionError, match="unusable audio") as caught:
        await WhisperSTT(model=tiny_en, language="en").recognize(mixed)

    assert caught.value.retryable is False


def test_english_only_model_refuses_other_languages(tiny_en: WhisperModel) -> None:
    with pytest.raises(ValueError, match="cannot transcribe"):
        WhisperSTT(model=tiny_en, language="es")


def test_english_gets_tiny_en_and_other_languages_get_base() -> None:
    assert whisper_model_for_language("en-GB") == "tiny.en"
    assert whisper_model_for_language("es-MX") == "base"
    assert whisper_model_for_language("de") == "base"


def test_base_model_is_assembled_once_and_reused(base: WhisperModel, cache_dir: Path) -> None:
    folder = base_model_dir(cache_dir)
    model_bin = folder / "model.bin"
    written_at = model_bin.stat().st_mtime_ns

    assert base_model_dir(cache_dir) == folder
    assert model_bin.stat().st_mtime_ns == written_at
    assert BASE_MODEL_BIN_SHA256[:12] in folder.name
    assert sorted(p.name for p in cache_dir.iterdir()) == [folder.name]  # no staging left


def test_a_damaged_cached_base_model_is_rebuilt(tmp_path: Path) -> None:
    model_bin = base_model_dir(tmp_path) / "model.bin"
    with model_bin.open("r+b") as f:
        f.truncate(1000)

    rebuilt = base_model_dir(tmp_path) / "model.bin"

    assert rebuilt == model_bin
    assert rebuilt.stat().st_size == BASE_MODEL_BIN_SIZE
