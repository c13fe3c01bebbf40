"""Enrolling a reference voice for voice matching, once per (voice, base TTS engine).

An enrolment is a :class:`~vocable.voices.matching.MatchingParams` JSON document of a
few hundred bytes, stored under ``<root>/<sha256>/enrolments/<engine>/matching-v<N>.json``
(the ``VoiceStore`` layout: deleting a voice deletes its enrolments). The worker keeps
its own root under its cache directory, since it cannot see the API's data directory.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import wave
from pathlib import Path

import numpy as np

from vocable.voices.matching import (
    METHOD_VERSION,
    Floats,
    MatchingParams,
    analyse_voice,
    derive_params,
)
from vocable.voices.store import VoiceStore

BASE_SAMPLE_TEXT = (
    "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. "
    "How much wood would a woodchuck chuck? Please call Stella and ask her to bring "
    "these things with her from the store."
)
"""What the base engine speaks once per process to be measured (about ten seconds)."""


def engine_key(provider: str, model: str) -> str:
    """A storage slug for a base TTS engine, e.g. ``piper-en_us-joe-medium``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", f"{provider}-{model}".lower()).strip("-.")
    return slug[:64] or "engine"


def read_wav(data: bytes) -> tuple[Floats, int]:
    """A 16-bit PCM WAV (the stored voice form) as mono float samples and its rate."""
    with wave.open(io.BytesIO(data)) as w:
        if w.getsampwidth() != 2:
            raise ValueError("expected 16-bit PCM")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        channels, rate = w.getnchannels(), w.getframerate()
    samples = pcm.reshape(-1, channels).mean(axis=1) / 32768.0
    return samples.astype(np.float32), rate


def enrol(reference_wav: bytes, base_sample: Floats, base_rate: int) -> MatchingParams:
    """Measure the reference clip and derive how to move the base voice toward it.

    CPU-bound (about a second on one core); raises ``ValueError`` for a clip with too
    little voiced speech.
    """
    samples, rate = read_wav(reference_wav)
    return derive_params(analyse_voice(samples, rate), base_sample, base_rate)


class EnrolmentCache:
    """Enrolments on disk, laid out like ``VoiceStore`` under ``root``."""

    def __init__(self, *, root: Path) -> None:
        self._store = VoiceStore(root=root)

    def path(self, sha256: str, engine: str) -> Path:
        return self._store.enrolment_dir(sha256, engine) / f"matching-v{METHOD_VERSION}.json"

    def load(self, sha256: str, engine: str) -> MatchingParams | None:
        """The stored enrolment, or None when absent, unreadable or from another version."""
        try:
            params = MatchingParams.from_json(self.path(sha256, engine).read_text("utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return params if params.version == METHOD_VERSION else None

    def save(self, sha256: str, engine: str, params: MatchingParams) -> None:
        """Write atomically (temporary file, rename), so readers never see half a file."""
        target = self.path(sha256, engine)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".matching-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(params.to_json())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
