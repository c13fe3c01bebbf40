"""Test audio: a clip every intake check accepts, without a recording."""

from __future__ import annotations

import io
import wave

import numpy as np


def voiced_clip(seconds: float = 4.0, pitch: float = 150.0, rate: int = 16_000) -> bytes:
    """A WAV of a voiced, syllable-shaped tone: harmonics of ``pitch`` under a 2.5 Hz
    envelope, loud and long enough to pass every intake check."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * k * pitch * t) / k for k in range(1, 5))
    signal = 0.1 * tone * np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal * 32767).astype("<i2").tobytes())
    return buffer.getvalue()
