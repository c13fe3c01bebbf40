"""Reference clips in the database: one row per content hash, shared by every voice
record with that content, in any organisation.

Every API process of a deployment reads the same rows, so a voice uploaded through one
is served by all (a file in one process's data directory is not). The data directory
keeps only what engines derive from a clip (``VoiceStore``'s enrolment caches), which
any process can derive again. A clip an earlier version stored as a file there is moved
into the database the first time it is read.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vocable.db.engine import insert_skipping_conflicts
from vocable.db.models import VoiceAudio
from vocable.voices.store import VoiceStore, is_sha256


def save_audio(db: Session, sha256: str, wav: bytes) -> None:
    """Store the clip unless its content is stored already (by anyone: no conflict);
    part of the caller's transaction."""
    if not is_sha256(sha256):
        raise ValueError("voice key must be a lower-case hex SHA-256")
    db.execute(
        insert_skipping_conflicts(VoiceAudio, db.connection().dialect.name).values(
            sha256=sha256, wav=wav, created_at=datetime.now(UTC)
        )
    )


def audio_bytes(db: Session, store: VoiceStore, sha256: str) -> bytes | None:
    """The clip, or ``None``; a clip still in the data directory's files is moved in."""
    if not is_sha256(sha256):
        return None
    wav = db.scalar(select(VoiceAudio.wav).where(VoiceAudio.sha256 == sha256))
    return wav if wav is not None else _move_in(db, store, sha256)


def has_audio(db: Session, store: VoiceStore, sha256: str) -> bool:
    """Whether the clip is stored (without reading it), moving in an older version's file."""
    if not is_sha256(sha256):
        return False
    stored = db.scalar(select(VoiceAudio.sha256).where(VoiceAudio.sha256 == sha256))
    return stored is not None or _move_in(db, store, sha256) is not None


def _move_in(db: Session, store: VoiceStore, sha256: str) -> bytes | None:
    """An older version's file of the clip, stored in the database and removed."""
    legacy = store.audio_path(sha256)
    try:
        wav = legacy.read_bytes()
    except OSError:
        return None
    save_audio(db, sha256, wav)
    db.commit()
    legacy.unlink(missing_ok=True)
    return wav


def remove_audio(db: Session, store: VoiceStore, sha256: str) -> None:
    """Forget the clip and what was derived from it here; part of the caller's
    transaction (the local caches go at once)."""
    db.execute(delete(VoiceAudio).where(VoiceAudio.sha256 == sha256))
    store.remove(sha256)
