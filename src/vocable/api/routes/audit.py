"""The organisation's audit log, for its dashboard users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from vocable import audit
from vocable.accounts.members import require_role
from vocable.api.deps import CurrentUser, DbDep
from vocable.api.errors import ApiError

router = APIRouter(prefix="/api/audit", tags=["audit log"])


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: datetime
    action: str
    """``key.created|rotated|updated|revoked``, ``agent.created|updated|deleted``,
    ``session.revoked``, ``voice.created|deleted``, ``knowledge_document.created|deleted``,
    ``mcp_server.created|updated|deleted`` or
    ``webhook.created|updated|deleted|secret_rotated``."""
    actor_kind: str
    """``user`` (dashboard), ``api_key`` or ``system`` (the CLI on the host)."""
    actor_id: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any]
    """Names only, e.g. ``{"fields": ["system_prompt"]}``; never the values."""


@router.get("", responses={403: {"description": "Your role is below admin"}, 422: {}})
def list_audit_events(
    db: DbDep,
    user: CurrentUser,
    limit: int = Query(default=50, ge=1, le=500),
    action: str | None = Query(default=None, max_length=64),
) -> list[AuditEventPublic]:
    """Changes to the organisation's keys, agents, sessions, voices, knowledge documents,
    MCP servers, webhook endpoints and members, newest first (admins and owners)."""
    require_role(user, "admin")
    if action is not None and action not in audit.ACTIONS:
        raise ApiError(
            422,
            "invalid_request",
            "Invalid request: check action",
            errors=[{"field": "action", "message": f"one of {sorted(audit.ACTIONS)}"}],
        )
    rows = audit.list_events(db, org_id=user.org_id, limit=limit, action=action)
    return [AuditEventPublic.model_validate(r) for r in rows]
