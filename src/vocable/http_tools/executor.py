"""One call of an HTTP tool: the LLM's arguments checked, the endpoint called through the
outbound guard, and the answer turned into text the LLM reads. No livekit here.

- arguments are checked against the tool's schema first; a bad one is an error result;
- ``GET`` sends the arguments as query parameters, other methods as a JSON body;
- every request goes through ``vocable.outbound`` (checked and pinned address, no proxy
  variables); redirects are not followed (they would carry the tool's headers to a URL
  the business did not name): a 3xx is an error result;
- the whole exchange is bounded by the tool's timeout, and the body by
  ``max_bytes`` (read as it streams; reading stops past the limit);
- 2xx JSON: the JSON, compact; 2xx other text: the text; both cut to ``max_chars``;
- 4xx/5xx, timeouts, refusals and oversized bodies are results with a status other than
  ``ok``, never exceptions.

Header values and the URL's query never reach a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

import httpx

from vocable.contracts.sessions import WorkerHttpTool
from vocable.http_tools.params import check_arguments
from vocable.outbound import OutboundPolicy, OutboundRefused, RefusalReason, async_outbound_client

log = logging.getLogger(__name__)

Status = Literal[
    "ok", "invalid_arguments", "http_error", "timeout", "too_large", "refused", "error"
]
MAX_BYTES = 262_144
MAX_CHARS = 4_000
_ERROR_BODY_CHARS = 300


@dataclass(frozen=True)
class HttpToolResult:
    status: Status
    text: str
    """What the LLM reads: the answer, or a short error naming what went wrong."""
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _TooLarge(Exception):
    pass


async def call_http_tool(
    tool: WorkerHttpTool,
    arguments: Any,
    policy: OutboundPolicy,
    *,
    max_bytes: int = MAX_BYTES,
    max_chars: int = MAX_CHARS,
) -> HttpToolResult:
    """Call ``tool`` with the LLM's ``arguments``; always returns a result (see module)."""
    problems = check_arguments(tool.parameters, arguments)
    if problems:
        return HttpToolResult(
            "invalid_arguments",
            f"Error: invalid arguments for {tool.name}: {'; '.join(problems)}.",
        )
    given = {k: v for k, v in arguments.items() if v is not None}
    started = time.monotonic()
    try:
        async with asyncio.timeout(tool.timeout_seconds):
            result = await _exchange(tool, given, policy, max_bytes, max_chars)
    except TimeoutError:
        result = HttpToolResult(
            "timeout",
            f"Error: {tool.name} did not answer within {tool.timeout_seconds} seconds.",
        )
    log.info(
        "HTTP tool called",
        extra={
            "http_tool_id": tool.id,
            "status": result.status,
            "http_status": result.http_status,
            "ms": round((time.monotonic() - started) * 1000),
        },
    )
    return result


async def _exchange(
    tool: WorkerHttpTool,
    arguments: dict[str, Any],
    policy: OutboundPolicy,
    max_bytes: int,
    max_chars: int,
) -> HttpToolResult:
    headers = {
        "Accept": "application/json, text/plain;q=0.9, */*;q=0.5",
        "Accept-Encoding": "identity",  # the size limit counts the bytes as sent
        **tool.headers,
    }
    request: dict[str, Any] = {"headers": headers}
    url = httpx.URL(tool.url)
    if tool.method == "GET":
        # added to the query the URL already has (httpx's params= would replace it)
        url = url.copy_merge_params({k: _query_value(v) for k, v in arguments.items()})
    else:
        request["json"] = arguments
    timeout = httpx.Timeout(float(tool.timeout_seconds))
    try:
        async with (
            async_outbound_client(policy, timeout=timeout) as client,
            client.stream(tool.method, url, **request) as response,
        ):
            status = response.status_code
            if 300 <= status < 400:
                return HttpToolResult(
                    "http_error",
                    f"Error: {tool.name} answered with a redirect (HTTP {status}), which is "
                    "not followed.",
                    status,
                )
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise _TooLarge
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise _TooLarge
            content_type = response.headers.get("Content-Type", "")
            encoding = response.encoding or "utf-8"
    except _TooLarge:
        return HttpToolResult(
            "too_large",
            f"Error: the answer of {tool.name} was larger than {max_bytes // 1024} KB and "
            "was not read.",
        )
    except OutboundRefused as e:
        if e.reason is RefusalReason.TIMEOUT:
            raise TimeoutError from None
        return HttpToolResult(
            "refused", f"Error: {tool.name} could not be reached ({e.reason.value})."
        )
    except httpx.TimeoutException:
        raise TimeoutError from None
    except httpx.HTTPError as e:
        return HttpToolResult("error", f"Error: {tool.name} failed ({type(e).__name__}).")
    text = bytes(body).decode(encoding, errors="replace")
    if status >= 400:
        reason = _reason(status)
        detail = _cut(_compact(text, content_type).strip(), _ERROR_BODY_CHARS)
        return HttpToolResult(
            "http_error",
            f"Error: {tool.name} answered HTTP {status}{reason}."
            + (f" Its answer: {detail}" if detail else ""),
            status,
        )
    if not text.strip():
        return HttpToolResult(
            "ok", f"Done: {tool.name} answered HTTP {status} with no content.", status
        )
    return HttpToolResult("ok", _cut(_compact(text, content_type), max_chars), status)


def _reason(status: int) -> str:
    try:
        return f" ({HTTPStatus(status).phrase})"
    except ValueError:
        return ""


def _compact(text: str, content_type: str) -> str:
    """JSON re-encoded without spaces (fewer tokens for the LLM); other text as it is."""
    media = content_type.split(";", 1)[0].strip().lower()
    looks_json = media.endswith("json") or text.lstrip()[:1] in ("{", "[")
    if not looks_json:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
