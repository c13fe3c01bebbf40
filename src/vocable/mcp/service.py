"""MCP server records of an agent: create, change, list, and hand to the worker."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts.errors import ConflictError, InvalidError, NotFoundError, UpstreamError
from vocable.contracts.sessions import WorkerMcpServer
from vocable.db.models import Agent, McpServer
from vocable.ids import new_id
from vocable.mcp.client import McpUnavailable, ServerTarget, close_quietly, connect_server
from vocable.mcp.schemas import (
    HIDDEN,
    McpServerCreate,
    McpServerPublic,
    McpServerUpdate,
    McpTestResult,
    McpToolPublic,
)
from vocable.outbound import OutboundPolicy, OutboundRefused, check_url
from vocable.security.crypto import SecretBox


def check_server_url(url: str, policy: OutboundPolicy) -> None:
    """Refuse (422 naming ``url``) a URL the outbound rules would not connect to.

    Blocking (DNS): call it from a thread. Checked again on every connection, since a
    name may resolve elsewhere later.
    """
    try:
        check_url(url, policy)
    except OutboundRefused as e:
        raise InvalidError(
            e.reason.value, e.message, errors=[{"field": "url", "message": e.message}]
        ) from None


def public(row: McpServer) -> McpServerPublic:
    """The record as the API shows it: header names only, never their values."""
    return McpServerPublic(
        id=row.id,
        agent_id=row.agent_id,
        name=row.name,
        url=row.url,
        transport=row.transport,
        headers=dict.fromkeys(row.header_names or [], HIDDEN),
        timeout_seconds=row.timeout_seconds,
        active=row.active,
        allowed_tools=row.allowed_tools,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_servers(db: Session, agent: Agent) -> list[McpServer]:
    query = select(McpServer).where(
        McpServer.agent_id == agent.id, McpServer.org_id == agent.org_id
    )
    return list(db.scalars(query.order_by(McpServer.created_at)))


def get_server(db: Session, agent: Agent, server_id: str) -> McpServer:
    row = db.get(McpServer, server_id)
    if row is None or row.agent_id != agent.id or row.org_id != agent.org_id:
        raise NotFoundError("mcp_server_not_found", "MCP server not found")
    return row


def create_server(
    db: Session,
    box: SecretBox,
    *,
    agent: Agent,
    data: McpServerCreate,
    max_servers: int,
    actor: Actor | None = None,
) -> McpServer:
    count = db.scalar(select(func.count()).where(McpServer.agent_id == agent.id)) or 0
    if count >= max_servers:
        raise ConflictError(
            "too_many_mcp_servers", f"An agent may have at most {max_servers} MCP servers"
        )
    sealed, names = box.seal_headers(data.headers)
    row = McpServer(
        id=new_id("mcp"),
        org_id=agent.org_id,
        agent_id=agent.id,
        name=data.name,
        url=data.url,
        transport=data.transport,
        headers_encrypted=sealed,
        header_names=names,
        timeout_seconds=data.timeout_seconds,
        active=data.active,
        allowed_tools=data.allowed_tools,
    )
    db.add(row)
    audit.record(
        db,
        org_id=agent.org_id,
        actor=actor,
        action="mcp_server.created",
        target_id=row.id,
        details={"agent_id": agent.id},
    )
    db.commit()
    return row


# stored forms of the headers: their change is audited as "headers" (names, never values)
_HEADER_COLUMNS = frozenset({"headers_encrypted", "header_names", "updated_at"})


def update_server(
    db: Session,
    box: SecretBox,
    row: McpServer,
    data: McpServerUpdate,
    *,
    actor: Actor | None = None,
) -> McpServer:
    """Apply a partial update; ``mcp_server.updated`` names the fields that changed."""
    given = data.model_fields_set
    for field in ("name", "url", "transport", "timeout_seconds", "active"):
        value = getattr(data, field)
        if field in given and value is not None:
            setattr(row, field, value)
    headers_changed = "headers" in given and box.replace_headers(row, data.headers or {})
    if "allowed_tools" in given:
        row.allowed_tools = data.allowed_tools  # null: every tool the server lists
    audit.record_update(
        db,
        row,
        actor=actor,
        action="mcp_server.updated",
        details={"agent_id": row.agent_id},
        ignore=_HEADER_COLUMNS,
        also=("headers",) if headers_changed else (),
    )
    db.commit()
    return row


def delete_server(db: Session, row: McpServer, *, actor: Actor | None = None) -> None:
    audit.record_deletion(
        db, row, actor=actor, action="mcp_server.deleted", details={"agent_id": row.agent_id}
    )


async def test_server(
    db: Session, box: SecretBox, policy: OutboundPolicy, row: McpServer
) -> McpTestResult:
    """Connect with the stored URL and headers and list the server's tools.

    ``InvalidError`` (field ``url``) when the outbound rules refuse the URL,
    ``UpstreamError`` (``mcp_unavailable``) when the server cannot be reached or does not
    speak MCP within its timeout. Closes ``db`` before connecting: nothing more is read,
    and no connection is held while the server answers.
    """
    target = ServerTarget(
        url=row.url,
        transport="sse" if row.transport == "sse" else "streamable_http",
        headers=box.open_headers(row.headers_encrypted),
        timeout=float(row.timeout_seconds),
    )
    allowed = row.allowed_tools
    db.close()
    started = time.monotonic()
    try:
        server, tools = await connect_server(target, policy)
    except McpUnavailable as e:
        if e.refused:
            field = [{"field": "url", "message": e.message}]
            raise InvalidError(e.reason, e.message, errors=field) from None
        raise UpstreamError("mcp_unavailable", e.message, errors=[{"reason": e.reason}]) from None
    await close_quietly(server)
    listed = [
        McpToolPublic(
            name=tool.info.name,
            description=str(tool.info.raw_schema.get("description") or ""),
            allowed=allowed is None or tool.info.name in allowed,
        )
        for tool in tools
    ]
    return McpTestResult(tools=listed, elapsed_ms=round((time.monotonic() - started) * 1000))


def worker_servers(db: Session, box: SecretBox, agent_id: str) -> list[WorkerMcpServer]:
    """The agent's active servers with their headers decrypted, for the worker channel."""
    rows = db.scalars(
        select(McpServer)
        .where(McpServer.agent_id == agent_id, McpServer.active.is_(True))
        .order_by(McpServer.created_at)
    )
    return [
        WorkerMcpServer(
            id=row.id,
            name=row.name,
            url=row.url,
            transport=row.transport,
            headers=box.open_headers(row.headers_encrypted),
            timeout_seconds=row.timeout_seconds,
            allowed_tools=row.allowed_tools,
        )
        for row in rows
    ]


def merge_headers(static: dict[str, str], session: dict[str, str]) -> dict[str, str]:
    """The session's headers over the server's static ones; names compare case-blind."""
    merged = dict(static)
    for name, value in session.items():
        for existing in [k for k in merged if k.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return merged
