"""Per-key rate limit and per-organisation concurrency limit: 429 with Retry-After."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import database_url_for, make_tenant
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.accounts import service as accounts

ENDPOINT = "/api/agents/agent-session/"


@pytest.fixture(scope="module")
def limited_api(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    db_url = database_url_for(request, backend, "l_" + secrets.token_hex(6))
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        db_url,
        key_rate_limit_per_minute=3,
        max_concurrent_sessions_per_org=5,
        # 20 parallel requests must all reach the limit checks: admission control (the
        # process's in-flight cap, test_admission.py) is not what these tests are about
        api_max_inflight_sessions=100,
    )
    with running_api(make_platform(settings)) as server:
        yield server


def test_key_rate_limit_answers_429_with_retry_after(limited_api: ApiServer) -> None:
    t = make_tenant(limited_api.platform)
    with httpx.Client(base_url=limited_api.url) as http:
        codes = [
            http.post(ENDPOINT, json={"agent": t.agent_id}, headers={"x-api-key": t.api_key})
            for _ in range(4)
        ]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    limited = codes[-1]
    assert limited.json()["success"] is False
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_organisation_concurrency_limit_spans_keys(limited_api: ApiServer) -> None:
    t = make_tenant(limited_api.platform)
    with limited_api.platform.sessions() as db:
        second = accounts.create_api_key(db, org_id=t.org_id, name="second", created_by=None)
    statuses = []
    with httpx.Client(base_url=limited_api.url) as http:
        for key in [t.api_key] * 3 + [second.secret] * 3:
            r = http.post(ENDPOINT, json={"agent": t.agent_id}, headers={"x-api-key": key})
            statuses.append(r.status_code)
        assert statuses == [200] * 5 + [429]
        assert r.json()["code"] == "concurrency_limited"
        assert r.headers["Retry-After"]
        # another organisation is not affected
        other = make_tenant(limited_api.platform)
        ok = http.post(
            ENDPOINT, json={"agent": other.agent_id}, headers={"x-api-key": other.api_key}
        )
        assert ok.status_code == 200


def test_ended_sessions_free_their_concurrency_slot(limited_api: ApiServer) -> None:
    t = make_tenant(limited_api.platform)
    worker = {"Authorization": f"Bearer {limited_api.platform.secrets.worker_token}"}
    with limited_api.platform.sessions() as db:
        keys = [t.api_key] + [
            accounts.create_api_key(db, org_id=t.org_id, name=f"k{i}", created_by=None).secret
            for i in range(2)
        ]
    with httpx.Client(base_url=limited_api.url) as http:
        ids = []
        for i in range(5):
            r = http.post(ENDPOINT, json={"agent": t.agent_id}, headers={"x-api-key": keys[i // 2]})
            ids.append(r.json()["data"]["session_id"])
        blocked = http.post(ENDPOINT, json={"agent": t.agent_id}, headers={"x-api-key": keys[2]})
        assert blocked.status_code == 429
        http.post(
            f"/internal/sessions/{ids[0]}/events",
            json={"type": "ended", "reason": "caller_left"},
            headers=worker,
        )
        again = http.post(ENDPOINT, json={"agent": t.agent_id}, headers={"x-api-key": keys[2]})
        assert again.status_code == 200


async def test_parallel_requests_cannot_overshoot_the_concurrency_limit(
    limited_api: ApiServer,
) -> None:
    import asyncio

    t = make_tenant(limited_api.platform)
    with limited_api.platform.sessions() as db:
        keys = [t.api_key] + [
            accounts.create_api_key(db, org_id=t.org_id, name=f"p{i}", created_by=None).secret
            for i in range(9)
        ]
    async with httpx.AsyncClient(base_url=limited_api.url, timeout=60) as http:
        responses = await asyncio.gather(
            *[
                http.post(ENDPOINT, json={"agent": t.agent_id}, headers={"x-api-key": k})
                for k in keys * 2
            ]
        )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 5 and codes.count(429) == 15, codes
