"""Cloning engines' voices made from stored voices: cached ids, and their deletion.

An engine's voice id is stored here (``voice_clones``) so that every call reuses it:

- When an agent is saved with a reference voice and a cloning engine that this API
  process is configured for, the API makes the engine's voice at once, in the background
  (:func:`prepare_agent_clone_later`), so the agent's first call does not wait for it.
  While that runs, the worker's lookup of the cached id waits for it (same process).
- Otherwise the worker makes it the first time a call needs it (a session's own
  reference clip, or an engine only the worker is configured for).

When an organisation deletes a voice, its rows go with it (a foreign-key cascade) and the
engines are asked to delete their copies, best effort and off the request path: a
failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vocable.db.models import Agent, Voice, VoiceClone
from vocable.ids import new_id
from vocable.settings import Settings
from vocable.voices.audio import audio_bytes
from vocable.voices.engines import CloneEngine, CloneEngineError, engine_for
from vocable.voices.store import VoiceStore

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


# --- making the engine's voice when an agent is saved ---------------------------------------

SessionFactory = Callable[[], AbstractContextManager[Session]]

PREPARATION_WAIT_SECONDS = 8.0
"""How long the worker's lookup of a cached id waits for a preparation in progress (the
worker channel gives up after 10 s)."""

_preparing: dict[tuple[str, str, str], threading.Event] = {}
_preparing_lock = threading.Lock()


def wait_for_preparation(voice_id: str | None, engine: str, target: str, timeout: float) -> None:
    """Block until this process has finished making that voice at that engine, if it is
    making it now (at most ``timeout`` s); return at once otherwise."""
    if not voice_id:
        return
    with _preparing_lock:
        done = _preparing.get((voice_id, engine, target))
    if done is not None:
        done.wait(timeout)


async def prepare_clone(
    sessions: SessionFactory,
    settings: Settings,
    store: VoiceStore,
    *,
    voice_id: str,
    engine: CloneEngine,
) -> str | None:
    """Make ``voice_id``'s voice at ``engine`` unless it is cached; returns the engine's
    id, or ``None`` when the voice is gone or the engine failed (logged: the worker tries
    again when a call needs the voice)."""
    with sessions() as db:
        cached = cached_clone(db, voice_id=voice_id, engine=engine.name, target=engine.target)
        if cached is not None:
            return cached.provider_voice_id
        voice = db.get(Voice, voice_id)
        clip = audio_bytes(db, store, voice.sha256) if voice is not None else None
    if clip is None:
        return None
    try:
        made = await asyncio.wait_for(
            engine.create_voice(clip, label=voice_id), settings.voice_clone_timeout_seconds
        )
    except (CloneEngineError, httpx.HTTPError, TimeoutError) as e:
        log.warning(
            "voice engine %s could not make a saved agent's voice (%s); its first call will try",
            engine.name,
            e if isinstance(e, CloneEngineError) else type(e).__name__,
        )
        return None
    with sessions() as db:
        saved = save_clone(
            db, voice_id=voice_id, engine=engine.name, target=engine.target, provider_voice_id=made
        )
    if saved is None:  # the voice was deleted meanwhile: do not leave its copy behind
        await delete_engine_copies([EngineCopy(engine.name, engine.target, made)], settings)
        return None
    log.info("made a cloned voice for a saved agent", extra={"engine": engine.name})
    return saved.provider_voice_id


def prepare_agent_clone_later(
    agent: Agent, sessions: SessionFactory, settings: Settings, store: VoiceStore
) -> threading.Thread | None:
    """After an agent is saved: make its voice at its cloning engine on a daemon thread,
    when it has a reference voice, its engine is configured here, and no one is making it
    already in this process. Returns the thread, or ``None`` when there is nothing to do."""
    voice_id = agent.voice_id
    # None for ``embedded`` and for engines this process is not configured for
    engine = engine_for(agent.voice_model or settings.default_voice_model, settings)
    if not voice_id or engine is None:
        return None
    key = (voice_id, engine.name, engine.target)
    with _preparing_lock:
        if key in _preparing:
            return None
        done = _preparing[key] = threading.Event()

    def run() -> None:
        try:
            asyncio.run(prepare_clone(sessions, settings, store, voice_id=voice_id, engine=engine))
        except Exception:  # a background thread has no caller to raise to
            log.exception("making a saved agent's cloned voice failed")
        finally:
            with _preparing_lock:
                _preparing.pop(key, None)
            done.set()

    thread = threading.Thread(target=run, name="vocable-voice-clone-prepare", daemon=True)
    thread.start()
    return thread
