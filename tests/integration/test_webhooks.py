"""Signed post-call webhooks, end to end: the worker channel drives sessions, real local
receivers (allow-listed by port) answer, and the API's delivery thread sends."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.support.net import free_ports
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.contracts.sessions import SessionRequest
from vocable.db.models import VoiceSession, WebhookDelivery, WebhookEndpoint, WebhookEvent
from vocable.platform import Platform
from vocable.sessions.service import create_session, record_event
from vocable.settings import Settings
from vocable.webhooks import WebhookVerificationError, service, verify
from vocable.webhooks.delivery import Outcome, WebhookDispatcher
from vocable.webhooks.outbox import enqueue_session_event
from vocable.webhooks.schemas import WebhookEndpointCreate

FAST = {
    "webhook_retry_base_seconds": 0.05,
    "webhook_retry_max_seconds": 0.2,
    "webhook_poll_seconds": 0.05,
    "webhook_timeout_seconds": 3.0,
    "webhook_lease_seconds": 5.0,
    "webhook_max_attempts": 4,
    "max_concurrent_sessions_per_org": 1000,
    "key_rate_limit_per_minute": 1000,
}


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver: answers each path with the statuses planned for it, in order
    (the last one repeats; 200 when unplanned), and records every request."""

    port: int
    plans: dict[str, list[int]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = receiver.at(self.path)
                receiver.hits.append(Hit(self.path, headers, body))
                plan = receiver.plans.get(self.path, [200])
                self.send_response(plan[min(len(seen), len(plan) - 1)])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def path(self, statuses: list[int] | None = None) -> str:
        """A fresh path (one per test), answering ``statuses`` in turn."""
        path = "/hook-" + secrets.token_hex(4)
        self.plans[path] = statuses or [200]
        return path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Hit]:
        return [h for h in list(self.hits) if h.path == path]


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.03)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def ports() -> list[int]:
    return free_ports(2)  # the receiver, and a port that is never allow-listed


@pytest.fixture(scope="module")
def receiver(ports: list[int]) -> Iterator[Receiver]:
    server = Receiver(ports[0]).start()
    yield server
    server.stop()


def hook_settings(
    request: pytest.FixtureRequest, backend: str, data_dir: Any, port: int
) -> Settings:
    db_url = database_url_for(request, backend, "t_" + secrets.token_hex(6))
    # loopback is private: only the receiver's port is allowed
    return make_settings(data_dir, db_url, outbound_allow_hosts=[f"127.0.0.1:{port}"], **FAST)


@pytest.fixture(scope="module")
def hooks_api(
    request: pytest.FixtureRequest,
    backend: str,
    ports: list[int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiServer]:
    settings = hook_settings(request, backend, tmp_path_factory.mktemp("data"), ports[0])
    with running_api(make_platform(settings)) as server:
        yield server


@pytest.fixture
def client(hooks_api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hooks_api.url, timeout=30) as c:
        yield c


@pytest.fixture
def owner(hooks_api: ApiServer) -> Tenant:
    return make_tenant(hooks_api.platform, system_prompt="PROMPT-MARKER: be brief")


def sign_in(client: httpx.Client, tenant: Tenant) -> dict[str, str]:
    client.cookies.clear()
    resp = client.post("/api/auth/login", json={"email": tenant.email, "password": tenant.password})
    assert resp.status_code == 200, resp.text
    return {"x-csrf-token": resp.json()["csrf_token"]}


def add_endpoint(client: httpx.Client, tenant: Tenant, url: str, **fields: Any) -> dict[str, Any]:
    csrf = sign_in(client, tenant)
    resp = client.post("/api/webhooks", json={"url": url, **fields}, headers=csrf)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def run_call(
    client: httpx.Client,
    platform: Platform,
    tenant: Tenant,
    *,
    reason: str = "caller_left",
    turns: tuple[tuple[str, str], ...] = (),
) -> str:
    """A whole call as the worker reports it: started, turns, ended."""
    resp = client.post(
        "/api/agents/agent-session/",
        json={
            "agent": tenant.agent_id,
            "metadata": {"order": 42},
            "origin_url": "https://shop.example.com/orders/42",
        },
        headers={"x-api-key": tenant.api_key},
    )
    assert resp.status_code == 200, resp.text
    session_id: str = resp.json()["data"]["session_id"]
    worker = {"Authorization": f"Bearer {platform.secrets.worker_token}"}
    base = f"/internal/sessions/{session_id}"
    assert client.post(base + "/events", json={"type": "started"}, headers=worker).is_success
    for seq, (role, text) in enumerate(turns):
        metrics = {"e2e_latency_ms": 420.5} if role == "agent" else {}
        body = {"seq": seq, "role": role, "text": text, "metrics": metrics}
        assert client.post(base + "/turns", json=body, headers=worker).status_code == 201
    usage = {"llm_prompt_tokens": 120, "duration_seconds": 3.5}
    ended = {"type": "ended", "reason": reason, "usage": usage}
    assert client.post(base + "/events", json=ended, headers=worker).is_success
    return session_id


def deliveries(client: httpx.Client, tenant: Tenant, endpoint_id: str) -> list[dict[str, Any]]:
    resp = client.get(
        f"/api/webhooks/{endpoint_id}/deliveries", headers={"x-api-key": tenant.api_key}
    )
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()
    return rows


def settled(client: httpx.Client, tenant: Tenant, endpoint_id: str, count: int) -> Any:
    def check() -> list[dict[str, Any]] | None:
        rows = deliveries(client, tenant, endpoint_id)
        done = [r for r in rows if r["status"] in ("delivered", "failed")]
        return rows if len(rows) == count and len(done) == count else None

    return wait_for(check)


# --- endpoints ------------------------------------------------------------------------


def test_secret_is_shown_once_and_never_in_list_or_get(
    client: httpx.Client, hooks_api: ApiServer, owner: Tenant, receiver: Receiver
) -> None:
    created = add_endpoint(client, owner, receiver.url(receiver.path()), description="CRM")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["events"] == ["session.started", "session.ended", "session.failed"]
    listed = client.get("/api/webhooks")
    one = client.get(f"/api/webhooks/{created['id']}")
    for resp in (listed, one):
        assert resp.status_code == 200
        assert secret not in resp.text and 'secret"' not in resp.text
        assert secret.removeprefix("whsec_") not in resp.text
    assert [e["id"] for e in listed.json()] == [created["id"]]
    assert one.json()["description"] == "CRM"
    with hooks_api.platform.sessions() as db:
        row = db.get(WebhookEndpoint, created["id"])
        assert row is not None and secret not in row.secret_encrypted
        assert owner.api_key not in row.secret_encrypted


def test_api_keys_read_endpoints_but_only_users_change_them(
    client: httpx.Client, owner: Tenant, receiver: Receiver
) -> None:
    created = add_endpoint(client, owner, receiver.url(receiver.path()))
    client.cookies.clear()
    key = {"x-api-key": owner.api_key}
    base = f"/api/webhooks/{created['id']}"
    assert client.get("/api/webhooks", headers=key).status_code == 200
    assert client.get(base, headers=key).status_code == 200
    url = receiver.url(receiver.path())
    assert client.post("/api/webhooks", json={"url": url}, headers=key).status_code == 401
    assert client.patch(base, json={"active": False}, headers=key).status_code == 401
    assert client.post(base + "/rotate-secret", headers=key).status_code == 401
    assert client.delete(base, headers=key).status_code == 401


def test_url_to_a_private_address_is_422_naming_url(
    client: httpx.Client, owner: Tenant, ports: list[int]
) -> None:
    csrf = sign_in(client, owner)
    for url in (f"http://127.0.0.1:{ports[1]}/hook", "http://10.0.0.5/hook", "ftp://x.example/"):
        resp = client.post("/api/webhooks", json={"url": url}, headers=csrf)
        assert resp.status_code == 422, url
        body = resp.json()
        assert body["errors"][0]["field"] == "url"
        assert "10.0.0.5" not in resp.text
    private = client.post("/api/webhooks", json={"url": "http://10.0.0.5/x"}, headers=csrf)
    assert private.json()["code"] == "private_address"
    empty = client.post(
        "/api/webhooks", json={"url": "https://example.com/x", "events": []}, headers=csrf
    )
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "events"


def test_another_organisation_sees_nothing(
    client: httpx.Client, hooks_api: ApiServer, owner: Tenant, receiver: Receiver
) -> None:
    created = add_endpoint(client, owner, receiver.url(receiver.path()))
    stranger = make_tenant(hooks_api.platform)
    csrf = sign_in(client, stranger)
    base = f"/api/webhooks/{created['id']}"
    assert client.get("/api/webhooks").json() == []
    assert client.get(base).status_code == 404
    assert client.patch(base, json={"active": False}, headers=csrf).status_code == 404
    assert client.post(base + "/rotate-secret", headers=csrf).status_code == 404
    assert client.get(base + "/deliveries").status_code == 404
    assert client.delete(base, headers=csrf).status_code == 404
    # the stranger's calls reach only the stranger's endpoints
    path = receiver.path()
    run_call(client, hooks_api.platform, stranger)
    time.sleep(0.3)
    assert receiver.at(path) == []


def test_update_and_delete(client: httpx.Client, owner: Tenant, receiver: Receiver) -> None:
    created = add_endpoint(client, owner, receiver.url(receiver.path()))
    csrf = sign_in(client, owner)
    base = f"/api/webhooks/{created['id']}"
    changed = client.patch(
        base, json={"events": ["session.failed"], "description": "alerts"}, headers=csrf
    )
    assert changed.status_code == 200
    assert changed.json()["events"] == ["session.failed"]
    assert changed.json()["url"] == created["url"] and changed.json()["active"] is True
    refused = client.patch(base, json={"url": "http://10.0.0.5/"}, headers=csrf)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
    assert client.delete(base, headers=csrf).status_code == 204
    assert client.get(base).status_code == 404


# --- events and delivery --------------------------------------------------------------


def test_started_and_ended_arrive_signed_with_the_transcript(
    client: httpx.Client,
    hooks_api: ApiServer,
    owner: Tenant,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    path = receiver.path() + "?token=URL-TOKEN-MARKER"
    endpoint = add_endpoint(client, owner, receiver.url(path))
    turns = (("user", "What are your opening hours?"), ("agent", "Nine to five."))
    session_id = run_call(client, hooks_api.platform, owner, turns=turns)

    hits = wait_for(lambda: len(receiver.at(path)) >= 2 and receiver.at(path))
    by_type = {h.json()["type"]: h for h in hits}
    assert set(by_type) == {"session.started", "session.ended"}
    for hit in hits:
        verify(endpoint["secret"], hit.headers, hit.body)
        event = hit.json()
        assert hit.headers["webhook-id"] == event["id"] and event["id"].startswith("evt_")
        assert hit.headers["content-type"] == "application/json"
        assert event["data"]["session"]["id"] == session_id
        assert "PROMPT-MARKER" not in hit.body.decode()
        assert owner.api_key not in hit.body.decode() and owner.api_key not in str(hit.headers)
        with pytest.raises(WebhookVerificationError):
            verify(endpoint["secret"], hit.headers, hit.body.replace(b"session.", b"session!"))
    assert "turns" not in by_type["session.started"].json()["data"]["session"]
    ended = by_type["session.ended"].json()["data"]["session"]
    assert [(t["role"], t["text"]) for t in ended["turns"]] == list(turns)
    assert ended["turns"][1]["metrics"] == {"e2e_latency_ms": 420.5}
    assert ended["end_reason"] == "caller_left" and ended["status"] == "ended"
    assert ended["usage"] == {"llm_prompt_tokens": 120, "duration_seconds": 3.5}
    assert ended["metadata"] == {"order": 42}
    assert ended["origin_url"] == "https://shop.example.com/orders/42"
    assert ended["duration_seconds"] is not None and ended["duration_seconds"] >= 0
    assert ended["agent_id"] == owner.agent_id

    log = settled(client, owner, endpoint["id"], 2)
    assert {(d["event_type"], d["status"], d["attempts"]) for d in log} == {
        ("session.started", "delivered", 1),
        ("session.ended", "delivered", 1),
    }
    assert all(d["last_status_code"] == 200 and d["delivered_at"] for d in log)
    delivery_logs = [r for r in caplog.records if r.threadName == "webhook-delivery"]
    assert any("delivered" in r.getMessage() for r in delivery_logs)
    assert endpoint["secret"] not in caplog.text and "URL-TOKEN-MARKER" not in caplog.text


def test_a_failed_call_is_session_failed_and_filters_apply(
    client: httpx.Client, hooks_api: ApiServer, owner: Tenant, receiver: Receiver
) -> None:
    path = receiver.path()
    endpoint = add_endpoint(client, owner, receiver.url(path), events=["session.failed"])
    run_call(client, hooks_api.platform, owner, reason="ok_this_is_fine")
    run_call(client, hooks_api.platform, owner, reason="session_closed:error")
    hit = wait_for(lambda: receiver.at(path))[0]
    time.sleep(0.3)
    assert len(receiver.at(path)) == 1
    verify(endpoint["secret"], hit.headers, hit.body)
    assert hit.json()["type"] == "session.failed"
    assert hit.json()["data"]["session"]["end_reason"] == "session_closed:error"


def test_receiver_failing_twice_gets_the_same_webhook_id_three_times(
    client: httpx.Client, hooks_api: ApiServer, owner: Tenant, receiver: Receiver
) -> None:
    path = receiver.path([503, 500, 200])
    endpoint = add_endpoint(client, owner, receiver.url(path), events=["session.ended"])
    run_call(client, hooks_api.platform, owner)
    hits = wait_for(lambda: len(receiver.at(path)) >= 3 and receiver.at(path))
    assert len({h.headers["webhook-id"] for h in hits}) == 1
    assert len({h.body for h in hits}) == 1  # byte-for-byte the same body
    for hit in hits:
        verify(endpoint["secret"], hit.headers, hit.body)
    [log] = settled(client, owner, endpoint["id"], 1)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 3, 200)
    assert log["last_error"] is None and log["event_id"] == hits[0].headers["webhook-id"]


def test_a_4xx_fails_at_once_and_can_be_redelivered(
    client: httpx.Client, hooks_api: ApiServer, owner: Tenant, receiver: Receiver
) -> None:
    path = receiver.path([400, 200])
    endpoint = add_endpoint(client, owner, receiver.url(path), events=["session.ended"])
    run_call(client, hooks_api.platform, owner)
    [log] = settled(client, owner, endpoint["id"], 1)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("failed", 1, 400)
    assert "400" in log["last_error"] and path not in log["last_error"]
    time.sleep(0.3)
    assert len(receiver.at(path)) == 1  # no retries

    again = client.post(
        f"/api/webhooks/{endpoint['id']}/deliveries/{log['id']}/redeliver",
        headers={"x-api-key": owner.api_key},
    )
    assert again.status_code == 202, again.text
    [log] = settled(client, owner, endpoint["id"], 1)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 1, 200)
    first, second = receiver.at(path)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    stranger = make_tenant(hooks_api.platform)
    foreign = client.post(
        f"/api/webhooks/{endpoint['id']}/deliveries/{log['id']}/redeliver",
        headers={"x-api-key": stranger.api_key},
    )
    assert foreign.status_code == 404


def test_a_receiver_that_never_recovers_ends_failed_after_max_attempts(
    client: httpx.Client, hooks_api: ApiServer, owner: Tenant, receiver: Receiver
) -> None:
    path = receiver.path([503])
    endpoint = add_endpoint(client, owner, receiver.url(path), events=["session.ended"])
    run_call(client, hooks_api.platform, owner)
    [log] = settled(client, owner, endpoint["id"], 1)
    attempts = FAST["webhook_max_attempts"]
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("failed", attempts, 503)
    assert len(receiver.at(path)) == attempts


def test_after_rotation_both_secrets_verify_during_the_overlap(
    client: httpx.Client, hooks_api: ApiServer, owner: Tenant, receiver: Receiver
) -> None:
    path = receiver.path()
    endpoint = add_endpoint(client, owner, receiver.url(path), events=["session.ended"])
    csrf = sign_in(client, owner)
    rotated = client.post(f"/api/webhooks/{endpoint['id']}/rotate-secret", headers=csrf)
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != endpoint["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert new not in client.get(f"/api/webhooks/{endpoint['id']}").text
    run_call(client, hooks_api.platform, owner)
    hit = wait_for(lambda: receiver.at(path))[0]
    verify(new, hit.headers, hit.body)
    verify(endpoint["secret"], hit.headers, hit.body)


# --- nothing is lost when a process stops ---------------------------------------------


@pytest.fixture(scope="module")
def quiet_settings(
    request: pytest.FixtureRequest,
    backend: str,
    ports: list[int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """An API whose processes do not deliver, so a test decides who does."""
    settings = hook_settings(request, backend, tmp_path_factory.mktemp("data"), ports[0])
    return settings.model_copy(update={"webhook_dispatch": False})


def test_a_pending_delivery_is_sent_after_the_api_restarts(
    quiet_settings: Settings, receiver: Receiver
) -> None:
    path = receiver.path()
    platform = make_platform(quiet_settings)
    owner = make_tenant(platform)
    with running_api(platform) as first, httpx.Client(base_url=first.url, timeout=30) as c:
        endpoint = add_endpoint(c, owner, receiver.url(path), events=["session.ended"])
        run_call(c, platform, owner)
    time.sleep(0.2)
    assert receiver.at(path) == []
    with platform.sessions() as db:
        statuses = db.scalars(
            select(WebhookDelivery.status).where(WebhookDelivery.endpoint_id == endpoint["id"])
        ).all()
    assert statuses == ["pending"]

    restarted = quiet_settings.model_copy(
        update={"webhook_dispatch": True, "api_port": free_ports(1)[0]}
    )
    with running_api(make_platform(restarted)) as second:
        hit = wait_for(lambda: receiver.at(path))[0]
        verify(endpoint["secret"], hit.headers, hit.body)
        with httpx.Client(base_url=second.url, timeout=30) as c:
            [log] = settled(c, owner, endpoint["id"], 1)
    assert (log["status"], log["attempts"]) == ("delivered", 1)


def quiet_call(platform: Platform, url: str) -> tuple[str, VoiceSession]:
    """An endpoint and an ended call, written through the services (no HTTP, no delivery)."""
    tenant = make_tenant(platform)
    with platform.sessions() as db:
        created = service.create_endpoint(
            db,
            platform.box,
            org_id=tenant.org_id,
            data=WebhookEndpointCreate(url=url, events=["session.ended"]),
            created_by=None,
            max_endpoints=10,
        )
        created_session = create_session(
            db, platform, org_id=tenant.org_id, key=None, req=SessionRequest(agent=tenant.agent_id)
        )
        row = db.get_one(VoiceSession, created_session.session_id)
        record_event(db, row, kind="started", reason=None, usage=None)
        record_event(db, row, kind="ended", reason="caller_left", usage=None)
    return created.secret, row


def test_one_event_per_change_even_when_reported_again(
    quiet_settings: Settings, receiver: Receiver
) -> None:
    platform = make_platform(quiet_settings)
    _, row = quiet_call(platform, receiver.url(receiver.path()))
    with platform.sessions() as db:
        # a racing second report of the same change: the unique (session, phase) holds
        assert enqueue_session_event(db, row) is None
        db.commit()
        events = db.scalars(select(WebhookEvent.type).where(WebhookEvent.session_id == row.id))
        assert sorted(events) == ["session.ended"]  # nobody subscribed to started


def test_a_delivery_claimed_by_a_stopped_process_is_sent_again(
    quiet_settings: Settings, receiver: Receiver
) -> None:
    path = receiver.path()
    platform = make_platform(quiet_settings)
    secret, _ = quiet_call(platform, receiver.url(path))

    def dispatcher() -> WebhookDispatcher:
        return WebhookDispatcher(
            sessions=platform.sessions, box=platform.box, settings=platform.settings
        )

    crashed = dispatcher()
    [job] = [j for j in crashed.claim(limit=50) if j.url.endswith(path)]
    # the claiming process dies before it sends; its lease has not run out yet
    assert [j for j in dispatcher().claim(limit=50) if j.url.endswith(path)] == []
    with platform.sessions() as db:
        db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == job.delivery_id)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.commit()
    assert dispatcher().run_once() >= 1
    [hit] = receiver.at(path)
    assert hit.headers["webhook-id"] == job.event_id
    verify(secret, hit.headers, hit.body)
    # the first claim is no longer ours: its late report changes nothing
    crashed.finish(job, Outcome(error="late report from a stopped process"))
    with platform.sessions() as db:
        row = db.get(WebhookDelivery, job.delivery_id)
        assert row is not None and (row.status, row.attempts) == ("delivered", 2)
