"""Request and response models of ``/api/agents/{id}/mcp-servers``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vocable.contracts.fields import HttpUrlStr, McpHeaders, Name

Transport = Literal["streamable_http", "sse"]
TimeoutSeconds = Annotated[int, Field(ge=2, le=30)]
MAX_ALLOWED_TOOLS = 100
HIDDEN = "••••"
"""What a stored header value reads as: values never leave the API after creation."""
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def _tool_names(value: list[str]) -> list[str]:
    if len(value) > MAX_ALLOWED_TOOLS:
        raise ValueError(f"at most {MAX_ALLOWED_TOOLS} tool names")
    for name in value:
        if not _TOOL_NAME.match(name):
            raise ValueError("tool names are 1-128 letters, digits, '_', '-' or '.'")
    return list(dict.fromkeys(value))


ToolNames = Annotated[list[str], AfterValidator(_tool_names)]


class McpServerCreate(BaseModel):
    """A server to connect. ``allowed_tools`` is an allow-list: ``[]`` (the default)
    exposes no tool until you name some; ``null`` exposes every tool the server lists."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    url: HttpUrlStr
    transport: Transport = "streamable_http"
    headers: McpHeaders = Field(default_factory=dict)
    timeout_seconds: TimeoutSeconds = 12
    active: bool = True
    allowed_tools: ToolNames | None = Field(default_factory=list)


class McpServerUpdate(BaseModel):
    """Partial update: fields left out stay as they are.

    ``headers`` replaces the whole set (``{}`` removes them); ``allowed_tools: null``
    exposes every tool, which differs from leaving the field out.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    url: HttpUrlStr | None = None
    transport: Transport | None = None
    headers: McpHeaders | None = None
    timeout_seconds: TimeoutSeconds | None = None
    active: bool | None = None
    allowed_tools: ToolNames | None = None


class McpServerPublic(BaseModel):
    id: str
    agent_id: str
    name: str
    url: str
    transport: str
    headers: dict[str, str]
    """Header names with hidden values (``{"Authorization": "••••"}``)."""
    timeout_seconds: int
    active: bool
    allowed_tools: list[str] | None
    created_at: datetime
    updated_at: datetime


class McpToolPublic(BaseModel):
    name: str
    description: str
    allowed: bool
    """Whether calls of this agent may use the tool (the allow-list names it)."""


class McpTestResult(BaseModel):
    ok: Literal[True] = True
    tools: list[McpToolPublic]
    elapsed_ms: int
