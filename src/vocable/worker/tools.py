"""Tools during a call: the agent's HTTP tools and its MCP servers' allowed tools, guarded.

HTTP tools (``vocable.http_tools``) come ready from the session's config (variables
filled, headers opened) and are called by ``http_tools.executor`` through the outbound
guard. At call start every active MCP server of the agent is connected at once, within
a budget; a server that is down or slow is left out with a warning and the call goes on without
its tools. Only tools on the server's allow-list reach the LLM (a tool it does not see
cannot be called: the framework answers an unknown name with an error).

Every call of either kind goes through ``ToolGuard``, whose rules are on by default:

- a timeout per call (the server's or the HTTP tool's own timeout);
- at most ``mcp_max_tool_calls_per_turn`` calls per caller turn;
- the same tool with the same arguments twice in a turn is refused (loop breaker);
- failures, refusals and timeouts come back to the LLM as the tool's result, never as
  an exception, so the agent always gets to answer;
- a call still running after ``mcp_filler_after_seconds`` makes the agent say a short
  filler ("One moment, let me check.").

Each call is kept (arguments and result cut short) and reported with the call's usage
under ``tools.calls``. Header values never reach a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from livekit.agents import RunContext
from livekit.agents.llm import RawFunctionTool, Tool, ToolError, Toolset, function_tool

from vocable.contracts.sessions import WorkerHttpTool, WorkerMcpServer, WorkerSessionConfig
from vocable.http_tools.executor import call_http_tool
from vocable.mcp.client import (
    McpUnavailable,
    PinnedMCPServer,
    ServerTarget,
    close_quietly,
    connect_server,
)
from vocable.mcp.service import merge_headers
from vocable.outbound import OutboundPolicy
from vocable.providers.registry import EngineFactory
from vocable.settings import Settings

log = logging.getLogger(__name__)

ToolCall = Callable[[], Awaitable[Any]]
Say = Callable[[str], object]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ToolFailed(ToolError):
    """A tool's failure with its own status for the call record (``http_error``,
    ``timeout``, ...); its message is what the LLM reads, as it is."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Turn:
    id: str
    calls: int = 0
    seen: set[str] = field(default_factory=set)


class ToolGuard:
    """The guardrails every MCP tool call of one call goes through (see the module doc)."""

    def __init__(
        self,
        *,
        max_calls_per_turn: int,
        filler_after: float,
        filler_text: str,
        max_result_chars: int,
        record_chars: int,
    ) -> None:
        self._max_calls = max_calls_per_turn
        self._filler_after = filler_after
        self._filler_text = filler_text
        self._max_result = max_result_chars
        self._record_chars = record_chars
        self._turn = _Turn(id="")
        self.records: list[dict[str, Any]] = []

    async def run(
        self,
        *,
        turn_id: str,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        timeout: float,
        call: ToolCall,
        say: Say | None = None,
    ) -> str:
        """Run ``call`` under the guardrails; always returns the text the LLM reads."""
        if turn_id != self._turn.id:
            self._turn = _Turn(id=turn_id)
        turn = self._turn
        key = tool + "\x00" + json.dumps(arguments, sort_keys=True, default=str)
        started = time.monotonic()
        filler = False
        if key in turn.seen:
            status = "repeated"
            result = (
                f"Refused: {tool} was already called with these arguments for this message. "
                "Use the earlier result and answer the caller now."
            )
        elif turn.calls >= self._max_calls:
            status = "limit"
            result = (
                f"Refused: at most {self._max_calls} tool calls are allowed per message. "
                "Answer the caller with what you know."
            )
        else:
            turn.calls += 1
            turn.seen.add(key)
            status, result, filler = await self._call(tool, timeout, call, say)
        result = _cut(result, self._max_result)
        self.records.append(
            {
                "at": datetime.now(UTC).isoformat(),
                "server": server,
                "tool": tool,
                "arguments": _cut(json.dumps(arguments, default=str), self._record_chars),
                "status": status,
                "result": _cut(result, self._record_chars),
                "ms": round((time.monotonic() - started) * 1000),
                "filler": filler,
            }
        )
        return result

    async def _call(
        self, tool: str, timeout: float, call: ToolCall, say: Say | None
    ) -> tuple[str, str, bool]:
        task = asyncio.ensure_future(call())
        filler = False
        try:
            done, _ = await asyncio.wait({task}, timeout=min(self._filler_after, timeout))
            if not done and say is not None and self._filler_after < timeout:
                filler = True
                try:
                    say(self._filler_text)
                except RuntimeError:
                    log.info("the filler could not be said (the session is closing)")
            async with asyncio.timeout(max(0.0, timeout - self._filler_after)):
                value = await task
        except TimeoutError:
            task.cancel()
            return (
                "timeout",
                f"Error: {tool} did not answer within {timeout:g} seconds. Tell the caller "
                "you cannot check that right now.",
                filler,
            )
        except ToolFailed as e:
            return e.status, e.message, filler
        except ToolError as e:
            return "error", f"Error from {tool}: {e.message}", filler
        except Exception as e:  # noqa: BLE001 - task boundary: an untrusted server's failure
            log.warning("tool call failed", extra={"tool": tool, "error": type(e).__name__})
            return "error", f"Error: {tool} failed ({type(e).__name__}).", filler
        finally:
            if not task.done():
                task.cancel()
        return "ok", value if isinstance(value, str) else json.dumps(value, default=str), filler

    def usage(self) -> list[dict[str, Any]]:
        return list(self.records)


def guarded_tool(
    tool: RawFunctionTool[..., Any], *, server: str, timeout: float, guard: ToolGuard
) -> RawFunctionTool[..., Any]:
    """``tool`` (an MCP tool) wrapped so that every call goes through ``guard``."""
    name = tool.info.name

    async def call(raw_arguments: dict[str, Any], context: RunContext[Any]) -> str:
        return await guard.run(
            turn_id=context.speech_handle.id,
            server=server,
            tool=name,
            arguments=raw_arguments,
            timeout=timeout,
            call=lambda: tool(raw_arguments=raw_arguments),
            say=lambda text: context.session.say(text, add_to_chat_ctx=False),
        )

    return function_tool(call, raw_schema=dict(tool.info.raw_schema))


HTTP_SERVER = "http"
"""What an HTTP tool's calls show as their ``server`` in the call record."""
_HTTP_GRACE = 1.0
"""The guard waits this much longer than an HTTP tool's timeout: the executor's own
timeout answers first, with its own message and status."""


def http_tool(
    tool: WorkerHttpTool,
    *,
    guard: ToolGuard,
    policy: OutboundPolicy,
    max_bytes: int,
    max_chars: int,
) -> RawFunctionTool[..., Any]:
    """An HTTP tool as a function tool the LLM can call; every call goes through ``guard``."""

    async def request(raw_arguments: dict[str, Any]) -> str:
        result = await call_http_tool(
            tool, raw_arguments, policy, max_bytes=max_bytes, max_chars=max_chars
        )
        if not result.ok:
            raise ToolFailed(result.status, result.text)
        return result.text

    async def call(raw_arguments: dict[str, Any], context: RunContext[Any]) -> str:
        return await guard.run(
            turn_id=context.speech_handle.id,
            server=HTTP_SERVER,
            tool=tool.name,
            arguments=raw_arguments,
            timeout=tool.timeout_seconds + _HTTP_GRACE,
            call=lambda: request(raw_arguments),
            say=lambda text: context.session.say(text, add_to_chat_ctx=False),
        )

    schema = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    return function_tool(call, raw_schema=schema)


@dataclass
class CallTools:
    """The tools of one call, the connections behind them and what happened to each."""

    tools: list[Tool | Toolset]
    guard: ToolGuard
    servers: list[dict[str, Any]]
    http_tools: list[str] = field(default_factory=list)
    """The names of the call's HTTP tools."""
    _connections: list[PinnedMCPServer] = field(default_factory=list)

    def usage(self) -> dict[str, Any]:
        """For the call record: each server's state, the HTTP tools and every tool call."""
        return {"servers": self.servers, "http_tools": self.http_tools, "calls": self.guard.usage()}

    async def aclose(self) -> None:
        await asyncio.gather(*(close_quietly(c) for c in self._connections))
        self._connections.clear()


def guard_from_settings(settings: Settings) -> ToolGuard:
    return ToolGuard(
        max_calls_per_turn=settings.mcp_max_tool_calls_per_turn,
        filler_after=settings.mcp_filler_after_seconds,
        filler_text=settings.mcp_filler_text,
        max_result_chars=settings.mcp_max_result_chars,
        record_chars=settings.mcp_record_chars,
    )


async def load_call_tools(
    config: WorkerSessionConfig, *, settings: Settings, policy: OutboundPolicy | None = None
) -> CallTools:
    """The session's HTTP tools and its MCP servers' tools (connected in parallel), guarded.

    An MCP tool named like an HTTP tool (or an earlier MCP tool) is left out."""
    guard = guard_from_settings(settings)
    policy = policy or OutboundPolicy.from_settings(settings)
    results = await asyncio.gather(
        *(
            _connect(s, config.mcp_headers, policy, settings.mcp_connect_budget_seconds)
            for s in config.mcp_servers
        )
    )
    out = CallTools(tools=[], guard=guard, servers=[])
    names: set[str] = set()
    for definition in config.http_tools:
        names.add(definition.name)
        out.http_tools.append(definition.name)
        out.tools.append(
            http_tool(
                definition,
                guard=guard,
                policy=policy,
                max_bytes=settings.http_tool_max_response_bytes,
                max_chars=settings.mcp_max_result_chars,
            )
        )
    for server, (connection, listed, error) in zip(config.mcp_servers, results, strict=True):
        state: dict[str, Any] = {"id": server.id, "name": server.name, "tools": []}
        out.servers.append(state)
        if connection is None:
            state["status"], state["reason"] = "unavailable", error
            log.warning(
                "MCP server unavailable; the call goes on without its tools",
                extra={"mcp_server_id": server.id, "reason": error},
            )
            continue
        out._connections.append(connection)
        state["status"] = "connected"
        for tool in listed:
            name = tool.info.name
            if server.allowed_tools is not None and name not in server.allowed_tools:
                continue
            if name in names:
                log.warning("duplicate MCP tool name skipped", extra={"tool": name})
                continue
            names.add(name)
            state["tools"].append(name)
            out.tools.append(
                guarded_tool(
                    tool, server=server.name, timeout=float(server.timeout_seconds), guard=guard
                )
            )
    return out


async def _connect(
    server: WorkerMcpServer, session_headers: dict[str, str], policy: OutboundPolicy, budget: float
) -> tuple[PinnedMCPServer | None, list[RawFunctionTool[..., Any]], str | None]:
    target = ServerTarget(
        url=server.url,
        transport=server.transport,
        headers=merge_headers(server.headers, session_headers),
        timeout=float(server.timeout_seconds),
    )
    try:
        connection, tools = await connect_server(
            target, policy, budget=min(budget, float(server.timeout_seconds))
        )
    except McpUnavailable as e:
        return None, [], e.reason
    return connection, tools, None


async def call_tools(config: WorkerSessionConfig, *, factory: EngineFactory) -> CallTools:
    """``load_call_tools`` with the worker's settings (the hook ``run_call`` uses)."""
    return await load_call_tools(config, settings=factory.settings)
