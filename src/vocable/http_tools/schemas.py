"""Request and response models of ``/api/agents/{id}/tools``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vocable.contracts.fields import HttpUrlStr, McpHeaders, NoNul
from vocable.contracts.variables import PLACEHOLDER, unknown_system_names
from vocable.http_tools.params import EMPTY, check_schema

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
TimeoutSeconds = Annotated[int, Field(ge=1, le=30)]
HIDDEN = "••••"
"""What a stored header value reads as: values never leave the API after creation."""
RESERVED_NAMES = frozenset({"end_call", "transfer_to_human"})
"""Built-in tools' names: an HTTP tool may not take them."""
_TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_DESCRIPTION = 1000


def _tool_name(value: str) -> str:
    if not _TOOL_NAME.match(value):
        raise ValueError(
            "a function name: lower-case letters, digits and _, starting with a letter (at most 64)"
        )
    if value in RESERVED_NAMES:
        raise ValueError(f"{value} is the name of a built-in tool")
    return value


def _known_variables(value: str) -> str:
    unknown = unknown_system_names(value)
    if unknown:
        raise ValueError(f"unknown system variables: {', '.join(unknown)}")
    return value


def _tool_url(value: str) -> str:
    """Variables only after the host: the host a tool calls is checked when it is saved."""
    parts = urlsplit(value)
    if "{" in parts.netloc or "}" in parts.netloc or parts.username or parts.password:
        raise ValueError(
            "the scheme and host must be written out: {{variables}} may only be used in "
            "the path and query, and credentials go in headers"
        )
    return _known_variables(value)


def _header_variables(value: dict[str, str]) -> dict[str, str]:
    for header_value in value.values():
        _known_variables(header_value)
    return value


ToolName = Annotated[str, AfterValidator(_tool_name)]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DESCRIPTION),
    NoNul,
    AfterValidator(_known_variables),
]
ToolUrl = Annotated[HttpUrlStr, AfterValidator(_tool_url)]
Parameters = Annotated[dict[str, Any], AfterValidator(check_schema)]
ToolHeaders = Annotated[McpHeaders, AfterValidator(_header_variables)]


class HttpToolCreate(BaseModel):
    """An endpoint the agent may call. ``{{variables}}`` in the URL (path and query),
    the description and header values are filled from each session's metadata, the
    agent's defaults and the ``system.`` values."""

    model_config = ConfigDict(extra="forbid")

    name: ToolName
    description: Description
    method: Method = "GET"
    url: ToolUrl
    parameters: Parameters = Field(default_factory=lambda: dict(EMPTY))
    headers: ToolHeaders = Field(default_factory=dict)
    timeout_seconds: TimeoutSeconds = 10
    enabled: bool = True


class HttpToolUpdate(BaseModel):
    """Partial update: fields left out stay as they are; ``headers`` replaces the whole
    set (``{}`` removes them)."""

    model_config = ConfigDict(extra="forbid")

    name: ToolName | None = None
    description: Description | None = None
    method: Method | None = None
    url: ToolUrl | None = None
    parameters: Parameters | None = None
    headers: ToolHeaders | None = None
    timeout_seconds: TimeoutSeconds | None = None
    enabled: bool | None = None


class HttpToolPublic(BaseModel):
    id: str
    agent_id: str
    name: str
    description: str
    method: str
    url: str
    parameters: dict[str, Any]
    headers: dict[str, str]
    """Header names with hidden values (``{"Authorization": "••••"}``)."""
    variables: list[str]
    """The ``{{variables}}`` the URL, description and headers use."""
    timeout_seconds: int
    enabled: bool
    created_at: datetime
    updated_at: datetime


def used_variables(url: str, description: str, headers: dict[str, str]) -> list[str]:
    """The variable names a tool's definition uses (sorted)."""
    return sorted(
        {m.group(1) for t in (url, description, *headers.values()) for m in PLACEHOLDER.finditer(t)}
    )
