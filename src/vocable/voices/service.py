"""Voice records: add (deduplicated per organisation), find, link to agents, delete."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vocable import audit
from vocable.contracts.errors import InvalidError, NotFoundError
from vocable.contracts.fields import file_name
from vocable.db.models import Agent, Voice
from vocable.ids import new_id
from vocable.outbound import OutboundPolicy
from vocable.settings import Settings
from vocable.voices.audio import has_audio, remove_audio, save_audio
from vocable.voices.cache import UrlVoiceCache
from vocable.voices.clones import clones_of, delete_engine_copies_later
from vocable.voices.errors import VoiceRefused
from vocable.voices.intake import Clip, IntakeLimits, fetch_clip, provenance_url
from vocable.voices.store import VoiceStore

# Serialises "write the file, then commit the record" against "delete the last record,
# then remove the file" in this process, so a delete never removes a file another
# request is about to reference. (API processes sharing one data directory keep a
# window of a few milliseconds; the next upload of the clip restores the file.)
_files_lock = threading.Lock()

session_url_cache = UrlVoiceCache()
"""Process-wide: which voice a session's URL gave recently (validated on every use)."""


@dataclass(frozen=True, slots=True)
class AddedBy:
    """Who added a voice: a dashboard user or an API key of the organisation."""

    kind: Literal["user", "api_key"]
    id: str
    ip: str | None = None
    """The client address of the request that added it (for the audit log only)."""


def voice_store(settings: Settings) -> VoiceStore:
    return VoiceStore(root=settings.data_dir / "voices")


def refusal_error(refused: VoiceRefused, field: str) -> InvalidError:
    """The error for a refused clip: the reason as ``code`` and on the named field."""
    return InvalidError(
        refused.reason,
        refused.message,
        errors=[{"field": field, "reason": refused.reason, "message": refused.message}],
    )


def display_name(raw: str | None, fallback: str) -> str:
    """A short printable name from a file name or URL path segment."""
    return file_name(raw, fallback, limit=120)


def name_from_url(url: str) -> str:
    parts = urlsplit(url)
    return display_name(unquote(parts.path), parts.hostname or "Reference clip")


def add_voice(
    db: Session,
    store: VoiceStore,
    *,
    org_id: str,
    clip: Clip,
    source: Literal["upload", "url"],
    source_url: str | None,
    name: str,
    added_by: AddedBy,
) -> Voice:
    """Store ``clip`` and record it for ``org_id``; commits.

    The organisation's existing record is returned when it already has this content:
    its provenance is that of the first addition.
    """
    with _files_lock:
        save_audio(db, clip.sha256, clip.wav)
        existing = _org_voice_by_sha(db, org_id, clip.sha256)
        if existing is not None:
            db.commit()  # its audio, should it still have been a file of an older version
            return existing
        voice = Voice(
            id=new_id("voc"),
            org_id=org_id,
            name=name,
            sha256=clip.sha256,
            duration_seconds=clip.duration_seconds,
            sample_rate=clip.sample_rate,
            size_bytes=len(clip.wav),
            source=source,
            source_url=source_url,
            source_format=clip.source_format,
            created_by_kind=added_by.kind,
            created_by_id=added_by.id,
        )
        audit.note_client_ip(voice, added_by.ip)
        db.add(voice)
        try:
            db.commit()
        except IntegrityError:
            # another API process recorded the same clip for this organisation first
            db.rollback()
            existing = _org_voice_by_sha(db, org_id, clip.sha256)
            if existing is None:
                raise
            return existing
        return voice


def voice_from_url(
    db: Session,
    settings: Settings,
    *,
    org_id: str,
    url: str,
    added_by: AddedBy,
    cache: UrlVoiceCache | None = None,
) -> Voice:
    """Fetch ``url`` under the outbound rules and record it as a voice; blocking.

    With ``cache``, a URL this organisation used within ``voice_url_cache_seconds``
    gives the same voice again without a fetch. Commits (callers must have no pending
    changes). Raises ``VoiceRefused``.
    """
    store = voice_store(settings)
    ttl = settings.voice_url_cache_seconds
    if cache is not None and ttl > 0:
        voice_id = cache.get(org_id, url, ttl=ttl)
        voice = db.get(Voice, voice_id) if voice_id else None
        if voice is not None and voice.org_id == org_id and has_audio(db, store, voice.sha256):
            return voice
    # end the read transaction (callers have nothing pending: storing commits anyway), so
    # no database connection idles inside a transaction for the length of the fetch
    db.commit()
    clip = fetch_clip(
        url, OutboundPolicy.from_settings(settings), IntakeLimits.from_settings(settings)
    )
    voice = add_voice(
        db,
        store,
        org_id=org_id,
        clip=clip,
        source="url",
        source_url=provenance_url(url),
        name=name_from_url(url),
        added_by=added_by,
    )
    if cache is not None:
        cache.put(org_id, url, voice.id)
    return voice


def get_org_voice(db: Session, *, org_id: str, voice_id: str) -> Voice | None:
    """The voice if it exists and belongs to ``org_id``; other organisations see nothing."""
    voice = db.get(Voice, voice_id)
    return voice if voice is not None and voice.org_id == org_id else None


class VoiceNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("voice_not_found", "Voice not found")


def require_org_voice(db: Session, *, org_id: str, voice_id: str) -> Voice:
    """The organisation's voice, or ``VoiceNotFound``."""
    voice = get_org_voice(db, org_id=org_id, voice_id=voice_id)
    if voice is None:
        raise VoiceNotFound()
    return voice


def list_voices(db: Session, *, org_id: str) -> list[Voice]:
    query = select(Voice).where(Voice.org_id == org_id).order_by(Voice.created_at.desc())
    return list(db.scalars(query))


def any_voice_with_sha(db: Session, sha256: str) -> bool:
    return db.scalar(select(Voice.id).where(Voice.sha256 == sha256).limit(1)) is not None


def link_voice(agent: Agent, voice: Voice | None) -> None:
    """Point ``agent`` at ``voice`` (or at none); the caller commits."""
    agent.voice_id = voice.id if voice is not None else None
    agent.reference_audio_sha256 = voice.sha256 if voice is not None else None


def delete_voice(
    db: Session, store: VoiceStore, voice: Voice, *, settings: Settings | None = None
) -> list[str]:
    """Delete ``voice``: agents using it are unlinked (they fall back to the default
    voice), and its audio and enrolments are removed unless another record, in any
    organisation, holds the same content. Voices cloning engines made from it are
    forgotten and, with ``settings``, deleted at the engines in the background.
    Commits; returns the unlinked agent ids."""
    with _files_lock:
        sha256 = voice.sha256
        copies = clones_of(db, voice.id)
        agents = list(db.scalars(select(Agent).where(Agent.voice_id == voice.id)))
        for agent in agents:
            link_voice(agent, None)
            agent.reference_audio_url = None
        db.delete(voice)
        db.commit()
        session_url_cache.forget_voice(voice.id)
        remaining = db.scalar(select(func.count()).select_from(Voice).where(Voice.sha256 == sha256))
        if not remaining:
            remove_audio(db, store, sha256)
            db.commit()
    if settings is not None:
        delete_engine_copies_later(copies, settings)
    return [agent.id for agent in agents]


def _org_voice_by_sha(db: Session, org_id: str, sha256: str) -> Voice | None:
    return db.scalar(select(Voice).where(Voice.org_id == org_id, Voice.sha256 == sha256))
