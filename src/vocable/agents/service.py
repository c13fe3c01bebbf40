"""Agents: what a session inherits unless the request overrides it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts import catalog
from vocable.contracts.agents import AgentCreate, AgentUpdate
from vocable.contracts.conversation import merged
from vocable.contracts.errors import InvalidError, NotFoundError, field_error
from vocable.db.models import Agent, Voice
from vocable.ids import new_id
from vocable.platform import Platform
from vocable.voices import IntakeLimits, VoiceRefused, prepare_clip
from vocable.voices.clones import prepare_agent_clone_later
from vocable.voices.service import (
    AddedBy,
    add_voice,
    get_org_voice,
    link_voice,
    refusal_error,
    voice_from_url,
    voice_store,
)

# fields whose change the audit log names (never their values); bookkeeping is left out
_NOT_AUDITED = frozenset({"updated_at", "reference_audio_sha256"})


class AgentNotFound(NotFoundError):
    """No such agent in the caller's organisation (another organisation's is not found)."""

    def __init__(self) -> None:
        super().__init__("agent_not_found", "Agent not found")


def check_language(stt_engine: str, language: str) -> None:
    """Refuse (422, field ``language``) a language the agent's STT engine cannot hear."""
    if not catalog.stt_supports(stt_engine, language):
        message = catalog.unsupported_language_message(stt_engine)
        raise InvalidError(
            "invalid_request",
            "Invalid request: check language",
            errors=[{"field": "language", "message": message}],
        )


def create_agent(
    db: Session,
    *,
    org_id: str,
    data: AgentCreate,
    actor: Actor | None = None,
    voice: Voice | None = None,
) -> Agent:
    """Store a new agent (with ``voice`` linked, in the same commit)."""
    check_language(data.stt_engine, data.language)
    agent = Agent(id=new_id("agt"), org_id=org_id, **data.model_dump())
    if voice is not None:
        link_voice(agent, voice)
    db.add(agent)
    audit.record(db, org_id=org_id, actor=actor, action="agent.created", target_id=agent.id)
    db.commit()
    return agent


def get_org_agent(db: Session, *, org_id: str, agent_id: str) -> Agent | None:
    """The agent if it exists and belongs to ``org_id``; other organisations see nothing."""
    agent = db.get(Agent, agent_id)
    if agent is None or agent.org_id != org_id:
        return None
    return agent


def require_org_agent(db: Session, *, org_id: str, agent_id: str) -> Agent:
    """The organisation's agent, or ``AgentNotFound``."""
    agent = get_org_agent(db, org_id=org_id, agent_id=agent_id)
    if agent is None:
        raise AgentNotFound()
    return agent


def list_agents(db: Session, *, org_id: str, agent_ids: list[str] | None = None) -> list[Agent]:
    """The organisation's agents, newest first (only ``agent_ids`` when given)."""
    query = select(Agent).where(Agent.org_id == org_id)
    if agent_ids is not None:
        query = query.where(Agent.id.in_(agent_ids))
    return list(db.scalars(query.order_by(Agent.created_at.desc())))


_NULLABLE = frozenset({"reference_audio_url", "voice_model"})
"""Fields where ``null`` in an update means "clear it", not "unchanged"."""


def update_agent(
    db: Session, agent: Agent, data: AgentUpdate, *, actor: Actor | None = None
) -> Agent:
    """Apply a partial update; ``agent.updated`` names every field that changed (including
    a voice linked by the caller just before), in the same commit."""
    changes = data.model_dump(exclude_unset=True, exclude={"conversation", "call_tools"})
    if data.conversation is not None:
        changes["conversation"] = merged(agent.conversation, data.conversation).model_dump()
    if data.call_tools is not None:
        changes["call_tools"] = merged(agent.call_tools, data.call_tools).model_dump()
    check_language(
        changes.get("stt_engine") or agent.stt_engine, changes.get("language") or agent.language
    )
    for field, value in changes.items():
        if value is None and field not in _NULLABLE:
            continue  # null means "unchanged" for fields that cannot be empty
        setattr(agent, field, value)
    fields = audit.changed_fields(agent, ignore=_NOT_AUDITED)
    if fields:
        audit.record(
            db,
            org_id=agent.org_id,
            actor=actor,
            action="agent.updated",
            target_id=agent.id,
            details={"fields": fields},
        )
    db.commit()
    return agent


def delete_agent(db: Session, agent: Agent, *, actor: Actor | None = None) -> None:
    audit.record(db, org_id=agent.org_id, actor=actor, action="agent.deleted", target_id=agent.id)
    db.delete(agent)
    db.commit()


# -- an agent and its voice: what the dashboard and the API do in one request ----------


def _one_voice_source(url: str | None, voice_id: str | None) -> None:
    if url is not None and voice_id is not None:
        raise field_error(
            InvalidError,
            "invalid_request",
            "voice_id",
            "give reference_audio_url or voice_id",
            summary="Invalid request: check voice_id",
        )


def _voice_named(
    db: Session,
    platform: Platform,
    *,
    org_id: str,
    voice_id: str | None,
    url: str | None,
    added_by: AddedBy,
) -> Voice | None:
    """The voice a create or update names: one of the organisation's (``voice_id``), or
    one fetched, checked and stored from ``url`` (which commits); refusals are 422s on
    the field at fault, raised before the agent is touched."""
    if voice_id is not None:
        voice = get_org_voice(db, org_id=org_id, voice_id=voice_id)
        if voice is None:
            raise field_error(
                InvalidError,
                "invalid_request",
                "voice_id",
                "no such voice in this organisation",
                summary="Invalid request: check voice_id",
            )
        return voice
    if url is None:
        return None
    try:
        return voice_from_url(db, platform.settings, org_id=org_id, url=url, added_by=added_by)
    except VoiceRefused as e:
        raise refusal_error(e, "reference_audio_url") from None


def _prepare_cloned_voice(agent: Agent, platform: Platform) -> None:
    """Once an agent is saved, make its voice at its cloning engine in the background
    (when this process is configured for that engine), so its first call does not wait."""
    prepare_agent_clone_later(
        agent, platform.sessions, platform.settings, voice_store(platform.settings)
    )


def add_agent(
    db: Session,
    platform: Platform,
    *,
    org_id: str,
    data: AgentCreate,
    actor: Actor | None,
    added_by: AddedBy,
) -> Agent:
    """Create an agent; its ``reference_audio_url`` is fetched, checked and stored first."""
    _one_voice_source(data.reference_audio_url, data.voice_id)
    # checked before any fetch: an agent that will be refused downloads nothing
    check_language(data.stt_engine, data.language)
    voice = _voice_named(
        db,
        platform,
        org_id=org_id,
        voice_id=data.voice_id,
        url=data.reference_audio_url,
        added_by=added_by,
    )
    agent = create_agent(db, org_id=org_id, data=data, actor=actor, voice=voice)
    _prepare_cloned_voice(agent, platform)
    return agent


def change_agent(
    db: Session,
    platform: Platform,
    agent: Agent,
    data: AgentUpdate,
    *,
    actor: Actor | None,
    added_by: AddedBy,
) -> Agent:
    """Partial update; a new ``reference_audio_url`` is fetched and checked before anything
    changes, so a refused URL (422 on that field) leaves the agent as it was."""
    given = data.model_fields_set
    _one_voice_source(data.reference_audio_url, data.voice_id)
    check_language(data.stt_engine or agent.stt_engine, data.language or agent.language)
    # every fetch and lookup before the first change to the agent: storing a voice commits
    new_voice = _voice_named(
        db,
        platform,
        org_id=agent.org_id,
        voice_id=data.voice_id if "voice_id" in given else None,
        url=data.reference_audio_url if "reference_audio_url" in given else None,
        added_by=added_by,
    )
    if "voice_id" in given:
        link_voice(agent, new_voice)
        agent.reference_audio_url = None  # the voice no longer comes from that URL
    elif "reference_audio_url" in given:
        if new_voice is not None or agent.reference_audio_url is not None:
            link_voice(agent, new_voice)  # null drops the voice fetched from the old URL
    rest = AgentUpdate.model_validate(data.model_dump(exclude_unset=True, exclude={"voice_id"}))
    updated = update_agent(db, agent, rest, actor=actor)
    _prepare_cloned_voice(updated, platform)
    return updated


def set_agent_clip(
    platform: Platform,
    *,
    org_id: str,
    agent_id: str,
    data: bytes,
    name: str,
    added_by: AddedBy,
) -> Agent:
    """Decode, check and normalise an uploaded clip, store it as a voice and make it the
    agent's; blocking (decoding is CPU work), so callers run it off the event loop.

    Refusals are 422s naming ``file`` with their reason (``not_audio``, ``too_short``...).
    """
    with platform.sessions() as db:
        agent = require_org_agent(db, org_id=org_id, agent_id=agent_id)
        try:
            clip = prepare_clip(data, IntakeLimits.from_settings(platform.settings))
        except VoiceRefused as e:
            raise refusal_error(e, "file") from None
        voice = add_voice(
            db,
            voice_store(platform.settings),
            org_id=org_id,
            clip=clip,
            source="upload",
            source_url=None,
            name=name,
            added_by=added_by,
        )
        link_voice(agent, voice)
        agent.reference_audio_url = None  # the uploaded clip is now the agent's voice
        db.commit()
        _prepare_cloned_voice(agent, platform)
        return agent
