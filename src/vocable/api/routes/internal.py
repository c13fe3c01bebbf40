"""The worker channel: session configuration out, call events and transcript turns in.

Authenticated with the worker credential from the data directory, never an API key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy import select

from vocable.api.deps import DbDep, PlatformDep, WorkerDep
from vocable.api.errors import ApiError
from vocable.api.schemas import (
    WorkerEvent,
    WorkerKnownVoices,
    WorkerReport,
    WorkerTurn,
    WorkerVoiceClone,
)
from vocable.contracts.sessions import SessionConfig, WorkerSessionConfig
from vocable.db.models import Voice
from vocable.sessions.capacity import forget_worker, record_report
from vocable.sessions.service import add_turn, record_event
from vocable.sessions.worker import require_session, worker_config
from vocable.voices.audio import audio_bytes
from vocable.voices.clones import (
    PREPARATION_WAIT_SECONDS,
    cached_clone,
    save_clone,
    wait_for_preparation,
)
from vocable.voices.service import any_voice_with_sha, voice_store
from vocable.voices.store import is_sha256

router = APIRouter(prefix="/internal", tags=["worker"], include_in_schema=False)


@router.get("/sessions/{session_id}")
def session_config(
    session_id: str, db: DbDep, platform: PlatformDep, _: WorkerDep
) -> WorkerSessionConfig:
    return worker_config(db, platform, require_session(db, session_id))


@router.get("/sessions/{session_id}/voice-clone")
def session_voice_clone(
    session_id: str, engine: str, target: str, db: DbDep, _: WorkerDep
) -> dict[str, str]:
    """The engine voice id cached for this session's reference voice at ``target``."""
    row = require_session(db, session_id)
    voice_id = SessionConfig.from_stored(row.config).voice_id
    # the agent's voice may be being made right now (it was just saved): wait for it rather
    # than have the worker upload the clip a second time; below the worker channel's 10 s
    wait_for_preparation(voice_id, engine, target, timeout=PREPARATION_WAIT_SECONDS)
    db.commit()  # end the read transaction: the next query sees what that thread committed
    clone = cached_clone(db, voice_id=voice_id, engine=engine, target=target)
    if clone is None:
        raise ApiError(404, "voice_clone_not_found", "No cloned voice cached for this voice")
    return {"provider_voice_id": clone.provider_voice_id}


@router.put("/sessions/{session_id}/voice-clone")
def put_session_voice_clone(
    session_id: str, body: WorkerVoiceClone, db: DbDep, _: WorkerDep
) -> dict[str, str]:
    row = require_session(db, session_id)
    clone = save_clone(
        db,
        voice_id=SessionConfig.from_stored(row.config).voice_id,
        engine=body.engine,
        target=body.target,
        provider_voice_id=body.provider_voice_id,
    )
    if clone is None:
        raise ApiError(409, "voice_gone", "The session's reference voice is no longer stored")
    return {"provider_voice_id": clone.provider_voice_id}


@router.post("/sessions/{session_id}/events")
def session_event(session_id: str, body: WorkerEvent, db: DbDep, _: WorkerDep) -> dict[str, str]:
    row = record_event(
        db, require_session(db, session_id), kind=body.type, reason=body.reason, usage=body.usage
    )
    return {"status": row.status}


@router.post("/sessions/{session_id}/turns", status_code=201)
def session_turn(session_id: str, body: WorkerTurn, db: DbDep, _: WorkerDep) -> dict[str, int]:
    row = require_session(db, session_id)
    turn = add_turn(db, row, seq=body.seq, role=body.role, text=body.text, metrics=body.metrics)
    return {"seq": turn.seq}


@router.post("/voices/known")
def known_voices(body: WorkerKnownVoices, db: DbDep, _: WorkerDep) -> dict[str, list[str]]:
    """Which of these clip hashes some voice record still holds (the worker drops the
    enrolments of the others: a deleted voice leaves nothing derived from it behind)."""
    wanted = {s for s in body.sha256 if is_sha256(s)}
    if not wanted:
        return {"known": []}
    held = db.scalars(select(Voice.sha256).where(Voice.sha256.in_(wanted)))
    return {"known": sorted(set(held))}


@router.get("/voices/{sha256}")
def voice_audio(sha256: str, db: DbDep, platform: PlatformDep, _: WorkerDep) -> Response:
    """A stored reference clip (16-bit mono WAV at 24 kHz) for the worker to enrol.

    Served only while some voice record holds it: a deleted voice is gone here too.
    """
    wav = (
        audio_bytes(db, voice_store(platform.settings), sha256)
        if is_sha256(sha256) and any_voice_with_sha(db, sha256)
        else None
    )
    if wav is None:
        raise ApiError(404, "voice_not_found", "Voice not found")
    return Response(wav, media_type="audio/wav")


WorkerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.post("/workers/{worker_id}", status_code=204)
def worker_report(worker_id: WorkerId, body: WorkerReport, db: DbDep, _: WorkerDep) -> None:
    """A worker's capacity and the calls it runs, every few seconds."""
    record_report(db, worker_id=worker_id, capacity=body.capacity, active=body.active)


@router.delete("/workers/{worker_id}", status_code=204)
def worker_gone(worker_id: WorkerId, db: DbDep, _: WorkerDep) -> None:
    """A worker that stops: its places are gone now, not when its reports are missed."""
    forget_worker(db, worker_id)
