"""Field types that requests, stored configuration and the worker share: URLs, prompts,
names, headers, metadata, language tags and engine names, each with its limits."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
)

from vocable.contracts import catalog
from vocable.contracts.languages import normalise_language
from vocable.contracts.variables import check_defaults, check_timezone

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
StorableDict = Annotated[dict[str, Any], AfterValidator(_storable)]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(check_timezone)]
"""An IANA time zone name (``UTC``, ``Europe/Madrid``)."""
VariableDefaults = Annotated[dict[str, str], AfterValidator(check_defaults)]
"""Values of ``{{variables}}`` a session's metadata does not give (``contracts.variables``)."""
"""A JSON object any database column takes (no NUL, no lone surrogates, no huge ints)."""


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


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")


def file_name(raw: str | None, fallback: str, limit: int = 120) -> str:
    """A name to show for an uploaded file: its last path segment (either separator),
    control characters replaced, at most ``limit`` characters; ``fallback`` if empty.
    Never a path: stored names cannot point anywhere."""
    tail = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNPRINTABLE.sub(" ", tail).strip()
    return name[:limit].strip() or fallback
