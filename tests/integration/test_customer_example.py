"""The customer example's public session route limits sessions per visitor, so strangers
cannot use up the organisation's concurrent calls through it."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from tests.conftest import Tenant
from tests.support.net import free_port
from tests.support.servers import ApiServer


@pytest.fixture
def example(api: ApiServer, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("VOCABLE_API_URL", api.url)
    monkeypatch.setenv("VOCABLE_API_KEY", tenant.api_key)
    monkeypatch.setenv("VOCABLE_AGENT_ID", tenant.agent_id)
    monkeypatch.setenv("VISITOR_SESSIONS_PER_MINUTE", "3")
    module = importlib.reload(importlib.import_module("examples.customer.app"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(module.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_visitor_gets_three_sessions_a_minute_and_only_join_grants(
    example: str, tenant: Tenant
) -> None:
    answers = [
        httpx.post(example + "/api/voice-agent/session", json={}, timeout=20) for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    for granted in answers[:3]:
        assert set(granted.json()["data"]) == {"token", "livekit_url", "room_name"}
        assert tenant.api_key not in granted.text
    assert 1 <= int(answers[3].headers["retry-after"]) <= 60
