"""Agents and their call records, for dashboard users and API keys of the same organisation."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import select

from vocable.api.deps import CurrentUser, DbDep, PlatformDep, PrincipalDep
from vocable.api.errors import ApiError
from vocable.api.routes.sessions import session_envelope
from vocable.api.schemas import (
    AgentCreate,
    AgentPublic,
    AgentUpdate,
    CallRecordDetail,
    CallRecordPublic,
    SessionEnvelope,
    SessionRequest,
    TestSessionRequest,
    TurnPublic,
)
from vocable.db.models import Agent, VoiceSession
from vocable.services import agents as agent_service
from vocable.services.sessions import create_session, list_turns, revoke_session

router = APIRouter(prefix="/api/agents", tags=["agents"])
records = APIRouter(prefix="/api/sessions", tags=["call records"])

MAX_VOICE_BYTES = 10 * 1024 * 1024
# Container signatures we accept for a reference clip; decoding is checked by the voice
# pipeline, this only keeps obviously wrong files out of storage.
_AUDIO_MAGIC = {
    b"RIFF": "wav",
    b"ID3": "mp3",
    b"\xff\xfb": "mp3",
    b"\xff\xf3": "mp3",
    b"OggS": "ogg",
    b"fLaC": "flac",
    b"\x1aE\xdf\xa3": "webm",
}


def _agent_or_404(db: DbDep, principal: PrincipalDep, agent_id: str) -> Agent:
    agent = agent_service.get_org_agent(db, org_id=principal.org_id, agent_id=agent_id)
    if agent is None:
        raise ApiError(404, "agent_not_found", "Agent not found")
    return agent


@router.get("")
def list_agents(db: DbDep, principal: PrincipalDep) -> list[AgentPublic]:
    return [
        AgentPublic.model_validate(a)
        for a in agent_service.list_agents(db, org_id=principal.org_id)
    ]


@router.post("", status_code=201)
def create_agent(body: AgentCreate, db: DbDep, principal: PrincipalDep) -> AgentPublic:
    return AgentPublic.model_validate(
        agent_service.create_agent(db, org_id=principal.org_id, data=body)
    )


@router.get("/{agent_id}")
def get_agent(agent_id: str, db: DbDep, principal: PrincipalDep) -> AgentPublic:
    return AgentPublic.model_validate(_agent_or_404(db, principal, agent_id))


@router.patch("/{agent_id}")
def update_agent(
    agent_id: str, body: AgentUpdate, db: DbDep, principal: PrincipalDep
) -> AgentPublic:
    agent = _agent_or_404(db, principal, agent_id)
    return AgentPublic.model_validate(agent_service.update_agent(db, agent, body))


@router.delete("/{agent_id}", status_code=204)
def delete_agent(agent_id: str, db: DbDep, principal: PrincipalDep) -> None:
    agent = _agent_or_404(db, principal, agent_id)
    db.delete(agent)
    db.commit()


@router.put("/{agent_id}/voice")
def upload_voice(
    agent_id: str, file: UploadFile, db: DbDep, principal: PrincipalDep, platform: PlatformDep
) -> AgentPublic:
    agent = _agent_or_404(db, principal, agent_id)
    # a plain def: FastAPI runs it in its thread pool, so disk and database work never
    # block the event loop
    data = file.file.read(MAX_VOICE_BYTES + 1)
    if len(data) > MAX_VOICE_BYTES:
        raise ApiError(413, "too_large", f"Reference clip exceeds {MAX_VOICE_BYTES} bytes")
    kind = next((k for magic, k in _AUDIO_MAGIC.items() if data.startswith(magic)), None)
    if kind is None:
        raise ApiError(
            422,
            "invalid_audio",
            "Reference clip must be WAV, MP3, OGG, FLAC or WebM audio",
            errors=[{"field": "file", "message": "unrecognised audio format"}],
        )
    digest = hashlib.sha256(data).hexdigest()
    voices = platform.settings.data_dir / "voices"
    voices.mkdir(parents=True, exist_ok=True)
    path = voices / digest
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    agent.reference_audio_sha256 = digest
    db.commit()
    return AgentPublic.model_validate(agent)


@router.get("/{agent_id}/voice")
def get_voice(
    agent_id: str, db: DbDep, principal: PrincipalDep, platform: PlatformDep
) -> FileResponse:
    agent = _agent_or_404(db, principal, agent_id)
    if not agent.reference_audio_sha256:
        raise ApiError(404, "voice_not_found", "This agent has no uploaded reference clip")
    path = platform.settings.data_dir / "voices" / agent.reference_audio_sha256
    return FileResponse(path, media_type="application/octet-stream")


@router.get("/{agent_id}/sessions")
def list_call_records(
    agent_id: str,
    db: DbDep,
    principal: PrincipalDep,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[CallRecordPublic]:
    _agent_or_404(db, principal, agent_id)
    rows = db.scalars(
        select(VoiceSession)
        .where(VoiceSession.agent_id == agent_id, VoiceSession.org_id == principal.org_id)
        .order_by(VoiceSession.created_at.desc())
        .limit(limit)
    )
    return [CallRecordPublic.model_validate(r) for r in rows]


@router.post("/{agent_id}/test-session", status_code=200)
def create_test_session(
    agent_id: str,
    db: DbDep,
    platform: PlatformDep,
    user: CurrentUser,
    body: TestSessionRequest | None = None,
) -> SessionEnvelope:
    """A "try it" call from the dashboard: same credentials as the public session endpoint.

    Needs a signed-in user (and the CSRF header); counts against the organisation's
    concurrency limit like any other call.
    """
    overrides = body.model_dump(exclude_none=True) if body else {}
    req = SessionRequest(agent=agent_id, **overrides)
    created = create_session(db, platform, org_id=user.org_id, key=None, req=req)
    return session_envelope(created, platform)


@records.get("")
def list_all_call_records(
    db: DbDep,
    principal: PrincipalDep,
    limit: int = Query(default=50, ge=1, le=500),
    agent: str | None = Query(default=None, max_length=64),
) -> list[CallRecordPublic]:
    """The organisation's calls, newest first, optionally for one agent."""
    query = select(VoiceSession).where(VoiceSession.org_id == principal.org_id)
    if agent is not None:
        query = query.where(VoiceSession.agent_id == agent)
    rows = db.scalars(query.order_by(VoiceSession.created_at.desc()).limit(limit))
    return [CallRecordPublic.model_validate(r) for r in rows]


@records.get("/{session_id}")
def get_call_record(session_id: str, db: DbDep, principal: PrincipalDep) -> CallRecordDetail:
    row = db.get(VoiceSession, session_id)
    if row is None or row.org_id != principal.org_id:
        raise ApiError(404, "session_not_found", "Session not found")
    public = CallRecordPublic.model_validate(row)
    turns = [TurnPublic.model_validate(t) for t in list_turns(db, row.id)]
    return CallRecordDetail(**public.model_dump(), turns=turns)


@records.post("/{session_id}/revoke")
def revoke_call(
    session_id: str, db: DbDep, platform: PlatformDep, principal: PrincipalDep
) -> CallRecordPublic:
    """End a session now: it can no longer be joined, and a live call is cut within seconds."""
    row = db.get(VoiceSession, session_id)
    if row is None or row.org_id != principal.org_id:
        raise ApiError(404, "session_not_found", "Session not found")
    return CallRecordPublic.model_validate(revoke_session(db, platform, row))
