"""Call records: every session of the organisation, its transcript, and revocation."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from vocable.api.deps import ActorDep, CallsRead, CallsWrite, DbDep, PlatformDep, Principal
from vocable.api.schemas import CallRecordDetail, CallRecordPublic, TurnPublic
from vocable.calls import service as calls
from vocable.contracts.sessions import SessionConfig
from vocable.db.models import VoiceSession

router = APIRouter(prefix="/api/sessions", tags=["call records"])


def _call(db: Session, principal: Principal, session_id: str) -> VoiceSession:
    """The organisation's call, if the principal may reach its agent (403 otherwise)."""
    row = calls.require_call(db, org_id=principal.org_id, session_id=session_id)
    principal.require_agent(row.agent_id)
    return row


@router.get("")
def list_all_call_records(
    db: DbDep,
    principal: CallsRead,
    limit: int = Query(default=50, ge=1, le=500),
    agent: str | None = Query(default=None, max_length=64),
) -> list[CallRecordPublic]:
    """The organisation's calls, newest first, optionally for one agent (for a key limited
    to agents: only theirs)."""
    if agent is not None:
        principal.require_agent(agent)
    rows = calls.list_calls(
        db, org_id=principal.org_id, agent_id=agent, agent_ids=principal.agent_ids, limit=limit
    )
    return [CallRecordPublic.model_validate(r) for r in rows]


@router.get("/{session_id}")
def get_call_record(session_id: str, db: DbDep, principal: CallsRead) -> CallRecordDetail:
    row = _call(db, principal, session_id)
    public = CallRecordPublic.model_validate(row)
    config = SessionConfig.from_stored(row.config)
    turns = [TurnPublic.model_validate(t) for t in calls.list_turns(db, row.id)]
    return CallRecordDetail(
        **public.model_dump(),
        language=config.language,
        system_prompt=config.system_prompt,
        greeting=config.greeting,
        metadata=config.metadata,
        origin_url=config.origin_url,
        turns=turns,
    )


@router.post("/{session_id}/revoke")
def revoke_call(
    session_id: str, db: DbDep, platform: PlatformDep, principal: CallsWrite, actor: ActorDep
) -> CallRecordPublic:
    """End a session now: it can no longer be joined, and a live call is cut within seconds."""
    row = _call(db, principal, session_id)
    return CallRecordPublic.model_validate(calls.revoke_call(db, platform, row, actor=actor))
