"""Request and response models, one family per resource."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from vocable.languages import normalise_language
from vocable.providers import catalog

MAX_PROMPT = 20_000
MAX_GREETING = 2_000
MAX_URL = 2_048
MAX_METADATA_BYTES = 16_384
MAX_MCP_HEADERS = 20
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    return value


def _language(value: str) -> str:
    return normalise_language(value)


def _mcp_headers(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_MCP_HEADERS:
        raise ValueError(f"at most {MAX_MCP_HEADERS} headers")
    for name, header_value in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError("header names must be HTTP tokens of at most 100 characters")
        if len(header_value) > 4096 or any(c in header_value for c in "\r\n\x00"):
            raise ValueError("header values must be single lines of at most 4096 characters")
    return value


def _storable_json(value: dict[str, Any]) -> str:
    """``value`` as JSON, if both databases can store it and a response can carry it."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("must be JSON without NaN or Infinity") from None
    if "\\u0000" in encoded:
        raise ValueError("must not contain NUL characters")
    return encoded


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    _storable_json(value)
    return value


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    encoded = _storable_json(value)
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"must serialise to at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
HttpUrlStr = Annotated[str, StringConstraints(max_length=MAX_URL), AfterValidator(_http_url)]
LanguageTag = Annotated[str, StringConstraints(max_length=35), AfterValidator(_language)]
Prompt = Annotated[str, StringConstraints(max_length=MAX_PROMPT), NoNul]
Greeting = Annotated[str, StringConstraints(max_length=MAX_GREETING), NoNul]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), NoNul]
McpHeaders = Annotated[dict[str, str], AfterValidator(_mcp_headers)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]


def _engine_validator(kind: catalog.EngineKind) -> AfterValidator:
    def check(value: str) -> str:
        if not catalog.is_known(kind, value):
            raise ValueError(f"unknown {kind} engine; choose one of {catalog.names(kind)}")
        return value

    return AfterValidator(check)


_EngineName = StringConstraints(max_length=80)
SttEngine = Annotated[str, _EngineName, _engine_validator("stt")]
LlmEngine = Annotated[str, _EngineName, _engine_validator("llm")]
TtsEngine = Annotated[str, _EngineName, _engine_validator("tts")]
VoiceModel = Annotated[str, _EngineName, _engine_validator("voice")]
"""How the reference voice is applied: embedded matching or a cloning engine."""
VoiceModelChoice = Annotated[
    VoiceModel | None, BeforeValidator(lambda v: None if v == "default" else v)
]
"""A ``VoiceModel``, or ``null``/``"default"``: the agent's, else the deployment's default."""
MaxCallSeconds = Annotated[int, Field(ge=30, le=7200)]
VoiceId = Annotated[str, StringConstraints(min_length=1, max_length=64), NoNul]


# --- the enterprise session endpoint -------------------------------------------------


class SessionRequest(BaseModel):
    """Body of ``POST /api/agents/agent-session/``. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    agent: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul
    ]
    language: LanguageTag | None = None
    system_prompt: Prompt | None = None
    greeting: Greeting | None = None
    reference_audio_url: HttpUrlStr | None = None
    voice_model: VoiceModelChoice = None
    """This call's voice engine instead of the agent's (see ``GET /api/engines``)."""
    mcp_headers: McpHeaders | None = None
    metadata: Metadata | None = None
    origin_url: HttpUrlStr | None = None
    text_only: bool | None = None
    """Chat without audio: the agent neither listens to nor speaks in the room."""


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


class LoginResponse(BaseModel):
    user: UserPublic
    csrf_token: str


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
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str
    """The full key: returned by this response only."""


# --- agents ---------------------------------------------------------------------------


class AgentBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentCreate(AgentBase):
    name: Name
    system_prompt: Prompt = "You are a helpful voice assistant. Keep answers short."
    greeting: Greeting = "Hello! How can I help you today?"
    language: LanguageTag = "en"
    reference_audio_url: HttpUrlStr | None = None
    """Fetched, checked and stored as the agent's voice when the agent is created."""
    voice_id: VoiceId | None = None
    """An existing voice of the organisation (instead of ``reference_audio_url``)."""
    stt_engine: SttEngine = catalog.DEFAULTS["stt"]
    llm_engine: LlmEngine = catalog.DEFAULTS["llm"]
    tts_engine: TtsEngine = catalog.DEFAULTS["tts"]
    voice_model: VoiceModelChoice = None
    """``None``: the deployment's default (``VOCABLE_DEFAULT_VOICE_MODEL``)."""
    max_call_seconds: MaxCallSeconds = 900
    active: bool = True


class AgentUpdate(AgentBase):
    """Partial update: fields left out stay as they are.

    A ``reference_audio_url`` is fetched and becomes the agent's voice; ``null`` clears
    it (and the voice fetched from it). ``voice_id`` links an existing voice of the
    organisation; ``null`` unlinks the agent's voice.
    """

    name: Name | None = None
    system_prompt: Prompt | None = None
    greeting: Greeting | None = None
    language: LanguageTag | None = None
    reference_audio_url: HttpUrlStr | None = None
    voice_id: VoiceId | None = None
    stt_engine: SttEngine | None = None
    llm_engine: LlmEngine | None = None
    tts_engine: TtsEngine | None = None
    voice_model: VoiceModelChoice = None
    """``null`` returns the agent to the deployment's default voice engine."""
    max_call_seconds: MaxCallSeconds | None = None
    active: bool | None = None


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
    turns: list[TurnPublic]


# --- the worker channel ---------------------------------------------------------------


class WorkerMcpServer(BaseModel):
    """An active MCP server of the session's agent, headers decrypted (worker only)."""

    id: str
    name: str
    url: str
    transport: Literal["streamable_http", "sse"]
    headers: dict[str, str]
    timeout_seconds: int
    allowed_tools: list[str] | None
    """``None``: every tool the server lists."""


class WorkerSessionConfig(BaseModel):
    session_id: str
    agent_id: str
    org_id: str
    room_name: str
    participant_identity: str
    status: str
    language: str
    system_prompt: str
    greeting: str
    reference_audio_url: str | None
    voice_model: str | None
    reference_audio_sha256: str | None = None
    """Hash of the session's normalised reference clip, when it has one."""
    voice_id: str | None = None
    """The stored voice of that clip (cloning engines' voices are cached per voice)."""
    reference_audio_path: str | None = None
    """Where the worker GETs that clip (16-bit mono WAV) with its own credential, relative
    to the API URL: ``/internal/voices/<sha256>``."""
    stt_engine: str
    llm_engine: str
    tts_engine: str
    max_call_seconds: int
    mcp_headers: dict[str, str]
    metadata: dict[str, Any]
    text_only: bool = False
    mcp_servers: list[WorkerMcpServer] = Field(default_factory=list)
    has_knowledge: bool = True
    """Whether the agent has documents that are (or may become) searchable: a call of an
    agent without any skips the knowledge search on every turn."""


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
    usage: Annotated[dict[str, Any], AfterValidator(_storable)] | None = None


class WorkerTurn(BaseModel):
    seq: Annotated[int, Field(ge=0, le=2**31 - 1)]  # an INTEGER column in both databases
    role: Literal["user", "agent", "tool"]
    text: Annotated[str, StringConstraints(max_length=MAX_PROMPT), NoNul]
    metrics: Annotated[dict[str, Any], AfterValidator(_storable)] = Field(default_factory=dict)
