"""HTTP tools of an agent: create, change, list, and hand to the worker."""

from __future__ import annotations

import logging
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts import variables
from vocable.contracts.errors import ConflictError, InvalidError, NotFoundError, field_error
from vocable.contracts.sessions import WorkerHttpTool
from vocable.db.models import Agent, HttpTool
from vocable.http_tools.schemas import (
    HIDDEN,
    HttpToolCreate,
    HttpToolPublic,
    HttpToolUpdate,
    used_variables,
)
from vocable.ids import new_id
from vocable.outbound import OutboundPolicy, OutboundRefused, check_url
from vocable.security.crypto import SecretBox

log = logging.getLogger(__name__)


class HttpToolNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("http_tool_not_found", "HTTP tool not found")


def check_tool_url(url: str, policy: OutboundPolicy) -> None:
    """Refuse (422 naming ``url``) a URL the outbound rules would not connect to.

    The host is fixed (variables are refused there), so the check holds whatever values
    a session fills in; each call is checked again. Blocking (DNS): call from a thread.
    """
    try:
        check_url(variables.PLACEHOLDER.sub("x", url), policy)
    except OutboundRefused as e:
        raise InvalidError(
            e.reason.value, e.message, errors=[{"field": "url", "message": e.message}]
        ) from None


def public(row: HttpTool) -> HttpToolPublic:
    """The tool as the API shows it: header names only, never their values."""
    return HttpToolPublic(
        id=row.id,
        agent_id=row.agent_id,
        name=row.name,
        description=row.description,
        method=row.method,
        url=row.url,
        parameters=row.parameters,
        headers=dict.fromkeys(row.header_names or [], HIDDEN),
        variables=row.variables or [],
        timeout_seconds=row.timeout_seconds,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_tools(db: Session, agent: Agent) -> list[HttpTool]:
    query = select(HttpTool).where(HttpTool.agent_id == agent.id, HttpTool.org_id == agent.org_id)
    return list(db.scalars(query.order_by(HttpTool.created_at)))


def get_tool(db: Session, agent: Agent, tool_id: str) -> HttpTool:
    row = db.get(HttpTool, tool_id)
    if row is None or row.agent_id != agent.id or row.org_id != agent.org_id:
        raise HttpToolNotFound()
    return row


def _check_name_free(db: Session, agent_id: str, name: str, tool_id: str | None = None) -> None:
    query = select(HttpTool.id).where(HttpTool.agent_id == agent_id, HttpTool.name == name)
    if any(found != tool_id for found in db.scalars(query)):
        raise field_error(
            ConflictError,
            "http_tool_name_taken",
            "name",
            f"this agent already has a tool named {name}",
        )


def create_tool(
    db: Session,
    box: SecretBox,
    *,
    agent: Agent,
    data: HttpToolCreate,
    max_tools: int,
    actor: Actor | None = None,
) -> HttpTool:
    count = db.scalar(select(func.count()).where(HttpTool.agent_id == agent.id)) or 0
    if count >= max_tools:
        raise ConflictError(
            "too_many_http_tools", f"An agent may have at most {max_tools} HTTP tools"
        )
    _check_name_free(db, agent.id, data.name)
    sealed, names = box.seal_headers(data.headers)
    row = HttpTool(
        id=new_id("tool"),
        org_id=agent.org_id,
        agent_id=agent.id,
        name=data.name,
        description=data.description,
        method=data.method,
        url=data.url,
        parameters=data.parameters,
        headers_encrypted=sealed,
        header_names=names,
        variables=used_variables(data.url, data.description, data.headers),
        timeout_seconds=data.timeout_seconds,
        enabled=data.enabled,
    )
    db.add(row)
    audit.record(
        db,
        org_id=agent.org_id,
        actor=actor,
        action="http_tool.created",
        target_id=row.id,
        details={"agent_id": agent.id},
    )
    db.commit()
    return row


# stored forms of the headers: their change is audited as "headers" (names, never values)
_DERIVED_COLUMNS = frozenset({"headers_encrypted", "header_names", "variables", "updated_at"})


def update_tool(
    db: Session,
    box: SecretBox,
    row: HttpTool,
    data: HttpToolUpdate,
    *,
    actor: Actor | None = None,
) -> HttpTool:
    """Apply a partial update; ``http_tool.updated`` names the fields that changed."""
    given = data.model_fields_set
    if "name" in given and data.name is not None and data.name != row.name:
        _check_name_free(db, row.agent_id, data.name, row.id)
    for field in (
        "name",
        "description",
        "method",
        "url",
        "parameters",
        "timeout_seconds",
        "enabled",
    ):
        value = getattr(data, field)
        if field in given and value is not None:
            setattr(row, field, value)
    headers_changed = "headers" in given and box.replace_headers(row, data.headers or {})
    headers = box.open_headers(row.headers_encrypted)
    row.variables = used_variables(row.url, row.description, headers)
    audit.record_update(
        db,
        row,
        actor=actor,
        action="http_tool.updated",
        details={"agent_id": row.agent_id},
        ignore=_DERIVED_COLUMNS,
        also=("headers",) if headers_changed else (),
    )
    db.commit()
    return row


def delete_tool(db: Session, row: HttpTool, *, actor: Actor | None = None) -> None:
    audit.record_deletion(
        db, row, actor=actor, action="http_tool.deleted", details={"agent_id": row.agent_id}
    )


def _fill_url(url: str, values: dict[str, str]) -> str:
    # a value is data, never URL syntax: "a/b?c" stays inside its path segment or parameter
    return variables.PLACEHOLDER.sub(
        lambda m: quote(values[m.group(1)], safe="") if m.group(1) in values else m.group(0), url
    )


def worker_tools(
    db: Session, box: SecretBox, agent_id: str, values: dict[str, str]
) -> list[WorkerHttpTool]:
    """The agent's enabled tools, headers opened and ``{{variables}}`` filled from
    ``values`` (the session's). A tool that still has an unfilled variable (a default
    removed after the session was checked) or a header value that is no longer a single
    line is left out with a warning: it is never called half-filled."""
    rows = db.scalars(
        select(HttpTool)
        .where(HttpTool.agent_id == agent_id, HttpTool.enabled.is_(True))
        .order_by(HttpTool.created_at)
    )
    out = []
    for row in rows:
        missing = sorted(set(row.variables or []) - set(values))
        headers = {
            k: variables.fill(v, values) for k, v in box.open_headers(row.headers_encrypted).items()
        }
        if missing or any(c in v for v in headers.values() for c in "\r\n\x00"):
            log.warning(
                "HTTP tool left out of the call: variables missing or invalid",
                extra={"http_tool_id": row.id, "variables": missing},
            )
            continue
        out.append(
            WorkerHttpTool(
                id=row.id,
                name=row.name,
                description=variables.fill(row.description, values),
                method=row.method,
                url=_fill_url(row.url, values),
                headers=headers,
                parameters=row.parameters,
                timeout_seconds=row.timeout_seconds,
            )
        )
    return out
