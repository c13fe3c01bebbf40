"""Agents and their call records, for dashboard users and API keys of the same organisation."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from vocable.agents import service as agent_service
from vocable.api.deps import (
    ActorDep,
    CurrentUser,
    DbDep,
    PlatformDep,
    Principal,
    PrincipalDep,
    SessionSlot,
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
from vocable.audit import Actor
from vocable.contracts.agents import AgentCreate, AgentUpdate
from vocable.contracts.sessions import SessionRequest
from vocable.db.models import Agent, Voice, VoiceSession
from vocable.platform import Platform
from vocable.sessions.service import create_session
from vocable.voices import IntakeLimits, VoiceRefused, prepare_clip
from vocable.voices.clones import prepare_agent_clone_later
from vocable.voices.intake import too_large
from vocable.voices.service import (
    add_voice,
    display_name,
    get_org_voice,
    link_voice,
    refusal_error,
    voice_from_url,
    voice_store,
)

router = APIRouter(prefix="/api/agents", tags=["agents"])

# multipart framing around the clip: boundaries, part headers, the file name
_MULTIPART_OVERHEAD = 64 * 1024


def _agent_or_404(db: DbDep, principal: PrincipalDep, agent_id: str) -> Agent:
    agent = agent_service.get_org_agent(db, org_id=principal.org_id, agent_id=agent_id)
    if agent is None:
        raise ApiError(404, "agent_not_found", "Agent not found")
    return agent


@router.get("")
def list_agents(db: DbDep, principal: PrincipalDep) -> list[AgentPublic]:
    return [
        AgentPublic.model_validate(a)
        for a in agent_service.list_agents(db, org_id=principal.org_id)
    ]


def _one_voice_source(url: str | None, voice_id: str | None) -> None:
    if url is not None and voice_id is not None:
        raise ApiError(
            422,
            "invalid_request",
            "Invalid request: check voice_id",
            errors=[{"field": "voice_id", "message": "give reference_audio_url or voice_id"}],
        )


def _org_voice_or_422(db: Session, principal: Principal, voice_id: str) -> Voice:
    voice = get_org_voice(db, org_id=principal.org_id, voice_id=voice_id)
    if voice is None:
        raise ApiError(
            422,
            "invalid_request",
            "Invalid request: check voice_id",
            errors=[{"field": "voice_id", "message": "no such voice in this organisation"}],
        )
    return voice


def _voice_from_agent_url(
    db: Session, platform: Platform, principal: Principal, actor: Actor, url: str
) -> Voice:
    """Fetch and store the agent's reference URL; a refusal is a 422 on that field.

    Runs before the agent is touched, so a refused URL leaves the agent as it was.
    """
    try:
        return voice_from_url(
            db,
            platform.settings,
            org_id=principal.org_id,
            url=url,
            added_by=added_by(principal, actor),
        )
    except VoiceRefused as e:
        raise refusal_error(e, "reference_audio_url") from None


def _prepare_cloned_voice(agent: Agent, platform: Platform) -> None:
    """Once an agent is saved, make its voice at its cloning engine in the background
    (when this process is configured for that engine), so its first call does not wait."""
    prepare_agent_clone_later(
        agent, platform.sessions, platform.settings, voice_store(platform.settings)
    )


@router.post("", status_code=201, responses={422: {}})
def create_agent(
    body: AgentCreate, db: DbDep, principal: PrincipalDep, platform: PlatformDep, actor: ActorDep
) -> AgentPublic:
    """Create an agent; a ``reference_audio_url`` is fetched, checked and stored first."""
    _one_voice_source(body.reference_audio_url, body.voice_id)
    # checked before any fetch: an agent that will be refused downloads nothing
    agent_service.check_language(body.stt_engine, body.language)
    voice = None
    if body.voice_id is not None:
        voice = _org_voice_or_422(db, principal, body.voice_id)
    elif body.reference_audio_url is not None:
        voice = _voice_from_agent_url(db, platform, principal, actor, body.reference_audio_url)
    agent = agent_service.create_agent(db, org_id=principal.org_id, data=body, actor=actor)
    if voice is not None:
        link_voice(agent, voice)
        db.commit()
    _prepare_cloned_voice(agent, platform)
    return AgentPublic.model_validate(agent)


@router.get("/{agent_id}")
def get_agent(agent_id: str, db: DbDep, principal: PrincipalDep) -> AgentPublic:
    return AgentPublic.model_validate(_agent_or_404(db, principal, agent_id))


@router.patch("/{agent_id}", responses={422: {}})
def update_agent(
    agent_id: str,
    body: AgentUpdate,
    db: DbDep,
    principal: PrincipalDep,
    platform: PlatformDep,
    actor: ActorDep,
) -> AgentPublic:
    """Partial update; a new ``reference_audio_url`` is fetched and checked before anything
    changes, so a refused URL (422 on that field) leaves the agent as it was."""
    agent = _agent_or_404(db, principal, agent_id)
    given = body.model_fields_set
    _one_voice_source(body.reference_audio_url, body.voice_id)
    agent_service.check_language(
        body.stt_engine or agent.stt_engine, body.language or agent.language
    )
    # every fetch and lookup before the first change to the agent: storing a voice commits
    new_voice: Voice | None = None
    if "voice_id" in given and body.voice_id is not None:
        new_voice = _org_voice_or_422(db, principal, body.voice_id)
    elif "reference_audio_url" in given and body.reference_audio_url is not None:
        new_voice = _voice_from_agent_url(db, platform, principal, actor, body.reference_audio_url)
    if "voice_id" in given:
        link_voice(agent, new_voice)
        agent.reference_audio_url = None  # the voice no longer comes from that URL
    elif "reference_audio_url" in given:
        if new_voice is not None or agent.reference_audio_url is not None:
            link_voice(agent, new_voice)  # null drops the voice fetched from the old URL
    rest = AgentUpdate.model_validate(body.model_dump(exclude_unset=True, exclude={"voice_id"}))
    updated = agent_service.update_agent(db, agent, rest, actor=actor)
    _prepare_cloned_voice(updated, platform)
    return AgentPublic.model_validate(updated)


@router.delete("/{agent_id}", status_code=204)
def delete_agent(agent_id: str, db: DbDep, principal: PrincipalDep, actor: ActorDep) -> None:
    agent_service.delete_agent(db, _agent_or_404(db, principal, agent_id), actor=actor)


@router.put(
    "/{agent_id}/voice",
    summary="Upload the agent's reference clip (multipart field `file`)",
    responses={404: {}, 411: {}, 422: {}},
)
async def upload_voice(
    agent_id: str,
    request: Request,
    principal: PrincipalDep,
    platform: PlatformDep,
    actor: ActorDep,
) -> AgentPublic:
    """Decode, check and normalise the clip, store it as a voice and make it the agent's.

    WAV, MP3, OGG (Opus, Vorbis, FLAC), FLAC or WebM; 3-60 s by default. Every refusal is
    a 422 naming ``file`` with its reason (``not_audio``, ``too_short``, ``too_long``,
    ``too_large``, ``silent``, ``decode_timeout``).
    """
    limits = IntakeLimits.from_settings(platform.settings)
    # refuse an oversized body before the multipart parser spools any of it
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise ApiError(411, "length_required", "Send the upload with a Content-Length header")
    if int(declared) > limits.max_bytes + _MULTIPART_OVERHEAD:
        raise refusal_error(too_large(limits), "file")
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                422,
                "invalid_request",
                "Invalid request: check file",
                errors=[{"field": "file", "message": "a file is required"}],
            )
        data = await upload.read(limits.max_bytes + 1)
        name = display_name(upload.filename, "Uploaded clip")
    finally:
        await form.close()
    by = added_by(principal, actor)

    def _store() -> Agent:
        # decoding is CPU work and the database is blocking: both off the event loop
        with platform.sessions() as db:
            agent = _agent_or_404(db, principal, agent_id)
            try:
                clip = prepare_clip(data, limits)
            except VoiceRefused as e:
                raise refusal_error(e, "file") from None
            voice = add_voice(
                db,
                voice_store(platform.settings),
                org_id=principal.org_id,
                clip=clip,
                source="upload",
                source_url=None,
                name=name,
                added_by=by,
            )
            link_voice(agent, voice)
            agent.reference_audio_url = None  # the uploaded clip is now the agent's voice
            db.commit()
            _prepare_cloned_voice(agent, platform)
            return agent

    return AgentPublic.model_validate(await run_in_threadpool(_store))


@router.get(
    "/{agent_id}/voice",
    summary="The agent's stored reference clip (normalised 16-bit mono WAV)",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}}, 404: {}},
)
def get_agent_voice(
    agent_id: str, db: DbDep, principal: PrincipalDep, platform: PlatformDep
) -> FileResponse:
    agent = _agent_or_404(db, principal, agent_id)
    voice = db.get(Voice, agent.voice_id) if agent.voice_id else None
    if voice is None:
        raise ApiError(404, "voice_not_found", "This agent has no reference clip")
    return audio_response(voice_store(platform.settings), voice.sha256)


@router.get("/{agent_id}/sessions")
def list_call_records(
    agent_id: str,
    db: DbDep,
    principal: PrincipalDep,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[CallRecordPublic]:
    _agent_or_404(db, principal, agent_id)
    rows = db.scalars(
        select(VoiceSession)
        .where(VoiceSession.agent_id == agent_id, VoiceSession.org_id == principal.org_id)
        .order_by(VoiceSession.created_at.desc())
        .limit(limit)
    )
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
