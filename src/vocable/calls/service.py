"""Call records: read an organisation's sessions and transcripts; revoke a live call.

The records are written by ``vocable.sessions`` (creation, then the worker's reports);
this package is how the dashboard and the API read them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts.errors import NotFoundError, UnavailableError
from vocable.db.models import TranscriptTurn, VoiceSession
from vocable.livekit.rooms import RoomAdmin, RoomAdminError
from vocable.platform import Platform
from vocable.sessions.service import record_event


class CallNotFound(NotFoundError):
    """No such session in the caller's organisation."""

    def __init__(self) -> None:
        super().__init__("session_not_found", "Session not found")


def list_calls(
    db: Session,
    *,
    org_id: str,
    agent_id: str | None = None,
    agent_ids: list[str] | None = None,
    limit: int = 50,
) -> list[VoiceSession]:
    """The organisation's calls, newest first, optionally for one agent (or only those of
    ``agent_ids``, a limited key's agents)."""
    query = select(VoiceSession).where(VoiceSession.org_id == org_id)
    if agent_id is not None:
        query = query.where(VoiceSession.agent_id == agent_id)
    if agent_ids is not None:
        query = query.where(VoiceSession.agent_id.in_(agent_ids))
    return list(db.scalars(query.order_by(VoiceSession.created_at.desc()).limit(limit)))


def require_call(db: Session, *, org_id: str, session_id: str) -> VoiceSession:
    """The organisation's call record, or ``CallNotFound``."""
    row = db.get(VoiceSession, session_id)
    if row is None or row.org_id != org_id:
        raise CallNotFound()
    return row


def list_turns(db: Session, session_id: str) -> list[TranscriptTurn]:
    return list(
        db.scalars(
            select(TranscriptTurn)
            .where(TranscriptTurn.session_id == session_id)
            .order_by(TranscriptTurn.seq)
        )
    )


def revoke_call(
    db: Session, platform: Platform, row: VoiceSession, *, actor: Actor | None = None
) -> VoiceSession:
    """End a call now: it can no longer be joined, and a live call is cut within seconds.

    ``session.revoked`` is audited (once) in the commit that records the revocation.
    """
    if row.status != "ended":
        audit.record(db, org_id=row.org_id, actor=actor, action="session.revoked", target_id=row.id)
    return _revoke(db, platform, row)


def _revoke(db: Session, platform: Platform, row: VoiceSession) -> VoiceSession:
    """End a call now: record it as revoked, then close its room so everyone is removed.

    The record is written first, so a worker that joins late or an expired token's
    re-dispatch finds the session closed even if LiveKit cannot be reached; calling
    again retries closing the room. A call that already ended keeps its own reason.
    """
    record_event(db, row, kind="ended", reason="revoked", usage=None)
    admin = RoomAdmin(
        livekit_url=platform.settings.resolved_livekit_url,
        api_key=platform.secrets.livekit_api_key,
        api_secret=platform.secrets.livekit_api_secret,
    )
    try:
        admin.delete_room(row.room_name)
    except RoomAdminError as e:
        raise UnavailableError(
            "livekit_unavailable",
            f"The session is revoked but its room could not be closed ({e}); try again",
            retry_after=2,
        ) from None
    return row
