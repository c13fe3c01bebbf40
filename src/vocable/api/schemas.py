"""Request and response models, one family per resource."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from sqlalchemy.orm import Session

from vocable.contracts.conversation import CallTools, ConversationSettings
from vocable.contracts.fields import (
    MAX_PROMPT,
    Greeting,
    LanguageTag,
    Name,
    NoNul,
    Prompt,
    StorableDict,
    VoiceModel,
)
from vocable.db.models import Organization, User

# --- the enterprise session endpoint -------------------------------------------------


class TestSessionRequest(BaseModel):
    """Body of ``POST /api/agents/{id}/test-session``: a dashboard user's "try it" call."""

    model_config = ConfigDict(extra="forbid")

    language: LanguageTag | None = None
    system_prompt: Prompt | None = None
    greeting: Greeting | None = None
    text_only: bool | None = None


class SessionCredentials(BaseModel):
    token: str
    livekit_url: str
    room_name: str
    session_id: str
    participant_identity: str
    expires_in_seconds: int


class Envelope(BaseModel):
    success: Literal[True] = True
    message: str = "Request successful"


class SessionEnvelope(Envelope):
    data: SessionCredentials


# --- dashboard auth -------------------------------------------------------------------


class LoginRequest(BaseModel):
    email: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254), NoNul
    ]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserPublic(BaseModel):
    id: str
    email: str
    org_id: str
    org_name: str
    role: str

    @classmethod
    def of(cls, db: Session, user: User) -> UserPublic:
        org = db.get(Organization, user.org_id)
        return cls(
            id=user.id,
            email=user.email,
            org_id=user.org_id,
            org_name=org.name if org else "",
            role=user.role,
        )


class LoginResponse(BaseModel):
    user: UserPublic
    csrf_token: str
    failed_attempts: int = 0
    """Failed sign-ins on this account since its last sign-in (the dashboard says so)."""


# --- API keys -------------------------------------------------------------------------


class ApiKeyCreate(BaseModel):
    name: Name


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    """When the key last created a session, to the minute."""
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str
    """The full key: returned by this response only."""


# --- agents ---------------------------------------------------------------------------


class AgentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    system_prompt: str
    greeting: str
    language: str
    reference_audio_url: str | None
    reference_audio_sha256: str | None
    voice_id: str | None
    stt_engine: str
    llm_engine: str
    tts_engine: str
    voice_model: str | None
    max_call_seconds: int
    active: bool
    timezone: str
    variable_defaults: dict[str, str]
    conversation: ConversationSettings
    call_tools: CallTools
    session_overrides: list[str]
    created_at: datetime
    updated_at: datetime


# --- voices ---------------------------------------------------------------------------


class VoicePublic(BaseModel):
    """A reference voice with its provenance: who added it, when, and from where."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    sha256: str
    duration_seconds: float
    sample_rate: int
    size_bytes: int
    source: Literal["upload", "url"]
    source_url: str | None
    """Scheme, host and path only: the query string is never stored."""
    source_format: str
    created_by_kind: Literal["user", "api_key"]
    created_by_id: str
    created_at: datetime


# --- call records ---------------------------------------------------------------------


class TurnPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    role: str
    text: str
    metrics: dict[str, Any]
    created_at: datetime


class CallRecordPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    agent_id: str
    room_name: str
    status: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    usage: dict[str, Any]


class CallRecordDetail(CallRecordPublic):
    language: str
    system_prompt: str
    """The prompt this call ran with: the agent's or the session's, variables filled."""
    greeting: str
    metadata: dict[str, Any]
    """The session request's ``metadata``."""
    origin_url: str | None
    """The page the session request said the call came from (``origin_url``)."""
    turns: list[TurnPublic]


# --- the worker channel ---------------------------------------------------------------


class WorkerReport(BaseModel):
    """A worker's capacity and load (``sessions.capacity``)."""

    model_config = ConfigDict(extra="forbid")
    capacity: Annotated[int, Field(ge=0, le=1024)]
    active: Annotated[int, Field(ge=0, le=1024)]


class WorkerVoiceClone(BaseModel):
    """A cloning engine's voice id made from a session's reference voice (worker only)."""

    engine: VoiceModel
    target: Annotated[str, StringConstraints(min_length=1, max_length=2048), NoNul]
    provider_voice_id: Annotated[str, StringConstraints(min_length=1, max_length=255), NoNul]


class WorkerKnownVoices(BaseModel):
    sha256: Annotated[list[str], Field(max_length=10_000)]


class WorkerEvent(BaseModel):
    type: Literal["started", "ended"]
    reason: Annotated[str, StringConstraints(max_length=64), NoNul] | None = None
    usage: StorableDict | None = None


class WorkerTurn(BaseModel):
    seq: Annotated[int, Field(ge=0, le=2**31 - 1)]  # an INTEGER column in both databases
    role: Literal["user", "agent", "tool"]
    text: Annotated[str, StringConstraints(max_length=MAX_PROMPT), NoNul]
    metrics: StorableDict = Field(default_factory=dict)
