"""Tables of the control plane. Every row below an organisation carries ``org_id``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


_Model = TypeVar("_Model", bound="Base")


def detached(model: type[_Model], row: Row[Any] | dict[str, Any]) -> _Model:
    """A read-only ``model`` from a plain (Core) row of its whole table, attached to no
    session: for hot paths that read a row and never change it through the ORM. Built the
    way the ORM's own loading builds instances (the constructor's per-attribute events
    cost 20-30 us a row); every column is set, so nothing is ever lazily loaded."""
    instance: _Model = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(row if isinstance(row, dict) else row._mapping)
    return instance


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="owner")
    """``owner``, ``admin``, ``developer`` or ``viewer`` (``vocable.accounts.members``)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginSession(Base):
    """A dashboard cookie session; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "login_sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Invite(Base):
    """An invitation to join an organisation with a role; only the token's hash is kept."""

    __tablename__ = "invites"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PasswordReset(Base):
    """A one-time password reset link sent by e-mail; only the token's hash is kept."""

    __tablename__ = "password_resets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class SignInThrottle(Base):
    """Failed dashboard sign-ins, per account and per client address.

    ``key`` is ``email:<sha256 of the normalised e-mail>`` (kept for unknown e-mails too,
    so a refusal does not tell which accounts exist) or ``ip:<address>``. Shared by every
    API process through the database.
    """

    __tablename__ = "sign_in_throttles"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive failures (accounts) or failures in the current window (addresses)."""
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(default=None)
    locked: Mapped[bool] = mapped_column(default=False)
    """An account locked after too many failures (until ``blocked_until`` or an unlock)."""


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    """The key stops working at this moment (set at creation, or by a rotation's grace)."""
    rotated_from: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    """The key this one replaced (``POST /api/keys/{id}/rotate``)."""
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Normalised ``scheme://host[:port]``; empty: any origin."""
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Normalised CIDRs the client address must fall in; empty: any address."""
    refused_count: Mapped[int] = mapped_column(Integer, default=0)
    """Requests with this key refused by its allow-lists."""
    last_refused_at: Mapped[datetime | None] = mapped_column(default=None)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["admin"])
    """``contracts.scopes.Scope`` values; ``["admin"]``: full access (every key before 0014)."""
    agent_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The agents this key may reach; empty: every agent of the organisation."""
    rate_tokens: Mapped[float | None] = mapped_column(Float, default=None)
    """The key's session-rate bucket (``sessions.limits``): sessions it may still create
    at once, as of ``rate_at``; ``None``: full."""
    rate_at: Mapped[float | None] = mapped_column(Float, default=None)
    """When ``rate_tokens`` was counted, in seconds since the epoch."""


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    greeting: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(35), default="en")
    reference_audio_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    reference_audio_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    voice_id: Mapped[str | None] = mapped_column(
        ForeignKey("voices.id", ondelete="SET NULL"), default=None
    )
    """The agent's reference voice; ``reference_audio_sha256`` is its hash, kept beside it."""
    stt_engine: Mapped[str] = mapped_column(String(80))
    llm_engine: Mapped[str] = mapped_column(String(80))
    tts_engine: Mapped[str] = mapped_column(String(80))
    voice_model: Mapped[str | None] = mapped_column(String(80), default=None)
    """How the reference voice is applied; ``None``: the deployment's default."""
    max_call_seconds: Mapped[int] = mapped_column(Integer, default=900)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    variable_defaults: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    conversation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """``contracts.conversation.ConversationSettings``; ``{}``: every default."""
    call_tools: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """``contracts.conversation.CallTools``: end the call, transfer to a human."""
    session_overrides: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["system_prompt", "greeting", "language", "voice", "variables"]
    )
    """What a session request may override (``contracts.conversation.OVERRIDABLE``)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VoiceSession(Base):
    """One call: the effective configuration frozen at creation plus its call record."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_org_status", "org_id", "status"),
        Index("ix_sessions_key_created", "api_key_id", "created_at"),
        Index("ix_sessions_agent_created", "agent_id", "created_at"),
        Index("ix_sessions_status", "status"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    api_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), default=None
    )
    room_name: Mapped[str] = mapped_column(String(80), unique=True)
    participant_identity: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="created")
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Effective configuration (agent defaults merged with overrides); never echoed."""
    mcp_headers_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    join_deadline: Mapped[datetime]
    """The token can no longer open the room after this."""
    hard_deadline: Mapped[datetime]
    """The latest moment the call may still be running (join window + maximum duration)."""
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    usage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    worker_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    """The worker's last heartbeat during the call (a silent worker died: ``worker_lost``)."""


class SessionSlot(Base):
    """One of an organisation's concurrent-call places (``sessions.limits``): free once
    ``held_until`` has passed. Created as they are first needed, up to the limit."""

    __tablename__ = "session_slots"
    __table_args__ = (Index("ix_session_slots_org_held", "org_id", "held_until"),)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    session_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    held_until: Mapped[datetime] = mapped_column(index=True)
    """The session's join deadline, then its hard deadline once it starts; the moment it
    ends, or the epoch when never held."""


class Worker(Base):
    """A voice worker process as it last reported itself (``sessions.capacity``)."""

    __tablename__ = "workers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    """Calls it takes at once (``VOCABLE_WORKER_MAX_JOBS``)."""
    active: Mapped[int] = mapped_column(Integer)
    """Calls it was running when it reported."""
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TranscriptTurn(Base):
    __tablename__ = "transcript_turns"
    __table_args__ = (Index("ix_turns_session_seq", "session_id", "seq", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeDocument(Base):
    """A document in an agent's knowledge base; its chunks live in the knowledge index.

    ``generation`` names the indexed chunks that search may return (0: none). Indexing
    writes a new generation beside the live one and swaps it here in one update, so a
    crash or a re-index never exposes a half-indexed document.
    """

    __tablename__ = "knowledge_documents"
    __table_args__ = (
        Index("ix_knowledge_agent", "agent_id", "created_at"),
        Index("ix_knowledge_org", "org_id"),
        Index("ix_knowledge_status", "status", "lease_expires_at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    source_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(40), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    indexed_at: Mapped[datetime | None] = mapped_column(default=None)


class KnowledgeFile(Base):
    """The uploaded bytes of a document, kept for re-indexing (in the database, so any
    API process can ingest it)."""

    __tablename__ = "knowledge_files"
    document_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Voice(Base):
    """A reference voice of an organisation, with its provenance.

    The audio is stored once per content hash (``VoiceAudio``); two records with the same
    hash, in one organisation or several, share it.
    """

    __tablename__ = "voices"
    __table_args__ = (
        Index("ux_voices_org_sha256", "org_id", "sha256", unique=True),
        Index("ix_voices_sha256", "sha256"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the stored normalised WAV."""
    duration_seconds: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    """``upload`` or ``url``."""
    source_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    """Scheme, host and path of the URL it was fetched from; never the query string."""
    source_format: Mapped[str] = mapped_column(String(40))
    """Container and codec of what was received, e.g. ``ogg/opus``."""
    created_by_kind: Mapped[str] = mapped_column(String(16))
    """``user`` (a dashboard user) or ``api_key``."""
    created_by_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VoiceAudio(Base):
    """A normalised reference clip, once per content hash (``voices.audio``): in the
    database, so that every API process of a deployment serves every voice."""

    __tablename__ = "voice_audio"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    wav: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VoiceClone(Base):
    """A cloning engine's voice made from one stored voice: its id at the engine, so the
    clip is uploaded once per (voice, engine, endpoint), not once per call. Deleted, at
    the engine too, when the voice is deleted."""

    __tablename__ = "voice_clones"
    __table_args__ = (
        Index("ux_voice_clones_voice_engine", "voice_id", "engine", "target", unique=True),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id", ondelete="CASCADE"))
    engine: Mapped[str] = mapped_column(String(40))
    """A ``voice`` engine name of the catalogue, e.g. ``elevenlabs``."""
    target: Mapped[str] = mapped_column(String(2048))
    """The engine's base URL: a clone made at one endpoint means nothing at another."""
    provider_voice_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class McpServer(Base):
    """An MCP server an agent's calls may use. Static headers are sealed with the
    platform key (``headers_encrypted``); only their names are kept in the clear."""

    __tablename__ = "mcp_servers"
    __table_args__ = (Index("ix_mcp_servers_agent", "agent_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(2048))
    transport: Mapped[str] = mapped_column(String(20), default="streamable_http")
    headers_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    header_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=12)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_tools: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    """Tool names the LLM may call; ``None`` means every tool the server lists."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HttpTool(Base):
    """An HTTP endpoint of the business an agent's calls may call as a function tool.

    Headers are sealed with the platform key (``headers_encrypted``); only their names are
    kept in the clear. ``variables`` lists the ``{{names}}`` the URL, description and
    header values use, so a session can be checked without opening the headers.
    """

    __tablename__ = "http_tools"
    __table_args__ = (
        UniqueConstraint("agent_id", "name", name="uq_http_tools_agent_name"),
        Index("ix_http_tools_agent", "agent_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(String(2048))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    headers_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    header_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEvent(Base):
    """One change to an organisation's keys, agents or sessions; append-only.

    ``details`` holds names (e.g. which fields changed), never values: prompts and
    headers stay out of the log. Written in the transaction of the change it records.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org", "org_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))
    """``user`` (dashboard), ``api_key`` or ``system`` (the CLI, first-run setup)."""
    actor_id: Mapped[str | None] = mapped_column(String(40), default=None)
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(40), default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebhookEndpoint(Base):
    """Where an organisation receives session events. The signing secret is sealed with
    the platform key; the previous one stays valid until ``previous_secret_expires_at``."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_org", "org_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """One event of an organisation; ``payload`` is the exact body every delivery sends.

    ``phase`` (``started`` or ``ended``) is unique per session, so a repeated or racing
    report can never emit a second event for the same change.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ux_webhook_events_session_phase", "session_id", "phase", unique=True),
        Index("ix_webhook_events_org", "org_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    session_id: Mapped[str | None] = mapped_column(String(40), default=None)
    """No foreign key: deleting an agent (and its sessions) must not drop queued events."""
    phase: Mapped[str | None] = mapped_column(String(16), default=None)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one event to one endpoint, with its attempts.

    ``pending`` (due at ``next_attempt_at``) → ``delivering`` (claimed by a process until
    ``lease_expires_at``) → ``delivered`` or ``failed``, or back to ``pending`` to retry.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
        Index("ix_webhook_deliveries_event", "event_id"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(40), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    """What went wrong, in our words: never a URL, a header or the receiver's body."""
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
