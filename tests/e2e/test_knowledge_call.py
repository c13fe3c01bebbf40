"""A text-only call answers from the agent's knowledge base with the real embedded LLM.

The fact asked about is only in an uploaded document, never in the prompt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.caller import Caller
from tests.support.servers import ApiServer, make_settings, running_platform

TEST_LLM = "qwen2.5-0.5b"
PROMPT = "You are the receptionist of Rosa's Bakery. Answer the caller's questions briefly."
GREETING = "Welcome to Rosa's Bakery."
DOCUMENT = (
    b"# Rosa's Bakery staff\n\n"
    b"The head baker of Rosa's Bakery is Ottoline Brisk. She has baked here since 2009.\n\n"
    b"# Ordering\n\nCelebration cakes must be ordered three days in advance.\n"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, Tenant]]:
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        worker_prewarm_llm=TEST_LLM,
        knowledge_poll_seconds=0.2,
        # 2-core CI: the first retrieval of a cold worker on 2 loaded cores can take seconds
        knowledge_retrieval_budget_ms=10_000,
    )
    with running_platform(settings) as api:
        tenant = make_tenant(
            api.platform, system_prompt=PROMPT, greeting=GREETING, llm_engine=TEST_LLM
        )
        yield api, tenant


async def _upload_and_wait(http: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = {"x-api-key": tenant.api_key}
    resp = await http.post(
        f"/api/agents/{tenant.agent_id}/knowledge",
        files={"file": ("staff.md", DOCUMENT, "text/markdown")},
        headers=headers,
    )
    assert resp.status_code == 202, resp.text
    doc_id = resp.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        doc = (
            await http.get(f"/api/agents/{tenant.agent_id}/knowledge/{doc_id}", headers=headers)
        ).json()
        if doc["status"] == "ready":
            return
        assert doc["status"] != "failed", doc
        await asyncio.sleep(0.2)
    raise AssertionError("document was not indexed in time")


async def test_a_question_answered_only_by_a_document_is_answered(
    stack: tuple[ApiServer, Tenant],
) -> None:
    api, tenant = stack
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        await _upload_and_wait(http, tenant)
        resp = await http.post(
            "/api/agents/agent-session/",
            json={"agent": tenant.agent_id, "text_only": True},
            headers={"x-api-key": tenant.api_key},
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        caller = Caller()
        await caller.join(data["livekit_url"], data["token"])
        try:
            await caller.wait_reply("agent_text", timeout=60)  # the greeting
            sent = await caller.send_text("What is the name of your head baker?")
            reply = await caller.wait_reply("agent_text", since=sent, timeout=120)
            assert "ottoline" in reply["text"].lower(), reply
        finally:
            await caller.leave()
        record: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            record = (
                await http.get(
                    f"/api/sessions/{data['session_id']}", headers={"x-api-key": tenant.api_key}
                )
            ).json()
            if record["status"] == "ended":
                break
            await asyncio.sleep(0.3)
    knowledge = record["usage"]["knowledge"]
    assert knowledge["turns"] and knowledge["turns"][0]["passages"] >= 1, knowledge
    assert 0 < knowledge["turns"][0]["retrieval_ms"] < 10_000
