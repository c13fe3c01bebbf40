"""The audit log: who changed an organisation's keys, agents, sessions, voices, knowledge
documents, MCP servers and webhook endpoints, and when.

Events are added to the caller's database session and committed with the change they
record, so a change is never logged without happening nor happens without being
logged. They name what changed, never values: prompts, greetings, header values, URLs
and secrets stay out of the log.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from vocable.db.models import AuditEvent, Voice

ActorKind = Literal["user", "api_key", "system"]

ACTIONS = frozenset(
    {
        "key.created",
        "key.rotated",
        "key.updated",
        "key.revoked",
        "agent.created",
        "agent.updated",
        "agent.deleted",
        "session.revoked",
        "voice.created",
        "voice.deleted",
        "knowledge_document.created",
        "knowledge_document.deleted",
        "mcp_server.created",
        "mcp_server.updated",
        "mcp_server.deleted",
        "http_tool.created",
        "http_tool.updated",
        "http_tool.deleted",
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
        "webhook.secret_rotated",
        "user.locked",
        "user.unlocked",
        "user.password_changed",
        "user.password_reset",
        "member.invited",
        "member.invite_revoked",
        "member.joined",
        "member.role_changed",
        "member.removed",
    }
)


@dataclass(frozen=True)
class Actor:
    """Who made a change: a dashboard user, an API key, or the operator (``system``)."""

    kind: ActorKind
    id: str | None = None
    ip: str | None = None
    """The client address (see ``vocable.api.deps.client_address``); None off the API."""


SYSTEM = Actor(kind="system")
"""The CLI and first-run setup: changes made on the host, not through the API."""


def record(
    db: Session,
    *,
    org_id: str,
    actor: Actor | None,
    action: str,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to ``db``'s transaction; the caller's commit writes it with the change."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    who = actor or SYSTEM
    row = AuditEvent(
        org_id=org_id,
        actor_kind=who.kind,
        actor_id=who.id,
        action=action,
        target_id=target_id,
        ip=who.ip,
        details=details or {},
    )
    db.add(row)
    return row


def changed_fields(obj: object, *, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Names of the mapped attributes of ``obj`` changed since it was loaded (not values)."""
    state = inspect(obj)
    return sorted(
        attr.key for attr in state.attrs if attr.key not in ignore and attr.history.has_changes()
    )


def record_update(
    db: Session,
    row: Any,
    *,
    actor: Actor | None,
    action: str,
    details: dict[str, Any],
    ignore: frozenset[str] = frozenset(),
    also: tuple[str, ...] = (),
) -> None:
    """Audit ``action`` on ``row`` (its ``org_id`` and ``id``) naming the fields that
    changed since it was loaded, plus ``also`` (changes its columns do not show, such as
    write-only headers); nothing when none did."""
    fields = sorted({*changed_fields(row, ignore=ignore), *also})
    if fields:
        record(
            db,
            org_id=row.org_id,
            actor=actor,
            action=action,
            target_id=row.id,
            details={**details, "fields": fields},
        )


def record_deletion(
    db: Session,
    row: Any,
    *,
    actor: Actor | None,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Delete ``row`` (its ``org_id`` and ``id`` named) and audit ``action``, committed
    together."""
    record(db, org_id=row.org_id, actor=actor, action=action, target_id=row.id, details=details)
    db.delete(row)
    db.commit()


def list_events(
    db: Session, *, org_id: str, limit: int, action: str | None = None
) -> list[AuditEvent]:
    """The organisation's events, newest first."""
    query = select(AuditEvent).where(AuditEvent.org_id == org_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(db.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))


_client_ips: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def note_client_ip(obj: object, ip: str | None) -> None:
    """Remember the client address of the request that created ``obj``, for the event the
    flush hook below records (objects created deep inside a service carry no actor)."""
    if ip is not None:
        _client_ips[obj] = ip


@event.listens_for(Session, "before_flush")
def _record_new_voices(db: Session, *_: object) -> None:
    # A voice is created by several paths (an agent's upload or URL, a session's
    # reference_audio_url) inside vocable.voices, which commits on its own; recording it
    # here writes the event in the same flush, whichever path added it. Its provenance
    # names the actor; the request's client address rides along on the new object.
    for voice in [obj for obj in db.new if isinstance(obj, Voice)]:
        record(
            db,
            org_id=voice.org_id,
            actor=Actor(
                kind="api_key" if voice.created_by_kind == "api_key" else "user",
                id=voice.created_by_id,
                ip=_client_ips.pop(voice, None),
            ),
            action="voice.created",
            target_id=voice.id,
            details={"source": voice.source},
        )


@event.listens_for(AuditEvent, "before_update")
def _append_only(*_: object) -> None:
    # the database refuses UPDATE too (a trigger, migration 0005); this names the mistake
    raise RuntimeError("audit events are append-only")
