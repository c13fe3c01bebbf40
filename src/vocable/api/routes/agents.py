"""Agents and their call records, for dashboard users and API keys of the same organisation."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from vocable.agents import service as agent_service
from vocable.api.deps import (
    ActorDep,
    AgentsRead,
    AgentsWrite,
    CallsRead,
    CurrentUser,
    DbDep,
    PlatformDep,
    SessionSlot,
    reachable_agent,
    request_ip,
)
from vocable.api.errors import ApiError
from vocable.api.routes.sessions import session_envelope
from vocable.api.routes.voices import added_by, audio_response
from vocable.api.schemas import (
    AgentPublic,
    CallRecordPublic,
    SessionEnvelope,
    TestSessionRequest,
)
from vocable.api.uploads import read_upload
from vocable.calls import service as calls
from vocable.contracts.agents import AgentCreate, AgentUpdate
from vocable.contracts.sessions import SessionRequest
from vocable.db.models import Voice
from vocable.sessions.service import create_session
from vocable.voices import IntakeLimits
from vocable.voices.intake import too_large
from vocable.voices.service import display_name, refusal_error, voice_store

router = APIRouter(prefix="/api/agents", tags=["agents"])


@router.get("")
def list_agents(db: DbDep, principal: AgentsRead) -> list[AgentPublic]:
    """The organisation's agents (for a key limited to agents: those agents)."""
    rows = agent_service.list_agents(db, org_id=principal.org_id, agent_ids=principal.agent_ids)
    return [AgentPublic.model_validate(a) for a in rows]


@router.post("", status_code=201, responses={422: {}})
def create_agent(
    body: AgentCreate, db: DbDep, principal: AgentsWrite, platform: PlatformDep, actor: ActorDep
) -> AgentPublic:
    """Create an agent; a ``reference_audio_url`` is fetched, checked and stored first."""
    principal.require_all_agents()  # a key limited to agents could not reach the new one
    agent = agent_service.add_agent(
        db,
        platform,
        org_id=principal.org_id,
        data=body,
        actor=actor,
        added_by=added_by(principal, actor),
    )
    return AgentPublic.model_validate(agent)


@router.get("/{agent_id}")
def get_agent(agent_id: str, db: DbDep, principal: AgentsRead) -> AgentPublic:
    return AgentPublic.model_validate(reachable_agent(db, principal, agent_id))


@router.patch("/{agent_id}", responses={422: {}})
def update_agent(
    agent_id: str,
    body: AgentUpdate,
    db: DbDep,
    principal: AgentsWrite,
    platform: PlatformDep,
    actor: ActorDep,
) -> AgentPublic:
    """Partial update; a new ``reference_audio_url`` is fetched and checked before anything
    changes, so a refused URL (422 on that field) leaves the agent as it was."""
    agent = agent_service.change_agent(
        db,
        platform,
        reachable_agent(db, principal, agent_id),
        body,
        actor=actor,
        added_by=added_by(principal, actor),
    )
    return AgentPublic.model_validate(agent)


@router.delete("/{agent_id}", status_code=204)
def delete_agent(agent_id: str, db: DbDep, principal: AgentsWrite, actor: ActorDep) -> None:
    agent_service.delete_agent(db, reachable_agent(db, principal, agent_id), actor=actor)


@router.put(
    "/{agent_id}/voice",
    summary="Upload the agent's reference clip (multipart field `file`)",
    responses={404: {}, 411: {}, 422: {}},
)
async def upload_voice(
    agent_id: str,
    request: Request,
    principal: AgentsWrite,
    platform: PlatformDep,
    actor: ActorDep,
) -> AgentPublic:
    """Decode, check and normalise the clip, store it as a voice and make it the agent's.

    WAV, MP3, OGG (Opus, Vorbis, FLAC), FLAC or WebM; 3-60 s by default. Every refusal is
    a 422 naming ``file`` with its reason (``not_audio``, ``too_short``, ``too_long``,
    ``too_large``, ``silent``, ``decode_timeout``).
    """
    principal.require_agent(agent_id)
    limits = IntakeLimits.from_settings(platform.settings)
    upload = await read_upload(
        request,
        max_bytes=limits.max_bytes,
        too_large=lambda: refusal_error(too_large(limits), "file"),
    )
    agent = await run_in_threadpool(
        agent_service.set_agent_clip,
        platform,
        org_id=principal.org_id,
        agent_id=agent_id,
        data=upload.data,
        name=display_name(upload.filename, "Uploaded clip"),
        added_by=added_by(principal, actor),
    )
    return AgentPublic.model_validate(agent)


@router.get(
    "/{agent_id}/voice",
    summary="The agent's stored reference clip (normalised 16-bit mono WAV)",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}, 404: {}},
)
def get_agent_voice(
    agent_id: str, db: DbDep, principal: AgentsRead, platform: PlatformDep
) -> Response:
    agent = reachable_agent(db, principal, agent_id)
    voice = db.get(Voice, agent.voice_id) if agent.voice_id else None
    if voice is None:
        raise ApiError(404, "voice_not_found", "This agent has no reference clip")
    return audio_response(db, voice_store(platform.settings), voice.sha256)


@router.get("/{agent_id}/sessions")
def list_call_records(
    agent_id: str,
    db: DbDep,
    principal: CallsRead,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[CallRecordPublic]:
    agent = reachable_agent(db, principal, agent_id)
    rows = calls.list_calls(db, org_id=principal.org_id, agent_id=agent.id, limit=limit)
    return [CallRecordPublic.model_validate(r) for r in rows]


@router.post(
    "/{agent_id}/test-session",
    status_code=200,
    responses={422: {}, 429: {}, 503: {}},
)
def create_test_session(
    _slot: SessionSlot,
    request: Request,
    agent_id: str,
    db: DbDep,
    platform: PlatformDep,
    user: CurrentUser,
    body: TestSessionRequest | None = None,
) -> SessionEnvelope:
    """A "try it" call from the dashboard: same credentials as the public session endpoint.

    Needs a signed-in user (and the CSRF header); counts against the organisation's
    concurrency limit like any other call.
    """
    overrides = body.model_dump(exclude_none=True) if body else {}
    req = SessionRequest(agent=agent_id, **overrides)
    created = create_session(
        db,
        platform,
        org_id=user.org_id,
        key=None,
        req=req,
        user_id=user.id,
        client_ip=request_ip(request, platform),
    )
    return session_envelope(created, platform)
