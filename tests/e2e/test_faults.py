"""Faults during live calls, on real processes: the worker killed, the API restarted,
LiveKit restarted. Each call is text-only (the faults are about processes, not audio).

Each scenario states how long its signal may take; the figures go to the test output.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.caller import Caller
from tests.support.faults import (
    RestartableApi,
    RestartableLiveKit,
    registrations,
    start_worker,
    stop_worker,
    wait_for_registrations,
)
from tests.support.servers import make_platform, make_settings

from vocable.settings import Settings

TEST_LLM = "qwen2.5-0.5b"
GREETING = "Welcome to Rosa's Bakery."
PROMPT = "You are the receptionist of Rosa's Bakery. It opens at nine and closes at six."

# how soon the platform must react to each fault (seconds)
CALLER_TOLD_WITHIN = 20.0
RECORD_CLOSED_WITHIN = 20.0


@dataclass
class Stack:
    settings: Settings
    api: RestartableApi
    livekit: RestartableLiveKit
    worker: subprocess.Popen[bytes]
    tenant: Tenant


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        worker_prewarm_llm=TEST_LLM,
        session_sweep_seconds=1.0,
        worker_heartbeat_timeout_seconds=4.0,
    )
    platform = make_platform(settings)
    api = RestartableApi(platform)
    livekit = RestartableLiveKit(settings, platform)
    api.start()
    livekit.start()
    worker = start_worker(settings)
    tenant = make_tenant(platform, system_prompt=PROMPT, greeting=GREETING, llm_engine=TEST_LLM)
    s = Stack(settings, api, livekit, worker, tenant)
    try:
        wait_for_registrations(livekit.log_path, 1)
        yield s
    finally:
        stop_worker(s.worker)
        livekit.stop()
        api.stop()


async def start_call(stack: Stack) -> tuple[Caller, dict[str, str]]:
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        resp = await http.post(
            "/api/agents/agent-session/",
            json={"agent": stack.tenant.agent_id, "text_only": True},
            headers={"x-api-key": stack.tenant.api_key},
        )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    caller = Caller()
    await caller.join(data["livekit_url"], data["token"])
    return caller, data


async def ended_record(stack: Stack, session_id: str, timeout: float) -> dict[str, Any]:
    headers = {"x-api-key": stack.tenant.api_key}
    async with httpx.AsyncClient(base_url=stack.api.url, headers=headers) as http:
        deadline = time.monotonic() + timeout
        while True:
            record: dict[str, Any] = (await http.get(f"/api/sessions/{session_id}")).json()
            if record["status"] == "ended" or time.monotonic() > deadline:
                return record
            await asyncio.sleep(0.2)


async def ask(caller: Caller, text: str) -> None:
    sent = await caller.send_text(text)
    await caller.wait_reply("agent_text", since=sent, timeout=90)


async def assert_a_call_is_served(stack: Stack) -> None:
    caller, data = await start_call(stack)
    try:
        assert (await caller.wait_reply("agent_text", timeout=90))["text"] == GREETING
        await ask(caller, "When do you open?")
    finally:
        await caller.leave()
    record = await ended_record(stack, data["session_id"], timeout=30)
    assert record["end_reason"] == "caller_left"


def seen_turns(caller: Caller) -> list[tuple[str, str]]:
    """The conversation as the caller saw it on ``voice.reply``, in the record's words."""
    role = {"user_text": "user", "agent_text": "agent"}
    return [(role[m["type"]], m["text"]) for m in caller.replies()]


async def test_an_api_restart_loses_no_turn_of_a_live_call(stack: Stack) -> None:
    caller, data = await start_call(stack)
    try:
        await caller.wait_reply("agent_text", timeout=90)
        await ask(caller, "When do you open?")
        await asyncio.to_thread(stack.api.stop)
        # the call goes on while the API is down; its turns wait to be reported
        await ask(caller, "And when do you close?")
        await asyncio.to_thread(stack.api.start)
        await ask(caller, "Thank you, that is all.")
    finally:
        await caller.leave()
    record = await ended_record(stack, data["session_id"], timeout=60)
    assert record["status"] == "ended" and record["end_reason"] == "caller_left"
    recorded = [(t["role"], t["text"]) for t in record["turns"]]
    assert len(recorded) == 7  # greeting + 3 questions and 3 answers
    assert recorded == seen_turns(caller)
    assert record["usage"]["turns"] == 7


async def test_a_killed_worker_ends_its_call_with_a_reason_and_a_new_one_serves_the_next(
    stack: Stack,
) -> None:
    caller, data = await start_call(stack)
    try:
        await caller.wait_reply("agent_text", timeout=90)
        stack.worker.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        # the API hears nothing more from the worker: it removes the agent from the room,
        # ends the record and closes the room, so the caller is disconnected
        await asyncio.wait_for(caller.disconnected.wait(), timeout=CALLER_TOLD_WITHIN)
        told_after = time.monotonic() - killed
        record = await ended_record(stack, data["session_id"], timeout=RECORD_CLOSED_WITHIN)
        closed_after = time.monotonic() - killed
        assert record["status"] == "ended" and record["end_reason"] == "worker_lost"
        print(
            f"worker killed: caller {caller.connection_events} after {told_after:.1f}s, "
            f"record closed after {closed_after:.1f}s"
        )
    finally:
        await caller.leave()
    stack.worker.wait(timeout=10)
    before = registrations(stack.livekit.log_path)
    stack.worker = start_worker(stack.settings)
    await asyncio.to_thread(wait_for_registrations, stack.livekit.log_path, before + 1)
    await assert_a_call_is_served(stack)


async def test_a_livekit_restart_ends_live_calls_clearly_and_new_calls_work_after(
    stack: Stack,
) -> None:
    caller, data = await start_call(stack)
    try:
        await caller.wait_reply("agent_text", timeout=90)
        before = registrations(stack.livekit.log_path)
        await asyncio.to_thread(stack.livekit.stop)
        stopped = time.monotonic()
        await asyncio.wait_for(caller.disconnected.wait(), timeout=60)
        told_after = time.monotonic() - stopped
        await asyncio.to_thread(stack.livekit.start)
        record = await ended_record(stack, data["session_id"], timeout=RECORD_CLOSED_WITHIN)
        closed_after = time.monotonic() - stopped
        print(
            f"LiveKit restarted: caller events {caller.connection_events} after "
            f"{told_after:.1f}s, record closed after {closed_after:.1f}s"
        )
        assert record["status"] == "ended" and record["end_reason"] == "media_lost"
    finally:
        await caller.leave()
    # the worker registers again by itself: no restart of the worker process
    await asyncio.to_thread(wait_for_registrations, stack.livekit.log_path, before + 1, 120)
    assert stack.worker.poll() is None
    await assert_a_call_is_served(stack)
