"""What the voice worker reads of a session: its configuration, once per call.

The worker authenticates with the worker credential (never an API key); ``api/`` checks
it before any of this runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from vocable.contracts.errors import ConflictError, NotFoundError
from vocable.contracts.sessions import SessionConfig, WorkerSessionConfig
from vocable.db.models import Agent, KnowledgeDocument, VoiceSession
from vocable.http_tools.service import worker_tools
from vocable.mcp.service import worker_servers
from vocable.platform import Platform
from vocable.sessions.service import START_GRACE, session_values


class SessionNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("session_not_found", "Session not found")


class SessionClosed(ConflictError):
    """The call has ended, or nobody joined it in time."""

    def __init__(self) -> None:
        super().__init__("session_closed", "Session has ended or expired")


class SessionAnswered(ConflictError):
    """Another agent runs the call: a second dispatch for it (LiveKit dispatches a room's
    agent again when a caller's reconnect recreates the room on another node)."""

    def __init__(self) -> None:
        super().__init__("session_answered", "Another agent is running this call")


def require_session(db: Session, session_id: str) -> VoiceSession:
    row = db.get(VoiceSession, session_id)
    if row is None:
        raise SessionNotFound()
    return row


def worker_config(db: Session, platform: Platform, row: VoiceSession) -> WorkerSessionConfig:
    """The session's configuration with what the worker needs to run the call: MCP
    servers with their opened headers, HTTP tools with their variables filled, where to
    fetch the reference clip, whether to search knowledge. ``SessionClosed`` once the call
    can no longer start."""
    now = datetime.now(UTC)
    too_late = row.status == "created" and row.join_deadline + START_GRACE <= now
    if row.status == "ended" or too_late:
        # a token still valid after its call ended can recreate the room and dispatch the
        # agent again: that is not a new call, and the worker must leave
        raise SessionClosed()
    heard = row.worker_seen_at
    silent_after = timedelta(seconds=platform.settings.worker_heartbeat_timeout_seconds)
    if row.status == "active" and heard is not None and heard > now - silent_after:
        # its worker beats (every 2 s): one agent per call; the second must not join
        raise SessionAnswered()
    config = SessionConfig.from_stored(row.config)
    sha256 = config.reference_audio_sha256
    headers = platform.box.open_headers(row.mcp_headers_encrypted)
    agent = db.get(Agent, row.agent_id)
    # the same values the prompt was filled with at creation (the session's time, its
    # metadata, the agent's defaults): HTTP tools' headers are never copied into the row
    values = session_values(agent, config, row.created_at) if agent is not None else {}
    return WorkerSessionConfig(
        **config.model_dump(),
        session_id=row.id,
        agent_id=row.agent_id,
        org_id=row.org_id,
        room_name=row.room_name,
        participant_identity=row.participant_identity,
        status=row.status,
        reference_audio_path=f"/internal/voices/{sha256}" if sha256 else None,
        mcp_headers=headers,
        mcp_servers=worker_servers(db, platform.box, row.agent_id),
        http_tools=worker_tools(db, platform.box, row.agent_id, values),
        has_knowledge=_has_knowledge(db, row.agent_id),
    )


def require_live_session(db: Session, session_id: str) -> VoiceSession:
    """A session whose call may still run (for per-turn work such as knowledge search)."""
    row = require_session(db, session_id)
    if row.status == "ended" or row.hard_deadline <= datetime.now(UTC):
        raise SessionClosed()
    return row


def _has_knowledge(db: Session, agent_id: str) -> bool:
    """Whether the agent has a document that is searchable or still being indexed."""
    query = select(
        exists().where(KnowledgeDocument.agent_id == agent_id, KnowledgeDocument.status != "failed")
    )
    return bool(db.scalar(query))
