"""Embedded voice matching: speaker similarity, intelligibility and added latency.

For each real human reference recording (Debian packages ``codec2-examples`` and
``alsa-utils``, unpacked without root into ``~/.cache/vocable/speech-samples``):

- the clip goes through the same intake as an uploaded voice (decode, 24 kHz, loudness);
- it is enrolled against the packaged Piper voice (timed);
- fixed test sentences are spoken by Piper, then transformed sentence by sentence
  (timed: ms per sentence and real-time factor added);
- speaker similarity of reference vs plain Piper and vs matched Piper, with the
  Resemblyzer encoder (weights from the ``resemblyzer`` 0.1.4 wheel, run in numpy by
  ``vocable.voices.similarity``) and the acoustic-statistics distance (not an encoder);
- Whisper tiny.en (our STT) word error rate on plain and matched speech.

    .venv/bin/python -m bench.voice_matching [--encoder-weights PATH]

The encoder weights are taken from an installed ``resemblyzer`` package, else from
``--encoder-weights``, else from ``~/.cache/vocable/resemblyzer/pretrained.pt``, which
this script fills with ``pip download --no-deps resemblyzer==0.1.4`` when it is absent.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tests.support.speech_samples import (
    CACHE,
    REFERENCES,
    ensure_encoder_weights,
    reference_samples,
)

from vocable.providers.piper_tts import load_piper_voice
from vocable.providers.whisper_stt import load_whisper
from vocable.voices.enrolment import BASE_SAMPLE_TEXT, enrol, read_wav
from vocable.voices.intake import IntakeLimits, prepare_clip
from vocable.voices.matching import Floats, VoiceMatcher
from vocable.voices.similarity import SpeakerEncoder, acoustic_distance, resample

SENTENCES = [
    "Welcome to Rosa's Bakery. How can I help you?",
    "The bakery opens at nine in the morning and closes at six in the evening.",
    "We sell fresh bread, chocolate cakes and hot coffee every day.",
    "Your order number is forty two, and it will be ready in ten minutes.",
]


def to_wav_bytes(samples: Floats, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def reference_clip(name: str) -> bytes:
    """The recording put through voice intake, as an uploaded voice would be."""
    limits = IntakeLimits(
        max_bytes=20_000_000, min_seconds=3.0, max_seconds=60.0, decode_timeout_seconds=20.0
    )
    return prepare_clip(to_wav_bytes(reference_samples(name), 24_000), limits).wav


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("42", "forty two"))


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / max(1, len(ref))


@dataclass
class Row:
    name: str
    f0: float
    formant_ratio: float
    enrol_s: float
    sim_base: float
    sim_matched: float
    dist_base: float
    dist_matched: float
    wer_matched: float
    ms_per_sentence: float
    rtf: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder-weights", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    encoder = SpeakerEncoder(weights=ensure_encoder_weights(args.encoder_weights))
    whisper = load_whisper("tiny.en", cache_dir=CACHE, cpu_threads=args.threads)
    voice = load_piper_voice(threads=args.threads)
    rate = voice.config.sample_rate

    def speak(text: str) -> Floats:
        chunks = [c.audio_float_array for c in voice.synthesize(text)]
        return np.concatenate(chunks).astype(np.float32)

    def transcribe(samples: Floats) -> str:
        audio = resample(samples, rate, 16_000)
        segments, _ = whisper.transcribe(audio, language="en", beam_size=5, temperature=[0.0])
        return " ".join(s.text for s in segments)

    base_sample = speak(BASE_SAMPLE_TEXT)
    plain = [speak(s) for s in SENTENCES]
    plain_all = np.concatenate(plain)
    wer_base = statistics.mean(wer(s, transcribe(a)) for s, a in zip(SENTENCES, plain, strict=True))

    rows: list[Row] = []
    for name in REFERENCES:
        clip = reference_clip(name)
        ref, ref_rate = read_wav(clip)
        began = time.perf_counter()
        params = enrol(clip, base_sample, rate)
        enrol_s = time.perf_counter() - began
        matched, took = [], []
        for sentence in plain:
            began = time.perf_counter()
            matcher = VoiceMatcher(params, sample_rate=rate)
            out = np.concatenate([matcher.process(sentence), matcher.flush()])
            took.append(time.perf_counter() - began)
            assert len(out) == len(sentence)
            matched.append(out)
        matched_all = np.concatenate(matched)
        rows.append(
            Row(
                name=name,
                f0=params.target_f0,
                formant_ratio=params.formant_ratio,
                enrol_s=enrol_s,
                sim_base=encoder.similarity(ref, ref_rate, plain_all, rate),
                sim_matched=encoder.similarity(ref, ref_rate, matched_all, rate),
                dist_base=acoustic_distance(ref, ref_rate, plain_all, rate),
                dist_matched=acoustic_distance(ref, ref_rate, matched_all, rate),
                wer_matched=statistics.mean(
                    wer(s, transcribe(a)) for s, a in zip(SENTENCES, matched, strict=True)
                ),
                ms_per_sentence=1000 * statistics.mean(took),
                rtf=sum(took) / (len(matched_all) / rate),
            )
        )

    print(f"base voice: Piper en_US-joe-medium ({rate} Hz); {len(SENTENCES)} test sentences")
    print(f"Whisper tiny.en WER on plain Piper: {wer_base:.3f}")
    header = (
        f"{'reference':34} {'F0':>5} {'fmt':>5} {'enrol s':>7} {'sim base':>8} "
        f"{'sim match':>9} {'dist base':>9} {'dist match':>10} {'WER':>5} {'ms/sent':>7} {'RTF':>6}"
    )
    print(header)
    for r in rows:
        print(
            f"{r.name:34} {r.f0:5.0f} {r.formant_ratio:5.3f} {r.enrol_s:7.2f} {r.sim_base:8.3f} "
            f"{r.sim_matched:9.3f} {r.dist_base:9.2f} {r.dist_matched:10.2f} "
            f"{r.wer_matched:5.3f} {r.ms_per_sentence:7.0f} {r.rtf:6.3f}"
        )
    print(
        f"{'mean':34} {'':5} {'':5} {statistics.mean(r.enrol_s for r in rows):7.2f} "
        f"{statistics.mean(r.sim_base for r in rows):8.3f} "
        f"{statistics.mean(r.sim_matched for r in rows):9.3f} "
        f"{statistics.mean(r.dist_base for r in rows):9.2f} "
        f"{statistics.mean(r.dist_matched for r in rows):10.2f} "
        f"{statistics.mean(r.wer_matched for r in rows):5.3f} "
        f"{statistics.mean(r.ms_per_sentence for r in rows):7.0f} "
        f"{statistics.mean(r.rtf for r in rows):6.3f}"
    )


if __name__ == "__main__":
    main()
