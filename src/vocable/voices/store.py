"""Where voice audio lives on disk: one folder per content hash under the data directory.

Layout (``<data_dir>/voices/``)::

    <sha256>/voice.wav           the normalised clip (16-bit mono WAV)
    <sha256>/enrolments/...      per-engine caches derived from it (voice matching, cloning)

Folders are shared by every voice record with that hash, in any organisation: the same
content is stored once. Writes go to a temporary file that is renamed into place.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
AUDIO_NAME = "voice.wav"
ENROLMENTS = "enrolments"


def is_sha256(value: str) -> bool:
    """Whether ``value`` is a lower-case hex SHA-256 (the only names this store accepts)."""
    return bool(_SHA256.match(value))


class VoiceStore:
    """Voice folders under ``root``; every name is checked, so no path leaves ``root``."""

    def __init__(self, *, root: Path) -> None:
        self.root = root

    def folder(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise ValueError("voice key must be a lower-case hex SHA-256")
        return self.root / sha256

    def audio_path(self, sha256: str) -> Path:
        return self.folder(sha256) / AUDIO_NAME

    def enrolment_dir(self, sha256: str, engine: str) -> Path:
        """Where an engine may cache what it derives from this voice (deleted with it)."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", engine):
            raise ValueError("engine names for enrolment caches are short lower-case slugs")
        return self.folder(sha256) / ENROLMENTS / engine

    def has_audio(self, sha256: str) -> bool:
        return self.audio_path(sha256).is_file()

    def save(self, sha256: str, wav: bytes) -> Path:
        """Write the clip atomically (temporary file, fsync, rename); returns its path.

        Always writes, even when the file exists: the cost is small and a damaged copy
        heals, and the time taken does not tell whether someone else stored it first.
        """
        folder = self.folder(sha256)
        if folder.is_file():  # a raw clip of the layout before voices had folders
            folder.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / AUDIO_NAME
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".voice-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(wav)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def remove(self, sha256: str) -> None:
        """Delete the clip and every enrolment derived from it."""
        shutil.rmtree(self.folder(sha256), ignore_errors=True)
