"""A text call whose agent uses real MCP servers, with the real embedded 1.5B LLM.

One stack, one call, two questions: the agent looks an order up over streamable HTTP
and answers with the result; a stock check over SSE times out and the agent still
answers. A third server is down the whole time and the call does not notice. The
servers' own records prove the arguments, the session header, and that a tool left off
the allow-list was never called.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.caller import Caller
from tests.support.mcp_server import McpTestServer, running_mcp_server
from tests.support.net import free_ports
from tests.support.servers import ApiServer, make_settings, running_platform

LLM = "qwen2.5-1.5b"  # the packaged model that makes tool calls (docs: embedded models)
PROMPT = (
    "You are the order desk of Acme Shop. Use the tools to look up orders and stock, "
    "then tell the caller what they found."
)
GREETING = "Acme Shop order desk, how can I help?"


@dataclass
class Stack:
    api: ApiServer
    tenant: Tenant
    orders: McpTestServer
    stock: McpTestServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("mcp")
    http_port, sse_port, down_port = free_ports(3)
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        worker_prewarm_llm=LLM,
        outbound_allow_hosts=[f"127.0.0.1:{p}" for p in (http_port, sse_port, down_port)],
    )
    with (
        running_mcp_server("streamable_http", http_port, root / "orders.jsonl") as orders,
        running_mcp_server("sse", sse_port, root / "stock.jsonl") as stock,
        running_platform(settings) as api,
    ):
        tenant = make_tenant(api.platform, system_prompt=PROMPT, greeting=GREETING, llm_engine=LLM)
        with httpx.Client(base_url=api.url, headers={"x-api-key": tenant.api_key}) as http:
            base = f"/api/agents/{tenant.agent_id}/mcp-servers"
            for body in (
                {
                    "name": "Orders",
                    "url": orders.url,
                    "headers": {"X-Static": "orders"},
                    "allowed_tools": ["get_order_status"],
                },
                {
                    "name": "Stock",
                    "url": stock.url,
                    "transport": "sse",
                    "timeout_seconds": 2,
                    "allowed_tools": ["check_stock"],
                },
                {"name": "Down", "url": f"http://127.0.0.1:{down_port}/mcp", "allowed_tools": None},
            ):
                assert http.post(base, json=body).status_code == 201
        yield Stack(api=api, tenant=tenant, orders=orders, stock=stock)


async def _record(stack: Stack, session_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        headers = {"x-api-key": stack.tenant.api_key}
        deadline = time.monotonic() + 30
        while True:
            resp = await http.get(f"/api/sessions/{session_id}", headers=headers)
            record: dict[str, Any] = resp.json()
            if record["status"] == "ended" or time.monotonic() > deadline:
                return record
            await asyncio.sleep(0.3)


async def test_agent_calls_allowed_tools_survives_a_slow_and_a_down_server(stack: Stack) -> None:
    token = "sess-" + secrets.token_hex(4)
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        resp = await http.post(
            "/api/agents/agent-session/",
            json={
                "agent": stack.tenant.agent_id,
                "text_only": True,
                "mcp_headers": {"X-Caller-Token": token},
            },
            headers={"x-api-key": stack.tenant.api_key},
        )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert token not in resp.text  # session headers never go back towards the browser
    caller = Caller()
    await caller.join(data["livekit_url"], data["token"])
    try:
        greeting = await caller.wait_reply("agent_text", timeout=120)
        assert greeting["text"] == GREETING  # the server that is down did not stop the call

        sent = await caller.send_text("What is the status of order 4417?")
        reply = await caller.wait_reply_where(
            "agent_text", sent, lambda m: "thursday" in m["text"].lower(), timeout=240
        )
        assert reply
        assert stack.orders.tool_calls("get_order_status") == [
            {"tool": "get_order_status", "arguments": {"order_id": "4417"}}
        ]

        sent = await caller.send_text("Is the blue teapot in stock?")
        answered = await caller.wait_reply("agent_text", since=sent, timeout=240)
        assert answered["text"].strip()  # the agent recovered from the timeout and answered
        assert "teapot" in str(stack.stock.tool_calls("check_stock")[0]["arguments"]).lower()
    finally:
        await caller.leave()

    # the session header reached the server (over the static one's side), not the record
    orders_headers = stack.orders.request_headers()
    assert any(h.get("x-caller-token") == token for h in orders_headers)
    assert any(h.get("x-static") == "orders" for h in orders_headers)
    assert not stack.orders.tool_calls("cancel_all_orders")
    assert not stack.stock.tool_calls("cancel_all_orders")

    record = await _record(stack, data["session_id"])
    tools = record["usage"]["tools"]
    states = {s["name"]: s for s in tools["servers"]}
    assert states["Orders"] == {
        **states["Orders"],
        "status": "connected",
        "tools": ["get_order_status"],
    }
    assert states["Stock"]["tools"] == ["check_stock"]
    assert states["Down"]["status"] == "unavailable"
    calls = tools["calls"]
    assert calls[0]["tool"] == "get_order_status" and calls[0]["status"] == "ok"
    assert "Thursday" in calls[0]["result"]
    (stock_call,) = [c for c in calls if c["tool"] == "check_stock"]
    assert stock_call["status"] == "timeout" and stock_call["filler"] is True
    assert 1900 <= stock_call["ms"] < 5000  # the server's 2 s timeout, not its 60 s sleep
    assert token not in str(record)
