"""A text call whose agent uses an HTTP tool, with the real embedded 1.5B LLM.

The agent calls the business's endpoint (a real HTTP server started by the test, on
loopback, allowed by the outbound rules) with the order number the caller typed and a
header filled from the session's metadata, and answers with what the endpoint said. The
call record lists the call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.caller import Caller
from tests.support.http_tool_server import HttpToolServer, running_http_tool_server
from tests.support.net import free_port
from tests.support.servers import ApiServer, make_settings, running_platform

LLM = "qwen2.5-1.5b"  # the packaged model that makes tool calls (docs: embedded models)
PROMPT = (
    "You are the order desk of Acme Shop. Use the tools to look up orders, "
    "then tell the caller what they found."
)
GREETING = "Acme Shop order desk, how can I help?"


@dataclass
class Stack:
    api: ApiServer
    tenant: Tenant
    shop: HttpToolServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        worker_prewarm_llm=LLM,
        outbound_allow_hosts=[f"127.0.0.1:{port}"],
    )
    with running_http_tool_server(port) as shop, running_platform(settings) as api:
        tenant = make_tenant(api.platform, system_prompt=PROMPT, greeting=GREETING, llm_engine=LLM)
        with httpx.Client(base_url=api.url, headers={"x-api-key": tenant.api_key}) as http:
            resp = http.post(
                f"/api/agents/{tenant.agent_id}/tools",
                json={
                    "name": "get_order_status",
                    "description": "Look up the delivery status of an order by its number.",
                    "url": f"{shop.base}/orders",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "order_id": {"type": "string", "description": "The order number"}
                        },
                        "required": ["order_id"],
                    },
                    "headers": {"X-Shop-Token": "tok-{{shop_token}}"},
                    "timeout_seconds": 5,
                },
            )
            assert resp.status_code == 201, resp.text
        yield Stack(api=api, tenant=tenant, shop=shop)


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


async def test_agent_calls_the_http_tool_and_answers_with_its_result(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        resp = await http.post(
            "/api/agents/agent-session/",
            json={
                "agent": stack.tenant.agent_id,
                "text_only": True,
                "metadata": {"shop_token": "SECRET42"},
            },
            headers={"x-api-key": stack.tenant.api_key},
        )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    caller = Caller()
    await caller.join(data["livekit_url"], data["token"])
    try:
        greeting = await caller.wait_reply("agent_text", timeout=120)
        assert greeting["text"] == GREETING
        sent = await caller.send_text("What is the status of order 4417?")
        reply = await caller.wait_reply_where(
            "agent_text", sent, lambda m: "thursday" in m["text"].lower(), timeout=240
        )
        assert reply
    finally:
        await caller.leave()

    (request,) = [r for r in stack.shop.requests if r["path"] == "/orders"]
    assert request["method"] == "GET" and request["query"] == {"order_id": "4417"}
    assert request["headers"]["x-shop-token"] == "tok-SECRET42"

    record = await _record(stack, data["session_id"])
    tools = record["usage"]["tools"]
    assert tools["http_tools"] == ["get_order_status"]
    (call,) = tools["calls"]
    assert (call["server"], call["tool"], call["status"]) == ("http", "get_order_status", "ok")
    assert "Thursday" in call["result"] and "4417" in call["arguments"]
    assert "tok-SECRET42" not in str(record)
