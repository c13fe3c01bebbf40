"""Cloning engines' voices made from stored voices: cached ids, and their deletion.

The worker creates a voice at an engine the first time a call needs it and stores the
engine's id here (``voice_clones``), so later calls reuse it. When an organisation deletes
a voice, its rows go with it (a foreign-key cascade) and the engines are asked to delete
their copies, best effort and off the request path: a failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vocable.db.models import Voice, VoiceClone
from vocable.ids import new_id
from vocable.settings import Settings
from vocable.voices.engines import CloneEngineError, engine_for

log = logging.getLogger("vocable.voices.clones")


def cached_clone(
    db: Session, *, voice_id: str | None, engine: str, target: str
) -> VoiceClone | None:
    if not voice_id:
        return None
    return db.scalar(
        select(VoiceClone).where(
            VoiceClone.voice_id == voice_id,
            VoiceClone.engine == engine,
            VoiceClone.target == target,
        )
    )


def save_clone(
    db: Session, *, voice_id: str | None, engine: str, target: str, provider_voice_id: str
) -> VoiceClone | None:
    """Insert or replace the cached id; ``None`` when the voice no longer exists."""
    voice = db.get(Voice, voice_id) if voice_id else None
    if voice is None:
        return None
    clone = cached_clone(db, voice_id=voice.id, engine=engine, target=target)
    if clone is None:
        clone = VoiceClone(
            id=new_id("vcl"),
            org_id=voice.org_id,
            voice_id=voice.id,
            engine=engine,
            target=target,
            provider_voice_id=provider_voice_id,
        )
        db.add(clone)
    else:
        clone.provider_voice_id = provider_voice_id
    try:
        db.commit()
    except IntegrityError:  # deleted meanwhile, or a concurrent call saved one first
        db.rollback()
        return cached_clone(db, voice_id=voice.id, engine=engine, target=target)
    return clone


@dataclass(frozen=True)
class EngineCopy:
    engine: str
    target: str
    provider_voice_id: str


def clones_of(db: Session, voice_id: str) -> list[EngineCopy]:
    rows = db.scalars(select(VoiceClone).where(VoiceClone.voice_id == voice_id))
    return [EngineCopy(r.engine, r.target, r.provider_voice_id) for r in rows]


async def delete_engine_copies(copies: list[EngineCopy], settings: Settings) -> int:
    """Ask each engine to delete its copy; returns how many were deleted. Copies made at
    an endpoint this deployment no longer points at are left (and logged)."""
    deleted = 0
    for copy in copies:
        engine = engine_for(copy.engine, settings)
        if engine is None or engine.target != copy.target:
            log.warning("a cloned voice at an engine no longer configured was not deleted there")
            continue
        try:
            await engine.delete_voice(copy.provider_voice_id)
            deleted += 1
        except CloneEngineError as e:
            log.warning("deleting a cloned voice at %s failed: %s", copy.engine, e)
    return deleted


def delete_engine_copies_later(
    copies: list[EngineCopy], settings: Settings
) -> threading.Thread | None:
    """Run :func:`delete_engine_copies` on a daemon thread (the request does not wait)."""
    if not copies:
        return None
    thread = threading.Thread(
        target=lambda: asyncio.run(delete_engine_copies(copies, settings)),
        name="vocable-voice-clone-delete",
        daemon=True,
    )
    thread.start()
    return thread
