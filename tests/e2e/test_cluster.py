"""A cluster on one machine, as `vocable up --cluster` starts it: Redis, two LiveKit nodes
in one cluster, two API processes on one PostgreSQL database, two workers, HAProxy in
front. Real processes and real audio; each fault says how long the platform took to react
(printed with ``-s``; the figures are in docs/self-hosting.md).

Which LiveKit node hosts a room and which worker takes a call is LiveKit's choice (a
random available node; a random worker weighted by free places): the tests read where
each call went from the processes' own logs instead of assuming it.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select
from tests.conftest import Tenant, make_tenant
from tests.support.caller import Caller, synthesize_speech
from tests.support.cluster_ports import free_cluster_ports
from tests.support.postgres import create_database
from tests.support.servers import make_platform

from vocable.accounts import service as accounts
from vocable.cli.cluster import Cluster
from vocable.db.models import TranscriptTurn, VoiceSession, Worker
from vocable.platform import Platform
from vocable.settings import Settings
from vocable.webhooks import service as webhooks
from vocable.webhooks.outbox import is_failure
from vocable.webhooks.schemas import WebhookEndpointCreate

TEST_LLM = "qwen2.5-0.5b"  # the small packaged model keeps the module fast on 2 cores
PROMPT = (
    "You are the receptionist of Rosa's Bakery. The bakery opens at nine in the morning "
    "and closes at six in the evening. Answer questions about opening hours."
)
GREETING = "Welcome to Rosa's Bakery."
NINE = {"nine", "9", "9am"}
CONCURRENCY = 6  # sessions one organisation may hold open
RATE = 5  # new sessions one API key may create a minute
SESSION = "/api/agents/agent-session/"
STATUS_INTERVAL = 2.6
CALLER_TOLD_WITHIN = 20.0
RECORD_CLOSED_WITHIN = 20.0


class Receiver:
    """A customer's webhook endpoint: records every delivery it is sent."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/hook"
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.bodies.append((self.headers.get("webhook-id", ""), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Call:
    caller: Caller
    session_id: str
    room: str
    ended: str = "caller_left"
    """The end reason its record must show."""


@dataclass
class Stack:
    cluster: Cluster
    platform: Platform
    receiver: Receiver
    calls: list[Call] = field(default_factory=list)
    """Every call made, for the last test's check that nothing was lost or doubled."""
    tenants: list[Tenant] = field(default_factory=list)


@pytest.fixture(scope="module")
def stack(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    database = create_database(postgres_server, "cluster_" + secrets.token_hex(4))
    ports, (hooks,) = free_cluster_ports(extra=1)
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path_factory.mktemp("cluster"),
            "database_url": database,
            "api_port": ports.api,
            "livekit_port": ports.livekit,
            "worker_prewarm_llm": TEST_LLM,
            "worker_max_jobs": 4,  # the default is one per core: 2 on this machine
            "worker_report_seconds": 0.5,
            "session_sweep_seconds": 1.0,
            "worker_heartbeat_timeout_seconds": 4.0,
            "token_ttl_seconds": 10,
            "max_concurrent_sessions_per_org": CONCURRENCY,
            "key_rate_limit_per_minute": RATE,
            "outbound_allow_hosts": [f"127.0.0.1:{hooks}"],
            "webhook_poll_seconds": 0.2,
        }
    )
    cluster = Cluster(settings, ports=ports)
    receiver = Receiver(hooks)
    try:
        cluster.start(registration_timeout=300)
        yield Stack(cluster, make_platform(cluster.settings), receiver)
    finally:
        cluster.stop()
        receiver.stop()


# --- helpers --------------------------------------------------------------------------


def new_tenant(stack: Stack, keys: int = 1) -> tuple[Tenant, list[str]]:
    """An organisation with ``keys`` API keys, an agent, and a webhook endpoint."""
    tenant = make_tenant(
        stack.platform, system_prompt=PROMPT, greeting=GREETING, llm_engine=TEST_LLM
    )
    extra = []
    with stack.platform.sessions() as db:
        for i in range(keys - 1):
            made = accounts.create_api_key(db, org_id=tenant.org_id, name=f"k{i}", created_by=None)
            extra.append(made.secret)
        webhooks.create_endpoint(
            db,
            stack.platform.box,
            org_id=tenant.org_id,
            data=WebhookEndpointCreate(url=stack.receiver.url),
            created_by=None,
            max_endpoints=10,
        )
    stack.tenants.append(tenant)
    return tenant, [tenant.api_key, *extra]


async def request_session(url: str, tenant: Tenant, key: str, **body: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await http.post(
            SESSION, json={"agent": tenant.agent_id, **body}, headers={"x-api-key": key}
        )


async def start_call(stack: Stack, url: str, tenant: Tenant, key: str, **body: object) -> Call:
    resp = await request_session(url, tenant, key, **body)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["livekit_url"] == stack.cluster.livekit_url  # HAProxy, not one node
    caller = Caller()
    await caller.join(data["livekit_url"], data["token"])
    call = Call(caller, data["session_id"], data["room_name"])
    stack.calls.append(call)
    return call


async def ask(call: Call, text: str) -> dict[str, Any]:
    sent = await call.caller.send_text(text)
    return await call.caller.wait_reply("agent_text", since=sent, timeout=120)


def log_text(stack: Stack, name: str) -> str:
    path = stack.cluster.logs / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def worker_of(stack: Stack, call: Call) -> str | None:
    """The worker that took the call: the one that fetched its session from the API."""
    found = [
        name
        for name in stack.cluster.children
        if name.startswith("worker-")
        and f"/internal/sessions/{call.session_id}" in log_text(stack, name)
    ]
    return found[0] if found else None


def node_of(stack: Stack, call: Call) -> str | None:
    """The LiveKit node that hosts the call's room (it logs its participants going active)."""
    pattern = re.compile(rf'participant active\s+\{{"room": "{call.room}"')
    found = [
        name
        for name in stack.cluster.children
        if name.startswith("livekit-") and pattern.search(log_text(stack, name))
    ]
    return found[0] if found else None


def recorded_turns(stack: Stack, call: Call) -> int:
    with stack.platform.sessions() as db:
        query = select(func.count()).where(TranscriptTurn.session_id == call.session_id)
        return int(db.scalar(query) or 0)


def reported_active(stack: Stack) -> list[list[int]]:
    """The calls each worker last reported to the API, as one list (in a list, so that
    ``until`` can wait for it)."""
    with stack.platform.sessions() as db:
        return [sorted(w.active for w in db.scalars(select(Worker)))]


async def until(check: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def record(stack: Stack, tenant: Tenant, call: Call, timeout: float = 30.0) -> dict[str, Any]:
    """The call's record once it ended (through the proxy: either API)."""
    headers = {"x-api-key": tenant.api_key}
    async with httpx.AsyncClient(base_url=stack.cluster.api_url, headers=headers) as http:
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = (await http.get(f"/api/sessions/{call.session_id}")).json()
            if body["status"] == "ended" or time.monotonic() > deadline:
                return body
            await asyncio.sleep(0.2)


def seen_turns(caller: Caller) -> list[tuple[str, str]]:
    role = {"user_text": "user", "agent_text": "agent"}
    return [(role[m["type"]], m["text"]) for m in caller.replies()]


def words(text: str) -> set[str]:
    return set(re.findall(r"[\w']+", text.lower()))


async def ask_aloud(call: Call, question: np.ndarray, attempts: int = 3) -> tuple[str, str]:
    """Speak ``question``; a misheard caller asks again (loopback audio on a starved 2-core
    machine can be garbled). Returns what was heard and the spoken answer."""
    heard, answer = "", ""
    for _ in range(attempts):
        began = time.monotonic()
        end = await call.caller.speak(question)
        answer = (await call.caller.wait_reply("agent_text", since=end, timeout=120))["text"]
        await call.caller.wait_for_quiet()
        heard = " ".join(m["text"] for m in call.caller.replies("user_text", since=began))
        if sum(any(st in w for w in words(heard)) for st in ("time", "bak", "open")) >= 2:
            break
    return heard, answer


# --- the tests ------------------------------------------------------------------------


async def test_calls_through_both_apis_land_on_both_nodes_and_both_workers_answer(
    stack: Stack, tmp_path: Path
) -> None:
    tenant, keys = new_tenant(stack, keys=2)
    apis = [stack.cluster.api_node_url(0), stack.cluster.api_node_url(1)]
    # six calls at once, three through each API process (each with its own key). LiveKit
    # learns each worker's load every 2.5 s (livekit-agents' status interval) and gives a
    # job to the least loaded: calls 2.6 s apart each see the one before counted, so the
    # workers share them
    calls = []
    for i in range(6):
        calls.append(await start_call(stack, apis[i % 2], tenant, keys[i % 2]))
        await asyncio.sleep(STATUS_INTERVAL)
    greetings = [c.caller.wait_reply("agent_text", timeout=120) for c in calls]
    assert [g["text"] for g in await asyncio.gather(*greetings)] == [GREETING] * 6
    workers = await until(
        lambda: (
            [worker_of(stack, c) for c in calls]
            if all(worker_of(stack, c) for c in calls)
            else None
        ),
        what="each call's worker in the logs",
    )
    nodes = await until(
        lambda: (
            [node_of(stack, c) for c in calls] if all(node_of(stack, c) for c in calls) else None
        ),
        what="each call's LiveKit node in the logs",
    )
    print(f"workers {workers}; LiveKit nodes {nodes}")
    # LiveKit balances by reported load, not in turns: both take calls, neither above 4
    shares = sorted(Counter(workers).values())
    assert len(shares) == 2 and max(shares) <= 4, workers
    reported = await until(
        lambda: [a for a in reported_active(stack) if sum(a) == 6], what="reports"
    )
    assert reported[0] == shares  # the API's view too
    # each worker takes calls up to VOCABLE_WORKER_MAX_JOBS (4): two more calls, of another
    # organisation, fill every place, and both are answered
    other, [other_key] = new_tenant(stack)
    more = []
    for i in range(2):
        more.append(await start_call(stack, apis[i], other, other_key, text_only=True))
        assert (await more[-1].caller.wait_reply("agent_text", timeout=60))["text"] == GREETING
        await asyncio.sleep(STATUS_INTERVAL)
    full = await until(lambda: [a for a in reported_active(stack) if sum(a) == 8], what="8")
    print(f"eight calls: the workers report {full[0]}")
    for call in more:
        await call.caller.leave()
    # one spoken question to each worker, transcribed and answered; typed ones elsewhere
    question = synthesize_speech("What time does the bakery open?", tmp_path / "q.wav")
    spoken = [calls[workers.index(w)] for w in ("worker-1", "worker-2")]
    for call in spoken:
        heard, answer = await ask_aloud(call, question)
        assert sum(any(st in w for w in words(heard)) for st in ("time", "bak", "open")) >= 2, heard
        assert words(answer) & NINE, answer
    typed = [c for c in calls if c not in spoken]
    answers = await asyncio.gather(*(ask(c, "When do you open?") for c in typed))
    assert all(a["text"] for a in answers)
    for call in calls:
        await call.caller.leave()
    for call in calls:  # their places are free again
        assert (await record(stack, tenant, call))["status"] == "ended"
    # LiveKit places each room on a random available node: with six rooms both nodes are
    # almost always used (31 in 32); otherwise up to four more calls, one at a time
    for i in range(4):
        if len(set(nodes)) == 2:
            break
        extra = await start_call(stack, apis[i % 2], tenant, keys[i % 2], text_only=True)
        await extra.caller.wait_reply("agent_text", timeout=120)
        await extra.caller.leave()
        nodes.append(await until(lambda: node_of(stack, extra), what="the node"))  # noqa: B023
    assert set(nodes) == {"livekit-1", "livekit-2"}


async def test_a_killed_worker_tells_its_caller_keeps_the_record_and_the_other_takes_the_next(
    stack: Stack,
) -> None:
    tenant, [key] = new_tenant(stack)
    call = await start_call(stack, stack.cluster.api_node_url(0), tenant, key, text_only=True)
    await call.caller.wait_reply("agent_text", timeout=120)
    await ask(call, "When do you open?")
    victim = await until(lambda: worker_of(stack, call), what="the call's worker")
    # mid-call, once the worker reported the turns so far (a turn it had not reported
    # when it died is lost with it)
    await until(lambda: recorded_turns(stack, call) == 3, what="the turns reported")
    survivor = "worker-2" if victim == "worker-1" else "worker-1"
    stack.cluster.stop_one(victim, kill=True)
    killed = time.monotonic()
    call.ended = "worker_lost"
    await asyncio.wait_for(call.caller.disconnected.wait(), timeout=CALLER_TOLD_WITHIN)
    told_after = time.monotonic() - killed
    body = await record(stack, tenant, call, timeout=RECORD_CLOSED_WITHIN)
    closed_after = time.monotonic() - killed
    await call.caller.leave()
    print(
        f"{victim} killed: caller {call.caller.connection_events} after {told_after:.1f}s, "
        f"record closed after {closed_after:.1f}s"
    )
    assert call.caller.connection_events[-1] == "disconnected"  # the room was closed
    assert body["status"] == "ended" and body["end_reason"] == "worker_lost"
    assert [(t["role"], t["text"]) for t in body["turns"]] == seen_turns(call.caller)
    # the next call, through the other API, is the other worker's
    served = time.monotonic()
    nxt = await start_call(stack, stack.cluster.api_node_url(1), tenant, key, text_only=True)
    await nxt.caller.wait_reply("agent_text", timeout=120)
    await ask(nxt, "When do you open?")
    print(f"next call answered {time.monotonic() - served:.1f}s after it was requested")
    await nxt.caller.leave()
    assert worker_of(stack, nxt) == survivor
    # the killed worker comes back for the tests after this one
    before = sum(log_text(stack, n).count("worker registered") for n in ("livekit-1", "livekit-2"))
    stack.cluster.start_one(victim)
    await asyncio.to_thread(stack.cluster.wait_for_registrations, before + 1, 300)


async def test_a_stopped_livekit_node_leaves_new_sessions_served_by_the_other(
    stack: Stack,
) -> None:
    tenant, [key] = new_tenant(stack)
    call = await start_call(stack, stack.cluster.api_url, tenant, key, text_only=True)
    await call.caller.wait_reply("agent_text", timeout=120)
    node = await until(lambda: node_of(stack, call), what="the call's node")
    other = "livekit-2" if node == "livekit-1" else "livekit-1"
    # SIGTERM: LiveKit drains (takes no new rooms, keeps its calls) until its rooms close
    stack.cluster.process(node).terminate()
    stopped = time.monotonic()
    served: list[float] = []
    for i in range(2):  # new sessions, through both API processes, go to the other node
        nxt = await start_call(stack, stack.cluster.api_node_url(i), tenant, key, text_only=True)
        await nxt.caller.wait_reply("agent_text", timeout=120)
        await ask(nxt, "When do you open?")
        served.append(time.monotonic() - stopped)
        await nxt.caller.leave()
        assert node_of(stack, nxt) == other
    await ask(call, "And when do you close?")  # the draining node's call goes on
    # then the node dies (a crash, or a drain cut short). The caller's SDK and the agent's
    # rejoin through the proxy and LiveKit recreates the room on the other node (and
    # dispatches its agent again: that job finds the call answered and leaves), with
    # nothing of the call in it: the API ends the call as media_lost when the room starts
    # again (or when it finds it gone), and closes it, so the caller is told
    stack.cluster.stop_one(node, kill=True)
    killed = time.monotonic()
    mark = len(call.caller.connection_events)
    try:
        await asyncio.wait_for(call.caller.disconnected.wait(), timeout=CALLER_TOLD_WITHIN)
    finally:
        print(f"{node} killed: the caller's events {call.caller.connection_events[mark:]}")
    told_after = time.monotonic() - killed
    await call.caller.leave()
    body = await record(stack, tenant, call, timeout=RECORD_CLOSED_WITHIN)
    call.ended = body["end_reason"]
    print(
        f"{node} draining: new calls answered {served[0]:.1f}s and {served[1]:.1f}s after "
        f"SIGTERM; killed: the caller told after {told_after:.1f}s, record "
        f"{body['status']} {body['end_reason']}"
    )
    assert (body["status"], body["end_reason"]) == ("ended", "media_lost"), body
    stack.cluster.start_one(node)
    await asyncio.to_thread(stack.cluster.livekit[node].wait_ready)


async def test_a_stopped_api_process_leaves_the_other_serving(stack: Stack) -> None:
    tenant, [key] = new_tenant(stack)
    call = await start_call(stack, stack.cluster.api_node_url(0), tenant, key, text_only=True)
    await call.caller.wait_reply("agent_text", timeout=120)
    await ask(call, "When do you open?")
    await asyncio.to_thread(stack.cluster.stop_one, "api-1")
    stopped = time.monotonic()
    # the live call goes on: its worker reports through the proxy to the other API
    await ask(call, "And when do you close?")
    nxt = await start_call(stack, stack.cluster.api_url, tenant, key, text_only=True)
    await nxt.caller.wait_reply("agent_text", timeout=120)
    print(
        "api-1 stopped: a new session through the proxy answered after "
        f"{time.monotonic() - stopped:.1f}s"
    )
    with pytest.raises(httpx.ConnectError):  # it is really stopped
        await request_session(stack.cluster.api_node_url(0), tenant, key)
    for c in (call, nxt):
        await c.caller.leave()
    for c in (call, nxt):
        body = await record(stack, tenant, c)
        assert body["end_reason"] == "caller_left"
        assert [(t["role"], t["text"]) for t in body["turns"]] == seen_turns(c.caller)
    stack.cluster.start_one("api-1")


async def test_organisation_limits_hold_across_the_api_processes(stack: Stack) -> None:
    tenant, keys = new_tenant(stack, keys=2)
    apis = [stack.cluster.api_node_url(0), stack.cluster.api_node_url(1)]
    await until(lambda: _healthy(apis[0]), what="api-1 back")

    async def burst(key: str, count: int) -> list[httpx.Response]:
        return list(
            await asyncio.gather(
                *(request_session(apis[i % 2], tenant, key, text_only=True) for i in range(count))
            )
        )

    def codes(responses: list[httpx.Response]) -> list[Any]:
        return sorted(
            (r.status_code, r.json().get("code") if r.status_code != 200 else None)
            for r in responses
        )

    # the rate: one key, eight requests at once over both processes; five pass
    rate = await burst(keys[0], 8)
    assert codes(rate) == [(200, None)] * RATE + [(429, "rate_limited")] * (8 - RATE)
    # the concurrency: another key of the same organisation; one more passes, then full
    full = await burst(keys[1], 4)
    assert codes(full) == [(200, None)] + [(429, "concurrency_limited")] * 3
    with stack.platform.sessions() as db:
        count = db.scalar(select(func.count()).where(VoiceSession.org_id == tenant.org_id))
    assert count == CONCURRENCY


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def test_nothing_is_lost_or_written_twice(stack: Stack) -> None:
    assert len(stack.calls) >= 12
    by_id: dict[str, Tenant] = {}
    with stack.platform.sessions() as db:
        for call in stack.calls:
            row = db.get(VoiceSession, call.session_id)
            assert row is not None
            by_id[call.session_id] = next(t for t in stack.tenants if t.org_id == row.org_id)
    for call in stack.calls:
        body = await record(stack, by_id[call.session_id], call)
        assert (body["status"], body["end_reason"]) == ("ended", call.ended), call.session_id
        assert [(t["role"], t["text"]) for t in body["turns"]] == seen_turns(call.caller)
        assert [t["seq"] for t in body["turns"]] == sorted({t["seq"] for t in body["turns"]})

    # each call's start and end reached the customer's endpoint once, from either API
    def delivered() -> list[tuple[str, str]]:
        return [
            (b["data"]["session"]["id"], b["type"])
            for _, b in stack.receiver.bodies
            if b["data"]["session"]["id"] in by_id
        ]

    await until(lambda: len(delivered()) >= 2 * len(stack.calls), what="the webhooks")
    await asyncio.sleep(2)  # a second delivery of any event would arrive by now
    ids = [i for i, _ in stack.receiver.bodies]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    got = sorted(delivered())
    want = sorted(
        (c.session_id, t)
        for c in stack.calls
        for t in ("session.started", "session.failed" if is_failure(c.ended) else "session.ended")
    )
    assert got == want
