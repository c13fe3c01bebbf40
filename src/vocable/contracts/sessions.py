"""A session as a customer's backend asks for it, and as the worker receives it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vocable.contracts.conversation import CallTools, ConversationSettings
from vocable.contracts.fields import (
    Greeting,
    HttpUrlStr,
    LanguageTag,
    McpHeaders,
    Metadata,
    NoNul,
    Prompt,
    VoiceModelChoice,
)


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


class WorkerHttpTool(BaseModel):
    """An enabled HTTP tool of the session's agent, ready to call (worker only): its
    ``{{variables}}`` filled from the session and its headers opened."""

    id: str
    name: str
    description: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    headers: dict[str, str]
    parameters: dict[str, Any]
    """A JSON schema object: ``{"type": "object", "properties": {...}, "required": [...]}``."""
    timeout_seconds: int


SESSION_CONFIG_VERSION: Literal[1] = 1


class SessionConfig(BaseModel):
    """A session's effective configuration: its agent's settings with this call's
    overrides, frozen when the session is created and read by the worker.

    Stored as JSON in the session row. ``version`` names the stored shape; rows written
    before it existed have none and are version 1. A later shape bumps it and converts
    older rows in :meth:`from_stored`.
    """

    model_config = ConfigDict(extra="ignore")

    version: Literal[1] = SESSION_CONFIG_VERSION
    language: str
    system_prompt: str
    greeting: str
    reference_audio_url: str | None = None
    reference_audio_sha256: str | None = None
    """Hash of the session's normalised reference clip, when it has one."""
    voice_id: str | None = None
    """The stored voice of that clip (cloning engines' voices are cached per voice)."""
    voice_model: str | None = None
    stt_engine: str
    llm_engine: str
    tts_engine: str
    max_call_seconds: int
    metadata: dict[str, Any] = Field(default_factory=dict)
    origin_url: str | None = None
    text_only: bool = False
    """Chat without audio: the agent neither listens to nor speaks in the room."""
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)
    """The agent's conversation settings when the session was created (rows written
    before they existed read as the defaults)."""
    call_tools: CallTools = Field(default_factory=CallTools)

    def stored(self) -> dict[str, Any]:
        """The JSON kept in the session row."""
        return self.model_dump(mode="json")

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> SessionConfig:
        """A session row's configuration, whichever version wrote it."""
        return cls.model_validate({"version": SESSION_CONFIG_VERSION, **data})


class WorkerSessionConfig(SessionConfig):
    """What the worker receives for a call: the effective configuration, the session's
    identity in the room, and its secrets (MCP headers), over the worker channel only."""

    session_id: str
    agent_id: str
    org_id: str
    room_name: str
    participant_identity: str
    status: str
    reference_audio_path: str | None = None
    """Where the worker GETs that clip (16-bit mono WAV) with its own credential, relative
    to the API URL: ``/internal/voices/<sha256>``."""
    mcp_headers: dict[str, str] = Field(default_factory=dict)
    mcp_servers: list[WorkerMcpServer] = Field(default_factory=list)
    http_tools: list[WorkerHttpTool] = Field(default_factory=list)
    has_knowledge: bool = True
    """Whether the agent has documents that are (or may become) searchable: a call of an
    agent without any skips the knowledge search on every turn."""
