"""MCP servers of an agent: ``/api/agents/{agent_id}/mcp-servers``.

Same principals and organisation scoping as the agent routes: another organisation's
agent or server is a 404. Header values are write-only.
"""

from __future__ import annotations

import time

from fastapi import APIRouter

from vocable.api.deps import ActorDep, DbDep, PlatformDep, PrincipalDep
from vocable.api.errors import ApiError
from vocable.api.routes.agents import _agent_or_404
from vocable.mcp import service
from vocable.mcp.client import McpUnavailable, ServerTarget, close_quietly, connect_server
from vocable.mcp.schemas import (
    McpServerCreate,
    McpServerPublic,
    McpServerUpdate,
    McpTestResult,
    McpToolPublic,
)
from vocable.outbound import OutboundPolicy

router = APIRouter(prefix="/api/agents/{agent_id}/mcp-servers", tags=["mcp servers"])


@router.get("")
def list_mcp_servers(agent_id: str, db: DbDep, principal: PrincipalDep) -> list[McpServerPublic]:
    agent = _agent_or_404(db, principal, agent_id)
    return [service.public(row) for row in service.list_servers(db, agent)]


@router.post("", status_code=201, responses={409: {}, 422: {}})
def create_mcp_server(
    agent_id: str,
    body: McpServerCreate,
    db: DbDep,
    principal: PrincipalDep,
    platform: PlatformDep,
    actor: ActorDep,
) -> McpServerPublic:
    """Connect a server to the agent. The URL must pass the outbound rules (422 on ``url``).

    A plain def: the URL check resolves DNS, which FastAPI runs in its thread pool.
    """
    agent = _agent_or_404(db, principal, agent_id)
    service.check_server_url(body.url, OutboundPolicy.from_settings(platform.settings))
    row = service.create_server(
        db,
        platform.box,
        agent=agent,
        data=body,
        max_servers=platform.settings.mcp_max_servers_per_agent,
        actor=actor,
    )
    return service.public(row)


@router.get("/{server_id}")
def get_mcp_server(
    agent_id: str, server_id: str, db: DbDep, principal: PrincipalDep
) -> McpServerPublic:
    agent = _agent_or_404(db, principal, agent_id)
    return service.public(service.get_server(db, agent, server_id))


@router.patch("/{server_id}", responses={422: {}})
def update_mcp_server(
    agent_id: str,
    server_id: str,
    body: McpServerUpdate,
    db: DbDep,
    principal: PrincipalDep,
    platform: PlatformDep,
    actor: ActorDep,
) -> McpServerPublic:
    agent = _agent_or_404(db, principal, agent_id)
    row = service.get_server(db, agent, server_id)
    if body.url is not None:
        service.check_server_url(body.url, OutboundPolicy.from_settings(platform.settings))
    return service.public(service.update_server(db, platform.box, row, body, actor=actor))


@router.delete("/{server_id}", status_code=204)
def delete_mcp_server(
    agent_id: str, server_id: str, db: DbDep, principal: PrincipalDep, actor: ActorDep
) -> None:
    agent = _agent_or_404(db, principal, agent_id)
    service.delete_server(db, service.get_server(db, agent, server_id), actor=actor)


@router.post("/{server_id}/test", responses={422: {}, 502: {}})
async def test_mcp_server(
    agent_id: str,
    server_id: str,
    db: DbDep,
    principal: PrincipalDep,
    platform: PlatformDep,
) -> McpTestResult:
    """Connect with the stored URL and headers and list the server's tools.

    422 when the URL is refused by the outbound rules, 502 when the server cannot be
    reached or does not speak MCP within its timeout; ``code`` says which.
    """
    agent = _agent_or_404(db, principal, agent_id)
    row = service.get_server(db, agent, server_id)
    target = ServerTarget(
        url=row.url,
        transport="sse" if row.transport == "sse" else "streamable_http",
        headers=service.stored_headers(platform.box, row),
        timeout=float(row.timeout_seconds),
    )
    allowed = row.allowed_tools
    db.close()  # nothing more to read: do not hold a connection while the server answers
    policy = OutboundPolicy.from_settings(platform.settings)
    started = time.monotonic()
    try:
        server, tools = await connect_server(target, policy)
    except McpUnavailable as e:
        if e.refused:
            field = [{"field": "url", "message": e.message}]
            raise ApiError(422, e.reason, e.message, errors=field) from None
        raise ApiError(502, "mcp_unavailable", e.message, errors=[{"reason": e.reason}]) from None
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
