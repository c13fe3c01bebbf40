"""Admission control: past its in-flight limit, session creation (and dashboard sign-in)
is refused at once.

Requests are held in flight deterministically: the test takes the same per-organisation
lock the API takes to count-then-insert a session (a process lock with SQLite, a row
lock on the organisation in PostgreSQL), so admitted requests wait inside the API until
the test lets them go. Sign-ins are held in their password check, which the test gates
(the API runs in the test's process).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import func, select, update
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.accounts import sign_in as sign_in_module
from vocable.api.admission import Admission
from vocable.db.models import ApiKey, VoiceSession
from vocable.platform import Platform
from vocable.sessions import service as session_service

ENDPOINT = "/api/agents/agent-session/"
LIMIT = 2


@pytest.fixture(scope="module")
def gated_api(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    db_url = database_url_for(request, backend, "a_" + secrets.token_hex(6))
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        db_url,
        api_max_inflight_sessions=LIMIT,
        api_max_inflight_logins=LIMIT,
        api_admission_wait_ms=200,
        max_concurrent_sessions_per_org=1000,
        key_rate_limit_per_minute=1000,
    )
    with running_api(make_platform(settings)) as server:
        yield server


@contextmanager
def organisation_held(platform: Platform, org_id: str) -> Iterator[None]:
    """Session creation for ``org_id`` blocks inside the API until the block ends."""
    if platform.engine.dialect.name == "sqlite":
        # the process lock create_session writes under with SQLite (the API runs here)
        with session_service._sqlite_writes:
            yield
        return
    with platform.engine.connect() as conn:
        # the keys' rows: a session spends its key's rate in an UPDATE of that row
        conn.execute(update(ApiKey).where(ApiKey.org_id == org_id).values(name="held"))
        try:
            yield
        finally:
            conn.rollback()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting until {what}")
        time.sleep(0.01)


def session_rows(platform: Platform, org_id: str) -> int:
    with platform.sessions() as db:
        return int(db.scalar(select(func.count()).where(VoiceSession.org_id == org_id)) or 0)


def create(api: ApiServer, tenant: Tenant, timeout: float = 60) -> httpx.Response:
    return httpx.post(
        api.url + ENDPOINT,
        json={"agent": tenant.agent_id},
        headers={"x-api-key": tenant.api_key},
        timeout=timeout,
    )


def test_a_request_past_the_in_flight_limit_gets_503_at_once_and_leaves_no_row(
    gated_api: ApiServer,
) -> None:
    tenant = make_tenant(gated_api.platform)
    admission: Admission = gated_api.app.state.admission
    with ThreadPoolExecutor(LIMIT) as pool:
        with organisation_held(gated_api.platform, tenant.org_id):
            held = [pool.submit(create, gated_api, tenant) for _ in range(LIMIT)]
            wait_until(lambda: admission.sessions.in_flight == LIMIT, "both requests are inside")
            # without admission control this request would queue behind the held ones
            # for as long as they are held: the client's deadline turns that into a failure
            refused = create(gated_api, tenant, timeout=10)
            rows_while_held = session_rows(gated_api.platform, tenant.org_id)
            # the rest of the API still answers while session creation is full
            assert httpx.get(gated_api.url + "/healthz", timeout=10).status_code == 200
        answered = [f.result() for f in held]

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "1"
    body = refused.json()
    assert body["success"] is False and body["code"] == "overloaded"
    assert "data" not in body
    assert rows_while_held == 0

    assert [r.status_code for r in answered] == [200] * LIMIT
    assert admission.sessions.in_flight == 0
    again = create(gated_api, tenant)
    assert again.status_code == 200, again.text
    # every 200 has its row and the refused request has none
    assert session_rows(gated_api.platform, tenant.org_id) == LIMIT + 1


def test_another_organisation_is_refused_too_while_the_process_is_full(
    gated_api: ApiServer,
) -> None:
    busy = make_tenant(gated_api.platform)
    other = make_tenant(gated_api.platform)
    admission: Admission = gated_api.app.state.admission
    with ThreadPoolExecutor(LIMIT) as pool:
        with organisation_held(gated_api.platform, busy.org_id):
            held = [pool.submit(create, gated_api, busy) for _ in range(LIMIT)]
            wait_until(lambda: admission.sessions.in_flight == LIMIT, "both requests are inside")
            # the limit protects the process, so it is not per organisation
            refused = create(gated_api, other, timeout=10)
        assert [f.result().status_code for f in held] == [200] * LIMIT
    assert refused.status_code == 503 and refused.json()["code"] == "overloaded"
    assert session_rows(gated_api.platform, other.org_id) == 0
    assert create(gated_api, other).status_code == 200


def test_refused_and_failed_requests_give_their_slot_back(gated_api: ApiServer) -> None:
    tenant = make_tenant(gated_api.platform)
    admission: Admission = gated_api.app.state.admission
    with httpx.Client(base_url=gated_api.url, timeout=30) as http:
        for _ in range(LIMIT + 1):  # more failures than slots: none may keep one
            unknown = http.post(
                ENDPOINT, json={"agent": "agt_missing"}, headers={"x-api-key": tenant.api_key}
            )
            assert unknown.status_code == 404
            bad_key = http.post(ENDPOINT, json={"agent": tenant.agent_id})
            assert bad_key.status_code == 401
        assert admission.sessions.in_flight == 0
        assert create(gated_api, tenant).status_code == 200


class HeldPasswordChecks:
    """The sign-in route's password check, held until :meth:`release` (or a minute)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = 0
        self._count = threading.Lock()
        self._go = threading.Event()
        real = sign_in_module.verify_password

        def held(password_hash: str | None, password: str) -> bool:
            with self._count:
                self.entered += 1
            self._go.wait(60)
            return real(password_hash, password)

        monkeypatch.setattr(sign_in_module, "verify_password", held)

    def release(self) -> None:
        self._go.set()


def sign_in(api: ApiServer, email: str, password: str, timeout: float = 60) -> httpx.Response:
    return httpx.post(
        api.url + "/api/auth/login", json={"email": email, "password": password}, timeout=timeout
    )


def test_a_sign_in_past_the_in_flight_limit_gets_503_at_once(
    gated_api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(gated_api.platform)
    admission: Admission = gated_api.app.state.admission
    checks = HeldPasswordChecks(monkeypatch)
    passwords = [tenant.password, "not-the-password"]  # LIMIT sign-ins, one of them wrong
    with ThreadPoolExecutor(LIMIT) as pool:
        try:
            held = [pool.submit(sign_in, gated_api, tenant.email, p) for p in passwords]
            wait_until(lambda: checks.entered == LIMIT, "both sign-ins check their password")
            in_flight = admission.logins.in_flight
            # without the gate this one would wait behind the held ones: the client's
            # deadline turns that into a failure
            refused = sign_in(gated_api, tenant.email, tenant.password, timeout=10)
            entered_while_held = checks.entered
            # the other gate is separate: session creation still works
            assert create(gated_api, tenant).status_code == 200
        finally:
            checks.release()
        answered = [f.result() for f in held]

    assert in_flight == LIMIT
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "1"
    body = refused.json()
    assert body["success"] is False and body["code"] == "overloaded"
    assert "set-cookie" not in refused.headers
    assert entered_while_held == LIMIT  # refused before any password work

    assert [r.status_code for r in answered] == [200, 401]
    assert answered[1].json()["code"] == "invalid_credentials"
    assert admission.logins.in_flight == 0  # a refused or failed sign-in keeps no slot
    again = sign_in(gated_api, tenant.email, tenant.password)
    assert again.status_code == 200, again.text
    assert again.json()["user"]["email"] == tenant.email
