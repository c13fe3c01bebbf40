"""Connecting to an MCP server: livekit-agents' ``MCPServerHTTP`` on a pinned client.

``connect_server`` is used both by the API's "test connection" and by the worker at
call start; failures become an ``McpUnavailable`` with a short reason that names no
header and no part of the URL beyond what the customer already knows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx2
from livekit.agents.llm import RawFunctionTool, ToolError
from livekit.agents.llm.mcp import MCPServerHTTP, MCPToolResultContext
from mcp import MCPError

from vocable.mcp.transport import pinned_mcp_client
from vocable.outbound import OutboundPolicy, OutboundRefused

log = logging.getLogger("vocable.mcp.client")
# httpx2 logs every request URL at INFO; an MCP URL's query string may hold a token
logging.getLogger("httpx2").setLevel(logging.WARNING)

SSE_READ_TIMEOUT_SECONDS = 300.0
"""How long an SSE stream may stay silent between events (tool calls have their own timeout)."""


class McpUnavailable(Exception):
    """The server could not be reached or did not speak MCP; ``reason`` is a stable code.

    ``reason`` is an ``OutboundRefused`` reason when the URL was refused, else one of
    ``timeout``, ``connection_failed``, ``http_status``, ``protocol_error``.
    """

    def __init__(self, reason: str, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.refused = refused


def text_result(ctx: MCPToolResultContext) -> str:
    """A tool result as plain text for the LLM (the SDK's default is the JSON of each part)."""
    parts: list[str] = []
    for part in ctx.result.content:
        text = getattr(part, "text", None)
        parts.append(text if isinstance(text, str) else part.model_dump_json(by_alias=True))
    if not parts and ctx.result.structured_content is not None:
        parts.append(str(ctx.result.structured_content))
    if not parts:
        raise ToolError(f"Tool '{ctx.tool_name}' returned nothing.")
    return "\n".join(parts)


class PinnedMCPServer(MCPServerHTTP):
    """``MCPServerHTTP`` whose HTTP requests all go through the outbound rules."""

    def __init__(
        self,
        *,
        url: str,
        transport: Literal["streamable_http", "sse"],
        headers: Mapping[str, str],
        timeout: float,
        policy: OutboundPolicy,
    ) -> None:
        super().__init__(
            url=url,
            transport_type=transport,
            headers=dict(headers),
            timeout=timeout,
            sse_read_timeout=SSE_READ_TIMEOUT_SECONDS,
            # a second more than the caller's own timeout, so that a slow tool ends as the
            # caller's TimeoutError rather than racing the SDK's request-timeout error
            client_session_timeout_seconds=timeout + 1,
            tool_result_resolver=text_result,
        )
        self._policy = policy

    def _create_http_client(
        self,
        headers: dict[str, Any] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        self._http_client = pinned_mcp_client(
            self._policy,
            headers=headers if headers is not None else self._headers,
            timeout=timeout or httpx2.Timeout(self._timeout, read=SSE_READ_TIMEOUT_SECONDS),
            auth=auth,
        )
        return self._http_client

    def __repr__(self) -> str:
        # the URL's query string may hold a token: never in logs or reprs
        return "PinnedMCPServer()"


@dataclass(frozen=True)
class ServerTarget:
    """What it takes to connect to one MCP server."""

    url: str
    transport: Literal["streamable_http", "sse"]
    headers: Mapping[str, str]
    timeout: float


async def connect_server(
    target: ServerTarget, policy: OutboundPolicy, *, budget: float | None = None
) -> tuple[PinnedMCPServer, list[RawFunctionTool[..., Any]]]:
    """Connect, initialise and list the tools, within ``budget`` (default: the timeout).

    The caller owns the returned server and must ``aclose()`` it. Raises
    ``McpUnavailable``; the server is closed then.
    """
    server = PinnedMCPServer(
        url=target.url,
        transport=target.transport,
        headers=target.headers,
        timeout=target.timeout,
        policy=policy,
    )
    try:
        async with asyncio.timeout(budget or target.timeout):
            await server.initialize()
            tools = [t for t in await server.list_tools() if isinstance(t, RawFunctionTool)]
    except BaseException as e:
        await close_quietly(server)
        if isinstance(e, Exception):
            raise unavailable(e) from None
        raise
    return server, tools


async def close_quietly(server: PinnedMCPServer) -> None:
    """Close a server connection; a connection that already failed raises nothing."""
    try:
        await server.aclose()
    except Exception:  # task boundary: the failure was already reported
        log.debug("closing an MCP connection failed", exc_info=True)


def unavailable(error: BaseException) -> McpUnavailable:
    """Classify a connection failure (the SDK wraps errors in exception groups)."""
    leaf = _leaf(error)
    if isinstance(leaf, OutboundRefused):
        return McpUnavailable(leaf.reason.value, leaf.message, refused=True)
    if isinstance(leaf, TimeoutError | httpx2.TimeoutException):
        return McpUnavailable("timeout", "The MCP server did not answer in time")
    if isinstance(leaf, httpx2.HTTPStatusError):
        status = leaf.response.status_code
        return McpUnavailable("http_status", f"The MCP server answered HTTP {status}")
    if isinstance(leaf, httpx2.TransportError | OSError):
        return McpUnavailable("connection_failed", "Could not connect to the MCP server")
    if isinstance(leaf, MCPError):
        return McpUnavailable("protocol_error", "The MCP server refused the MCP handshake")
    return McpUnavailable("protocol_error", f"The server did not speak MCP ({type(leaf).__name__})")


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
