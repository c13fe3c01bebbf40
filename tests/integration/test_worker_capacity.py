"""Workers report their capacity and load; when no known worker has a place for another
call, the session endpoint answers 503 no_agent_available with Retry-After, and creates
nothing. Real API process, real HTTP, both databases."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import database_url_for, make_tenant
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

ENDPOINT = "/api/agents/agent-session/"


@pytest.fixture
def capacity_api(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    db_url = database_url_for(request, backend, "w_" + secrets.token_hex(6))
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        db_url,
        max_concurrent_sessions_per_org=1000,
        key_rate_limit_per_minute=1000,
        worker_report_timeout_seconds=2,
    )
    with running_api(make_platform(settings)) as server:
        yield server


def worker(api: ApiServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.platform.secrets.worker_token}"}


def report(
    http: httpx.Client, api: ApiServer, worker_id: str, capacity: int, active: int = 0
) -> None:
    resp = http.post(
        f"/internal/workers/{worker_id}",
        json={"capacity": capacity, "active": active},
        headers=worker(api),
    )
    assert resp.status_code == 204, resp.text


def sessions_of(http: httpx.Client, key: str) -> int:
    return len(http.get("/api/sessions", headers={"x-api-key": key}).json())


def test_sessions_beyond_the_workers_places_get_503_and_nothing_is_created(
    capacity_api: ApiServer,
) -> None:
    one, two = make_tenant(capacity_api.platform), make_tenant(capacity_api.platform)
    with httpx.Client(base_url=capacity_api.url) as http:
        report(http, capacity_api, "wrk_a", capacity=2)
        report(http, capacity_api, "wrk_b", capacity=1)

        def start(t: object) -> httpx.Response:
            return http.post(
                ENDPOINT,
                json={"agent": t.agent_id},
                headers={"x-api-key": t.api_key},  # type: ignore[attr-defined]
            )

        # three places across two workers, shared by every organisation
        assert [start(one).status_code, start(one).status_code, start(two).status_code] == [
            200, 200, 200,
        ]  # fmt: skip
        before = sessions_of(http, two.api_key)
        full = start(two)
        assert full.status_code == 503, full.text
        assert full.json()["code"] == "no_agent_available"
        assert full.headers["Retry-After"] == "10"
        assert sessions_of(http, two.api_key) == before
        # a call that ends frees its place
        first = http.get("/api/sessions", headers={"x-api-key": one.api_key}).json()[0]
        ended = http.post(
            f"/internal/sessions/{first['id']}/events",
            json={"type": "ended", "reason": "caller_left"},
            headers=worker(capacity_api),
        )
        assert ended.status_code == 200, ended.text
        assert start(two).status_code == 200
        assert start(two).status_code == 503


def test_a_silent_worker_has_no_places_and_a_stopped_one_is_forgotten(
    capacity_api: ApiServer,
) -> None:
    tenant = make_tenant(capacity_api.platform)
    body = {"agent": tenant.agent_id}
    key = {"x-api-key": tenant.api_key}
    with httpx.Client(base_url=capacity_api.url) as http:
        report(http, capacity_api, "wrk_quiet", capacity=8)
        assert http.post(ENDPOINT, json=body, headers=key).status_code == 200
        time.sleep(2.5)  # past the report timeout (2 s here): it may have died
        silent = http.post(ENDPOINT, json=body, headers=key)
        assert silent.status_code == 503 and silent.json()["code"] == "no_agent_available"
        report(http, capacity_api, "wrk_quiet", capacity=8)  # it was only slow
        assert http.post(ENDPOINT, json=body, headers=key).status_code == 200
        # a worker that stops says so; with no worker known, nothing is refused (a
        # deployment whose worker is still loading its models)
        gone = http.delete("/internal/workers/wrk_quiet", headers=worker(capacity_api))
        assert gone.status_code == 204
        assert http.post(ENDPOINT, json=body, headers=key).status_code == 200


def test_only_the_worker_credential_reports_and_bad_reports_are_refused(
    capacity_api: ApiServer,
) -> None:
    tenant = make_tenant(capacity_api.platform)
    with httpx.Client(base_url=capacity_api.url) as http:
        as_key = http.post(
            "/internal/workers/wrk_x",
            json={"capacity": 0, "active": 0},
            headers={"Authorization": f"Bearer {tenant.api_key}"},
        )
        assert as_key.status_code == 401
        for path, body in (
            ("/internal/workers/wrk_x", {"capacity": -1, "active": 0}),
            ("/internal/workers/wrk_x", {"capacity": 1}),
            ("/internal/workers/wrk%20x", {"capacity": 1, "active": 0}),
        ):
            resp = http.post(path, json=body, headers=worker(capacity_api))
            assert resp.status_code == 422, (path, resp.text)
        # none of them registered a worker: sessions are not refused
        resp = http.post(
            ENDPOINT, json={"agent": tenant.agent_id}, headers={"x-api-key": tenant.api_key}
        )
        assert resp.status_code == 200
