"""Loudness normalisation and the stored WAV form of a reference clip.

Level: a gated RMS (20 ms blocks within 40 dB of the loudest block, so pauses do not
count) is brought to -20 dBFS, unless that would push the sample peak above -1 dBFS, in
which case the peak sets the gain. Speech at -20 dBFS RMS sits where TTS engines and
speaker encoders expect it; the peak ceiling keeps the 16-bit file free of clipping.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np

from vocable.voices.decode import SAMPLE_RATE, Samples
from vocable.voices.errors import ClipRefusal, VoiceRefused

TARGET_RMS_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
SILENCE_DBFS = -60.0
"""A clip whose gated RMS is below this holds nothing audible to imitate."""
_BLOCK = SAMPLE_RATE // 50  # 20 ms
_GATE_DB = 40.0


@dataclass(frozen=True, slots=True)
class Level:
    rms_dbfs: float
    peak_dbfs: float


def _db(value: float) -> float:
    return float(20.0 * np.log10(max(value, 1e-12)))


def measure(samples: Samples) -> Level:
    """Gated RMS and sample peak of ``samples`` in dBFS."""
    x = samples.astype(np.float64)
    blocks = max(1, len(x) // _BLOCK)
    padded = np.zeros(blocks * _BLOCK)
    padded[: min(len(x), blocks * _BLOCK)] = x[: blocks * _BLOCK]
    power = (padded.reshape(blocks, _BLOCK) ** 2).mean(axis=1)
    gated = power[power >= power.max() * 10 ** (-_GATE_DB / 10)]
    rms = float(np.sqrt(gated.mean())) if gated.size else 0.0
    return Level(rms_dbfs=_db(rms), peak_dbfs=_db(float(np.abs(x).max(initial=0.0))))


def normalise(samples: Samples) -> Samples:
    """DC removed, then gain to ``TARGET_RMS_DBFS`` capped by ``PEAK_CEILING_DBFS``.

    Raises ``VoiceRefused`` (``silent``) for a clip with nothing audible in it.
    """
    x = samples.astype(np.float64)
    x -= x.mean()
    level = measure(x.astype(np.float32))
    if level.rms_dbfs < SILENCE_DBFS:
        raise VoiceRefused(ClipRefusal.SILENT, "The reference clip holds no audible sound")
    gain_db = min(TARGET_RMS_DBFS - level.rms_dbfs, PEAK_CEILING_DBFS - level.peak_dbfs)
    out = np.clip(x * 10 ** (gain_db / 20), -1.0, 1.0)
    return out.astype(np.float32)


def to_wav(samples: Samples) -> bytes:
    """16-bit PCM mono WAV at ``SAMPLE_RATE``; the same samples always give the same bytes."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()
