"""HTTP tools of an agent: ``/api/agents/{agent_id}/tools``.

Same principals, organisation scoping, scopes (``agents:read``, ``agents:write``: a tool
is part of the agent's definition) and agent limits of keys as the agent routes: another
organisation's agent or tool is a 404. Header values are write-only.
"""

from __future__ import annotations

from fastapi import APIRouter

from vocable.api.deps import (
    ActorDep,
    AgentsRead,
    AgentsWrite,
    DbDep,
    PlatformDep,
    reachable_agent,
)
from vocable.http_tools import service
from vocable.http_tools.schemas import HttpToolCreate, HttpToolPublic, HttpToolUpdate
from vocable.outbound import OutboundPolicy

router = APIRouter(prefix="/api/agents/{agent_id}/tools", tags=["http tools"])


@router.get("")
def list_http_tools(agent_id: str, db: DbDep, principal: AgentsRead) -> list[HttpToolPublic]:
    agent = reachable_agent(db, principal, agent_id)
    return [service.public(row) for row in service.list_tools(db, agent)]


@router.post("", status_code=201, responses={409: {}, 422: {}})
def create_http_tool(
    agent_id: str,
    body: HttpToolCreate,
    db: DbDep,
    principal: AgentsWrite,
    platform: PlatformDep,
    actor: ActorDep,
) -> HttpToolPublic:
    """Add an endpoint the agent may call. The URL must pass the outbound rules (422 on
    ``url``); a name the agent already uses is a 409 on ``name``.

    A plain def: the URL check resolves DNS, which FastAPI runs in its thread pool.
    """
    agent = reachable_agent(db, principal, agent_id)
    service.check_tool_url(body.url, OutboundPolicy.from_settings(platform.settings))
    row = service.create_tool(
        db,
        platform.box,
        agent=agent,
        data=body,
        max_tools=platform.settings.http_tools_max_per_agent,
        actor=actor,
    )
    return service.public(row)


@router.get("/{tool_id}")
def get_http_tool(agent_id: str, tool_id: str, db: DbDep, principal: AgentsRead) -> HttpToolPublic:
    agent = reachable_agent(db, principal, agent_id)
    return service.public(service.get_tool(db, agent, tool_id))


@router.patch("/{tool_id}", responses={409: {}, 422: {}})
def update_http_tool(
    agent_id: str,
    tool_id: str,
    body: HttpToolUpdate,
    db: DbDep,
    principal: AgentsWrite,
    platform: PlatformDep,
    actor: ActorDep,
) -> HttpToolPublic:
    agent = reachable_agent(db, principal, agent_id)
    row = service.get_tool(db, agent, tool_id)
    if body.url is not None:
        service.check_tool_url(body.url, OutboundPolicy.from_settings(platform.settings))
    return service.public(service.update_tool(db, platform.box, row, body, actor=actor))


@router.delete("/{tool_id}", status_code=204)
def delete_http_tool(
    agent_id: str, tool_id: str, db: DbDep, principal: AgentsWrite, actor: ActorDep
) -> None:
    agent = reachable_agent(db, principal, agent_id)
    service.delete_tool(db, service.get_tool(db, agent, tool_id), actor=actor)
