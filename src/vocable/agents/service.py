"""Agents: what a session inherits unless the request overrides it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts import catalog
from vocable.contracts.agents import AgentCreate, AgentUpdate
from vocable.contracts.errors import InvalidError
from vocable.db.models import Agent
from vocable.ids import new_id

# fields whose change the audit log names (never their values); bookkeeping is left out
_NOT_AUDITED = frozenset({"updated_at", "reference_audio_sha256"})


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
    db: Session, *, org_id: str, data: AgentCreate, actor: Actor | None = None
) -> Agent:
    check_language(data.stt_engine, data.language)
    agent = Agent(id=new_id("agt"), org_id=org_id, **data.model_dump())
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


def list_agents(db: Session, *, org_id: str) -> list[Agent]:
    return list(
        db.scalars(select(Agent).where(Agent.org_id == org_id).order_by(Agent.created_at.desc()))
    )


_NULLABLE = frozenset({"reference_audio_url", "voice_model"})
"""Fields where ``null`` in an update means "clear it", not "unchanged"."""


def update_agent(
    db: Session, agent: Agent, data: AgentUpdate, *, actor: Actor | None = None
) -> Agent:
    """Apply a partial update; ``agent.updated`` names every field that changed (including
    a voice linked by the caller just before), in the same commit."""
    changes = data.model_dump(exclude_unset=True)
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
