"""Session events into the outbox, inside the transaction that changes the session.

``enqueue_session_event`` is called by ``record_event`` before it commits: the event row
and one delivery per subscribed active endpoint are written with the state change or
not at all, so an event is never lost nor sent for a change that did not happen.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vocable.contracts.sessions import SessionConfig
from vocable.db.engine import insert_skipping_conflicts
from vocable.db.models import (
    TranscriptTurn,
    VoiceSession,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from vocable.ids import new_id

FAILURE_REASONS = frozenset({"error", "unknown", "worker_lost", "worker_crashed"})
"""End reasons that make the end of a call ``session.failed`` rather than ``session.ended``:
the worker crashed or gave no reason, or (``session_closed:<why>``) the voice pipeline
stopped on its own. A caller hanging up, ``max_duration``, ``revoked``, ``room_closed``
and ``duplicate_join`` are ordinary ends."""
_FAILURE_PREFIXES = ("session_closed:",)


def is_failure(reason: str | None) -> bool:
    """Whether a call that ended with ``reason`` failed (see ``FAILURE_REASONS``)."""
    return reason is None or reason in FAILURE_REASONS or reason.startswith(_FAILURE_PREFIXES)


def session_event_type(row: VoiceSession) -> tuple[str, str] | None:
    """The event type and phase for the session's current status, if it has one."""
    if row.status == "active":
        return "session.started", "started"
    if row.status == "ended":
        return ("session.failed" if is_failure(row.end_reason) else "session.ended"), "ended"
    return None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _finite(value: Any) -> Any:
    """JSON without NaN or Infinity (receivers' parsers refuse them): those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def session_data(db: Session, row: VoiceSession, *, with_transcript: bool) -> dict[str, Any]:
    """The ``data.session`` object of an event: the call record, never the prompt."""
    config = SessionConfig.from_stored(row.config)
    duration = None
    if row.started_at is not None and row.ended_at is not None:
        duration = round((row.ended_at - row.started_at).total_seconds(), 3)
    session: dict[str, Any] = {
        "id": row.id,
        "agent_id": row.agent_id,
        "room_name": row.room_name,
        "status": row.status,
        "language": config.language,
        "metadata": config.metadata,
        "origin_url": config.origin_url,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "ended_at": _iso(row.ended_at),
        "end_reason": row.end_reason,
        "duration_seconds": duration,
        "usage": row.usage or {},
    }
    if with_transcript:
        turns = db.scalars(
            select(TranscriptTurn)
            .where(TranscriptTurn.session_id == row.id)
            .order_by(TranscriptTurn.seq)
        )
        session["turns"] = [
            {
                "seq": t.seq,
                "role": t.role,
                "text": t.text,
                "metrics": t.metrics or {},
                "created_at": _iso(t.created_at),
            }
            for t in turns
        ]
    return session


def _insert_once(db: Session, values: dict[str, Any]) -> bool:
    """Insert the event unless its (session, phase) exists; ``False`` if it did.

    PostgreSQL makes a racing second insert wait for the first to commit and then skip,
    so two reports of the same change cannot both emit an event.
    """
    stmt = insert_skipping_conflicts(WebhookEvent, db.get_bind().dialect.name)
    # RETURNING, not rowcount: drivers report -1 for some inserts
    return db.execute(stmt.values(**values).returning(WebhookEvent.id)).first() is not None


def enqueue_session_event(db: Session, row: VoiceSession) -> str | None:
    """Queue the event for the session's new status; returns its id, or ``None`` when no
    active endpoint of the organisation subscribes to it. Does not commit."""
    kind = session_event_type(row)
    if kind is None:
        return None
    event_type, phase = kind
    endpoints = [
        e
        for e in db.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.org_id == row.org_id, WebhookEndpoint.active.is_(True)
            )
        )
        if event_type in (e.events or [])
    ]
    if not endpoints:
        return None
    now = datetime.now(UTC)
    event_id = new_id("evt")
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": _iso(now),
        "data": {"session": session_data(db, row, with_transcript=phase == "ended")},
    }
    payload = json.dumps(_finite(body), separators=(",", ":"), allow_nan=False)
    values = {
        "id": event_id,
        "org_id": row.org_id,
        "type": event_type,
        "session_id": row.id,
        "phase": phase,
        "payload": payload,
        "created_at": now,
    }
    if not _insert_once(db, values):
        return None
    db.add_all(
        WebhookDelivery(
            id=new_id("whd"),
            org_id=row.org_id,
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for endpoint in endpoints
    )
    return event_id
