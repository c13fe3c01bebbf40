"""Call records: every session of the organisation, its transcript, and revocation."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select

from vocable import audit
from vocable.api.deps import ActorDep, DbDep, PlatformDep, PrincipalDep
from vocable.api.errors import ApiError
from vocable.api.schemas import CallRecordDetail, CallRecordPublic, TurnPublic
from vocable.db.models import VoiceSession
from vocable.sessions.service import list_turns, revoke_session

router = APIRouter(prefix="/api/sessions", tags=["call records"])


@router.get("")
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


@router.get("/{session_id}")
def get_call_record(session_id: str, db: DbDep, principal: PrincipalDep) -> CallRecordDetail:
    row = db.get(VoiceSession, session_id)
    if row is None or row.org_id != principal.org_id:
        raise ApiError(404, "session_not_found", "Session not found")
    public = CallRecordPublic.model_validate(row)
    turns = [TurnPublic.model_validate(t) for t in list_turns(db, row.id)]
    return CallRecordDetail(**public.model_dump(), turns=turns)


@router.post("/{session_id}/revoke")
def revoke_call(
    session_id: str, db: DbDep, platform: PlatformDep, principal: PrincipalDep, actor: ActorDep
) -> CallRecordPublic:
    """End a session now: it can no longer be joined, and a live call is cut within seconds."""
    row = db.get(VoiceSession, session_id)
    if row is None or row.org_id != principal.org_id:
        raise ApiError(404, "session_not_found", "Session not found")
    if row.status != "ended":  # committed with the revocation by revoke_session
        audit.record(db, org_id=row.org_id, actor=actor, action="session.revoked", target_id=row.id)
    return CallRecordPublic.model_validate(revoke_session(db, platform, row))
