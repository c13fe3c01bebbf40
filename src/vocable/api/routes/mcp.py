"""MCP servers of an agent: ``/api/agents/{agent_id}/mcp-servers``.

Same principals, organisation scoping and agent limits of keys as the agent routes:
another organisation's agent or server is a 404. Header values are write-only.
"""

from __future__ import annotations

from fastapi import APIRouter

from vocable.api.deps import (
    ActorDep,
    DbDep,
    McpRead,
    McpWrite,
    PlatformDep,
    reachable_agent,
)
from vocable.mcp import service
from vocable.mcp.schemas import McpServerCreate, McpServerPublic, McpServerUpdate, McpTestResult
from vocable.outbound import OutboundPolicy

router = APIRouter(prefix="/api/agents/{agent_id}/mcp-servers", tags=["mcp servers"])


@router.get("")
def list_mcp_servers(agent_id: str, db: DbDep, principal: McpRead) -> list[McpServerPublic]:
    agent = reachable_agent(db, principal, agent_id)
    return [service.public(row) for row in service.list_servers(db, agent)]


@router.post("", status_code=201, responses={409: {}, 422: {}})
def create_mcp_server(
    agent_id: str,
    body: McpServerCreate,
    db: DbDep,
    principal: McpWrite,
    platform: PlatformDep,
    actor: ActorDep,
) -> McpServerPublic:
    """Connect a server to the agent. The URL must pass the outbound rules (422 on ``url``).

    A plain def: the URL check resolves DNS, which FastAPI runs in its thread pool.
    """
    agent = reachable_agent(db, principal, agent_id)
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
def get_mcp_server(agent_id: str, server_id: str, db: DbDep, principal: McpRead) -> McpServerPublic:
    agent = reachable_agent(db, principal, agent_id)
    return service.public(service.get_server(db, agent, server_id))


@router.patch("/{server_id}", responses={422: {}})
def update_mcp_server(
    agent_id: str,
    server_id: str,
    body: McpServerUpdate,
    db: DbDep,
    principal: McpWrite,
    platform: PlatformDep,
    actor: ActorDep,
) -> McpServerPublic:
    agent = reachable_agent(db, principal, agent_id)
    row = service.get_server(db, agent, server_id)
    if body.url is not None:
        service.check_server_url(body.url, OutboundPolicy.from_settings(platform.settings))
    return service.public(service.update_server(db, platform.box, row, body, actor=actor))


@router.delete("/{server_id}", status_code=204)
def delete_mcp_server(
    agent_id: str, server_id: str, db: DbDep, principal: McpWrite, actor: ActorDep
) -> None:
    agent = reachable_agent(db, principal, agent_id)
    service.delete_server(db, service.get_server(db, agent, server_id), actor=actor)


@router.post("/{server_id}/test", responses={422: {}, 502: {}})
async def test_mcp_server(
    agent_id: str,
    server_id: str,
    db: DbDep,
    principal: McpWrite,
    platform: PlatformDep,
) -> McpTestResult:
    """Connect with the stored URL and headers and list the server's tools.

    422 when the URL is refused by the outbound rules, 502 when the server cannot be
    reached or does not speak MCP within its timeout; ``code`` says which.
    """
    row = service.get_server(db, reachable_agent(db, principal, agent_id), server_id)
    policy = OutboundPolicy.from_settings(platform.settings)
    return await service.test_server(db, platform.box, policy, row)
