"""Session creation (limits, effective configuration, join token) and what the worker
reports of a call (events, transcript turns)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, Row, and_, bindparam, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from vocable.agents.service import check_language
from vocable.contracts import variables
from vocable.contracts.conversation import CallTools, ConversationSettings
from vocable.contracts.errors import (
    ForbiddenError,
    InvalidError,
    NotFoundError,
    field_error,
)
from vocable.contracts.sessions import SessionConfig, SessionRequest
from vocable.db.engine import autocommit
from vocable.db.models import (
    Agent,
    ApiKey,
    HttpTool,
    TranscriptTurn,
    Voice,
    VoiceSession,
    detached,
)
from vocable.ids import new_id
from vocable.livekit.tokens import JoinGrant, mint_join_token
from vocable.platform import Platform
from vocable.sessions import capacity, limits
from vocable.voices import VoiceRefused
from vocable.voices.service import AddedBy, refusal_error, session_url_cache, voice_from_url
from vocable.webhooks.outbox import enqueue_session_event

START_GRACE = timedelta(seconds=60)
"""After its join window, how long a session may still start: a caller who connected in
time may wait for a busy worker (nobody can connect later: the token has expired).
A session not started by then ends as ``not_joined``."""
NOT_JOINED = "not_joined"


@dataclass(frozen=True, repr=False)
class CreatedSession:
    """What the browser needs to join (``repr=False``: the token is a credential)."""

    session_id: str
    room_name: str
    participant_identity: str
    token: str


_AGENT_COLUMNS = [column.label(f"agent_{column.name}") for column in Agent.__table__.columns]
_TOOLS_JOIN = and_(HttpTool.agent_id == Agent.id, HttpTool.enabled.is_(True))
_AGENT_AND_TOOLS = (
    select(*_AGENT_COLUMNS, HttpTool.variables.label("tool_variables"))
    .outerjoin(HttpTool, _TOOLS_JOIN)
    .where(Agent.id == bindparam("agent"))
)
_KEY_COLUMNS = list(ApiKey.__table__.columns)
_KEY_AGENT_AND_CAPACITY = (
    select(
        *_KEY_COLUMNS,
        *_AGENT_COLUMNS,
        HttpTool.variables.label("tool_variables"),
        *capacity.COLUMNS,
    )
    .select_from(ApiKey)
    .outerjoin(Agent, Agent.id == bindparam("agent"))
    .outerjoin(HttpTool, _TOOLS_JOIN)
    .where(ApiKey.key_hash == bindparam("hash"))
)


@dataclass(frozen=True)
class Prefetched:
    """What the session endpoint reads in one statement with the key: the agent (a row
    per enabled HTTP tool) and the workers' free places."""

    agent_rows: Sequence[Row[*tuple[Any, ...]]]
    free_places: int | None


def read_key_and_agent(
    db: Session, *, key_hash: str, agent_id: str, now: datetime, live_for: timedelta
) -> tuple[ApiKey | None, Prefetched]:
    """The key with this hash (``None`` if there is none; whether it may be used is the
    caller's check), with the agent and the workers' capacity, in one read."""
    rows = (
        db.connection()
        .execute(
            _KEY_AGENT_AND_CAPACITY,
            {"hash": key_hash, "agent": agent_id, **capacity.read_values(now, live_for=live_for)},
        )
        .all()
    )
    if not rows:
        return None, Prefetched([], None)
    key = detached(ApiKey, {c.name: value for c, value in zip(_KEY_COLUMNS, rows[0], strict=False)})
    known, workers, held = rows[0][-3:]
    return key, Prefetched(rows, capacity.free_from(known, workers, held))


def _agent_from(rows: Sequence[Row[*tuple[Any, ...]]], org_id: str) -> tuple[Agent, set[str]]:
    """The organisation's active agent and the variables its enabled HTTP tools use, from
    a read of :data:`_AGENT_COLUMNS` and ``tool_variables`` (a row per tool)."""
    first = rows[0]._mapping if rows else None
    if first is None or first["agent_id"] is None:
        raise NotFoundError("agent_not_found", "Agent not found or not active")
    values = {c.name.removeprefix("agent_"): first[c.name] for c in _AGENT_COLUMNS}
    if values["org_id"] != org_id or not values["active"]:
        raise NotFoundError("agent_not_found", "Agent not found or not active")
    tool_names = {name for row in rows for name in row._mapping["tool_variables"] or []}
    return detached(Agent, values), tool_names


def _active_agent(db: Session, org_id: str, agent_id: str) -> tuple[Agent, set[str]]:
    """The organisation's active agent and the variables its enabled HTTP tools use, in
    one plain read (a row per tool; no ORM bookkeeping on this path)."""
    return _agent_from(db.connection().execute(_AGENT_AND_TOOLS, {"agent": agent_id}).all(), org_id)


def _effective_config(agent: Agent, req: SessionRequest, voice: Voice | None) -> SessionConfig:
    """Agent defaults with this request's overrides; frozen into the session row.

    ``voice`` is the stored clip of the request's ``reference_audio_url``, if it gave one.
    """
    return SessionConfig(
        language=req.language or agent.language,
        system_prompt=agent.system_prompt if req.system_prompt is None else req.system_prompt,
        greeting=agent.greeting if req.greeting is None else req.greeting,
        reference_audio_url=req.reference_audio_url or agent.reference_audio_url,
        reference_audio_sha256=voice.sha256 if voice else agent.reference_audio_sha256,
        voice_id=voice.id if voice else agent.voice_id,
        voice_model=req.voice_model or agent.voice_model,
        stt_engine=agent.stt_engine,
        llm_engine=agent.llm_engine,
        tts_engine=agent.tts_engine,
        max_call_seconds=agent.max_call_seconds,
        metadata=req.metadata or {},
        origin_url=req.origin_url,
        text_only=bool(req.text_only),
        conversation=ConversationSettings.model_validate(agent.conversation or {}),
        call_tools=CallTools.model_validate(agent.call_tools or {}),
    )


def _overrides_asked(
    agent: Agent, req: SessionRequest, tool_names: set[str]
) -> list[tuple[str, str]]:
    """``(policy name, request field)`` for each override the request makes. A value equal
    to the agent's own is no override: a backend that always sends the language is fine."""
    asked: list[tuple[str, str]] = []
    for name in ("system_prompt", "greeting", "language"):
        value = getattr(req, name)
        if value is not None and value != getattr(agent, name):
            asked.append((name, name))
    if req.reference_audio_url is not None and req.reference_audio_url != agent.reference_audio_url:
        asked.append(("voice", "reference_audio_url"))
    if req.voice_model is not None and req.voice_model != agent.voice_model:
        asked.append(("voice", "voice_model"))
    texts = (
        agent.system_prompt if req.system_prompt is None else req.system_prompt,
        agent.greeting if req.greeting is None else req.greeting,
    )
    used = variables.placeholders(*texts) | tool_names
    asked += [("variables", f"metadata.{key}") for key in sorted(req.metadata or {}) if key in used]
    return asked


_FIXED = {
    "system_prompt": "the agent's system prompt is fixed",
    "greeting": "the agent's greeting is fixed",
    "language": "the agent's language is fixed",
    "voice": "the agent's voice is fixed",
    "variables": "the agent takes no variables from sessions",
}


def check_overrides(agent: Agent, req: SessionRequest, tool_names: set[str]) -> None:
    """Refuse (403, naming each field) the overrides the agent does not allow;
    ``tool_names`` are the variables the agent's enabled HTTP tools use."""
    allowed = set(agent.session_overrides)
    refused = [
        (policy, field)
        for policy, field in _overrides_asked(agent, req, tool_names)
        if policy not in allowed
    ]
    if not refused:
        return
    raise ForbiddenError(
        "override_not_allowed",
        "This agent does not let a session override "
        + ", ".join(dict.fromkeys(field for _, field in refused)),
        errors=[{"field": field, "message": _FIXED[policy]} for policy, field in refused],
    )


def session_values(agent: Agent, config: SessionConfig, now: datetime) -> dict[str, str]:
    """Every ``{{variable}}`` value of a session created at ``now`` (``variables``). (An
    agent that does not let sessions set variables has refused metadata naming one.)"""
    return variables.call_values(
        config.metadata,
        agent.variable_defaults or {},
        variables.system_values(agent.timezone, config.language, now),
    )


def _with_variables(
    agent: Agent, config: SessionConfig, now: datetime, tool_names: set[str]
) -> SessionConfig:
    """The prompt and greeting with their ``{{variables}}`` filled; a placeholder with no
    value (not in metadata, no agent default) refuses the session, naming it. The names
    the agent's enabled HTTP tools use (``tool_names``) are checked the same way; they are
    filled when the worker fetches the session (``sessions.worker``)."""
    values = session_values(agent, config, now)
    used = variables.placeholders(config.system_prompt, config.greeting) | tool_names
    missing = sorted(used - set(values))
    if missing:
        names = ", ".join("{{" + name + "}}" for name in missing)
        raise field_error(
            InvalidError,
            "missing_variables",
            "metadata",
            f"no value for {names}: send it in metadata or give the agent a default"
            if "variables" in agent.session_overrides
            else f"no value for {names}: give the agent a default (it takes no variables "
            "from sessions)",
            summary=f"Invalid request: the prompt, greeting or an HTTP tool uses {names}",
        )
    return config.model_copy(
        update={
            "system_prompt": variables.fill(config.system_prompt, values),
            "greeting": variables.fill(config.greeting, values),
        }
    )


_sqlite_writes = threading.Lock()
"""SQLite has one writer: this process's session writes take turns here rather than in
SQLite's busy-wait, which backs off in coarse sleeps."""


@contextmanager
def _writing(db: Session) -> Iterator[None]:
    if db.get_bind().dialect.name == "sqlite":
        with _sqlite_writes:
            yield
        return
    yield


def _session_voice(
    db: Session,
    platform: Platform,
    *,
    org_id: str,
    key: ApiKey | None,
    user_id: str | None,
    url: str,
    client_ip: str | None,
) -> Voice:
    """The voice of a ``reference_audio_url`` override, fetched unless used recently.

    Runs before the session row exists and outside the per-organisation lock (a fetch
    takes up to the outbound deadline); the limits are checked first so a client past
    them cannot make us download. A refusal is a 422 on ``reference_audio_url``.
    """
    now = datetime.now(UTC)
    limit = platform.settings.max_concurrent_sessions_per_org
    if key is not None:
        limits.check_rate(
            db.connection(),
            key_id=key.id,
            limit=platform.settings.key_rate_limit_per_minute,
            now=now,
        )
    if not limits.has_place(db.connection(), org_id=org_id, now=now, limit=limit):
        raise limits.concurrency_limited(limit)
    by = (
        AddedBy("api_key", key.id, client_ip)
        if key is not None
        else AddedBy("user", user_id or "", client_ip)
    )
    try:
        return voice_from_url(
            db, platform.settings, org_id=org_id, url=url, added_by=by, cache=session_url_cache
        )
    except VoiceRefused as e:
        raise refusal_error(e, "reference_audio_url") from None


def create_session(
    db: Session,
    platform: Platform,
    *,
    org_id: str,
    key: ApiKey | None,
    req: SessionRequest,
    user_id: str | None = None,
    client_ip: str | None = None,
    prefetched: Prefetched | None = None,
) -> CreatedSession:
    """Freeze the effective configuration into a new session row and mint its join token.

    ``key`` is the API key of a customer backend (rate-limited per key); it is ``None``
    for a dashboard user's test call (``user_id``), which still counts against the
    organisation's concurrency limit. ``prefetched``: the agent and the workers' capacity
    as read with the key (``read_key_and_agent``), else they are read here.
    """
    settings = platform.settings
    agent, tool_names = (
        _agent_from(prefetched.agent_rows, org_id)
        if prefetched is not None
        else _active_agent(db, org_id, req.agent)
    )
    if key is not None:  # a member trying the agent in the dashboard may change it anyway
        check_overrides(agent, req, tool_names)  # before anything is fetched or counted
    voice = None
    if req.reference_audio_url is not None:
        check_language(agent.stt_engine, req.language or agent.language)  # before fetching
        voice = _session_voice(
            db,
            platform,
            org_id=org_id,
            key=key,
            user_id=user_id,
            url=req.reference_audio_url,
            client_ip=client_ip,
        )
    now = datetime.now(UTC)
    if prefetched is None or voice is not None:  # a fetched voice took time: read it again
        live_for = timedelta(seconds=settings.worker_report_timeout_seconds)
        capacity.check_capacity(db, now, live_for=live_for)
    else:
        capacity.refuse_when_full(prefetched.free_places)
    config = _with_variables(agent, _effective_config(agent, req, voice), now, tool_names)
    check_language(agent.stt_engine, config.language)
    ttl = settings.token_ttl_seconds
    session_id, room_name = new_id("ses"), new_id("room")
    identity = "user_" + secrets.token_hex(8)
    join_deadline = now + timedelta(seconds=ttl)
    token = mint_join_token(
        api_key=platform.secrets.livekit_api_key,
        api_secret=platform.secrets.livekit_api_secret,
        agent_name=settings.agent_name,
        grant=JoinGrant(
            room_name=room_name,
            identity=identity,
            session_id=session_id,
            ttl_seconds=ttl,
            max_call_seconds=agent.max_call_seconds,
        ),
    )
    row = {
        "id": session_id,
        "org_id": org_id,
        "agent_id": agent.id,
        "api_key_id": key.id if key is not None else None,
        "room_name": room_name,
        "participant_identity": identity,
        "status": "created",
        "config": config.stored(),
        "mcp_headers_encrypted": platform.box.seal(req.mcp_headers) if req.mcp_headers else None,
        "created_at": now,
        "join_deadline": join_deadline,
        "hard_deadline": join_deadline + timedelta(seconds=agent.max_call_seconds),
        "usage": {},
    }
    _store(db, platform, row, key_id=None if key is None else key.id, now=now)
    return CreatedSession(session_id, room_name, identity, token)


def _store(
    db: Session, platform: Platform, row: dict[str, Any], *, key_id: str | None, now: datetime
) -> None:
    """Write the session row and take its limits (a place, the key's rate), all or nothing.

    On PostgreSQL one statement in autocommit does it all (``limits.at_once``), holding
    the key's row lock only while it runs (a transaction held it until the commit came
    back, and one key's requests queued on it). When that statement writes nothing (the
    organisation needs more places or has none free) or fails as it asks to (the key has
    no session left: nothing it did stays), the careful way runs and refuses with the
    right error."""
    settings = platform.settings
    places, rate = settings.max_concurrent_sessions_per_org, settings.key_rate_limit_per_minute
    if db.get_bind().dialect.name == "postgresql":
        values = limits.at_once_values(
            org_id=row["org_id"],
            session_id=row["id"],
            until=row["join_deadline"],
            now=now,
            limit=places,
            key_id=key_id,
            rate_limit=rate,
        )
        with _autocommit_connection(db, platform) as conn:
            try:
                written = conn.execute(
                    _INSERT_AT_ONCE[key_id is not None],
                    {**values, **{f"row_{name}": row[name] for name in _ROW_FIELDS}},
                ).first()
            except DBAPIError as e:
                if not limits.refused_at_once(e):
                    raise
                written = None
            if written is not None:
                return
        with platform.engine.begin() as conn:
            _write_carefully(conn, row, key_id=key_id, now=now, places=places, rate=rate)
        return
    with _writing(db):
        _write_carefully(db.connection(), row, key_id=key_id, now=now, places=places, rate=rate)
        db.commit()


@contextmanager
def _autocommit_connection(db: Session, platform: Platform) -> Iterator[Connection]:
    """``db``'s own connection when it was opened on ``autocommit(platform.engine)`` (the
    session endpoint's), else one of the pool's in autocommit, once ``db``'s reads are
    over and their connection is back in the pool."""
    engine = autocommit(platform.engine)
    if db.get_bind() is engine:
        yield db.connection()
        return
    db.commit()
    with engine.connect() as conn:
        yield conn


def _write_carefully(
    conn: Connection,
    row: dict[str, Any],
    *,
    key_id: str | None,
    now: datetime,
    places: int,
    rate: int,
) -> None:
    """The row first, then the limits, which lock what they count (a place, the key's
    row) until the commit right after: a refusal rolls the row back."""
    conn.execute(_INSERT_SESSION, row)
    limits.take_place(
        conn,
        org_id=row["org_id"],
        session_id=row["id"],
        until=row["join_deadline"],
        now=now,
        limit=places,
    )
    if key_id is not None:
        limits.spend_rate_token(conn, key_id=key_id, limit=rate, now=now)


_INSERT_SESSION = insert(VoiceSession)
_ROW_FIELDS = (
    "id",
    "org_id",
    "agent_id",
    "api_key_id",
    "room_name",
    "participant_identity",
    "status",
    "config",
    "mcp_headers_encrypted",
    "created_at",
    "join_deadline",
    "hard_deadline",
    "usage",
)
"""The columns ``create_session`` writes (the others take their defaults)."""


def _insert_at_once(*, with_key: bool) -> Insert:
    """The session row, written only if ``limits.at_once`` took its place and spent its
    key's session; bind ``limits.at_once_values`` and ``row_<column>`` for each column."""
    ctes, written = limits.at_once(with_key=with_key)
    columns = [VoiceSession.__table__.c[name] for name in _ROW_FIELDS]
    values = select(*[bindparam(f"row_{c.name}", type_=c.type) for c in columns]).where(written)
    return (
        insert(VoiceSession)
        .from_select(_ROW_FIELDS, values)
        .add_cte(*ctes)
        .returning(VoiceSession.id)
    )


_INSERT_AT_ONCE = {with_key: _insert_at_once(with_key=with_key) for with_key in (True, False)}


def record_event(
    db: Session, row: VoiceSession, *, kind: str, reason: str | None, usage: dict[str, Any] | None
) -> VoiceSession:
    """Apply a worker's started/ended report; an ended call is never reopened or changed."""
    now = datetime.now(UTC)
    if row.status == "ended":
        return row
    before = row.status
    if kind == "started" and row.status == "created":
        row.status = "active"
        row.started_at = now
    elif kind == "ended" and row.status in ("created", "active"):
        row.status = "ended"
        row.ended_at = now
        row.end_reason = reason or "unknown"
    if usage:
        row.usage = {**row.usage, **usage}
    if row.status != before:
        if row.status == "active":
            limits.hold_place(db.connection(), row.id, row.hard_deadline)
        elif row.status == "ended":
            limits.release_place(db.connection(), row.id, now)
        enqueue_session_event(db, row)  # webhooks: in the same transaction as the change
    db.commit()
    return row


def add_turn(
    db: Session, row: VoiceSession, *, seq: int, role: str, text: str, metrics: dict[str, Any]
) -> TranscriptTurn:
    """Store one transcript turn; a repeated ``seq`` (a retried report) is a no-op."""
    existing = db.scalar(
        select(TranscriptTurn).where(TranscriptTurn.session_id == row.id, TranscriptTurn.seq == seq)
    )
    if existing is not None:
        return existing
    turn = TranscriptTurn(session_id=row.id, seq=seq, role=role, text=text, metrics=metrics)
    db.add(turn)
    db.commit()
    return turn
