"""A real worker reports its capacity: with one place, a second session waits for the
first call to end (503 no_agent_available), instead of a room no agent would join."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import make_tenant
from tests.support.caller import Caller
from tests.support.servers import ApiServer, make_settings, running_platform

from vocable.db.models import Worker

TEST_LLM = "qwen2.5-0.5b"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        worker_prewarm_llm=TEST_LLM,
        worker_max_jobs=1,
        worker_report_seconds=0.5,
    )
    with running_platform(settings) as api:
        yield api


def workers(api: ApiServer) -> list[Worker]:
    with api.platform.sessions() as db:
        return list(db.scalars(select(Worker)))


async def until(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_a_full_worker_gets_no_more_sessions_until_its_call_ends(api: ApiServer) -> None:
    tenant = make_tenant(api.platform, llm_engine=TEST_LLM, greeting="Hello from the bakery.")
    await until(lambda: [(w.capacity, w.active) for w in workers(api)] == [(1, 0)])
    body = {"agent": tenant.agent_id}
    key = {"x-api-key": tenant.api_key}
    async with httpx.AsyncClient(base_url=api.url) as http:
        first = await http.post("/api/agents/agent-session/", json=body, headers=key)
        assert first.status_code == 200, first.text
        refused = await http.post("/api/agents/agent-session/", json=body, headers=key)
        assert refused.status_code == 503 and refused.json()["code"] == "no_agent_available"
        data = first.json()["data"]
        caller = Caller()
        await caller.join(data["livekit_url"], data["token"])
        try:
            await caller.wait_reply("agent_text", timeout=60)  # the one place is taken
            await until(lambda: [w.active for w in workers(api)] == [1])
        finally:
            await caller.leave()
        await until(lambda: [w.active for w in workers(api)] == [0])
        deadline = time.monotonic() + 30
        while True:  # the call record closes as the worker reports the end
            again = await http.post("/api/agents/agent-session/", json=body, headers=key)
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert again.status_code == 200, again.text
