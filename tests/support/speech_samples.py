"""Real human speech for voice-matching tests and benchmarks, from Debian packages.

``codec2-examples`` (codec2's example recordings, several speakers, mostly 8 kHz) and
``alsa-utils`` (ALSA's spoken channel names, one female speaker, 48 kHz) are fetched
with ``apt-get download`` and unpacked with ``dpkg-deb -x`` under the user's cache, so
nothing needs root. Also finds, or fetches, the speaker encoder's weights.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from vocable.voices.enrolment import read_wav
from vocable.voices.matching import Floats
from vocable.voices.similarity import find_encoder_weights, resample

CACHE = Path.home() / ".cache" / "vocable"
SAMPLES = CACHE / "speech-samples"
PACKAGES = ("codec2-examples", "alsa-utils")
CODEC2 = "usr/share/codec2"
ALSA = "usr/share/sounds/alsa"
ALSA_CLIPS = [
    f"{ALSA}/{n}.wav"
    for n in (
        "Front_Center", "Front_Left", "Front_Right", "Rear_Center",
        "Rear_Left", "Rear_Right", "Side_Left", "Side_Right",
    )
]  # fmt: skip
REFERENCES: dict[str, list[str]] = {
    # name -> files joined into one clip; one speaker each (checked by ear and by F0)
    "codec2-vk5qi (male)": [f"{CODEC2}/wav/vk5qi.wav"],
    "codec2-ve9qrp (male)": [f"{CODEC2}/wav/ve9qrp.wav"],
    "codec2-hts2a (female)": [f"{CODEC2}/wav/hts2a.wav"],
    "codec2-speech_orig_16k (female)": [f"{CODEC2}/raw/speech_orig_16k.wav"],
    "alsa-test-voice (female)": ALSA_CLIPS,
}
ENCODER_WHEEL = "resemblyzer==0.1.4"


def ensure_samples() -> Path:
    """The folder the packages are unpacked in (downloaded on first use)."""
    root = SAMPLES / "extracted"
    if (root / CODEC2).is_dir() and (root / ALSA).is_dir():
        return root
    debs = SAMPLES / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def reference_samples(name: str, *, rate: int = 24_000, seconds: float = 12.0) -> Floats:
    """The recording ``name`` (a ``REFERENCES`` key) joined and resampled to ``rate``."""
    root = ensure_samples()
    parts = []
    for file in REFERENCES[name]:
        samples, source_rate = read_wav((root / file).read_bytes())
        parts.append(resample(samples, source_rate, rate))
    return np.concatenate(parts)[: int(seconds * rate)]


def ensure_encoder_weights(explicit: Path | None = None) -> Path:
    """Resemblyzer's ``pretrained.pt``: installed package, ``explicit``, the cache, else
    fetched once with ``pip download --no-deps`` (the wheel only; torch is not needed)."""
    cached = CACHE / "resemblyzer" / "pretrained.pt"
    found = find_encoder_weights([p for p in (explicit, cached) if p is not None])
    if found is not None:
        return found
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", ENCODER_WHEEL, "-d", tmp],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        cached.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            cached.write_bytes(zf.read("resemblyzer/pretrained.pt"))
    return cached
