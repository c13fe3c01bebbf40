"""Dashboard sign-in, API key management, agents and call records, isolated per organisation."""

from __future__ import annotations

import httpx
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.servers import ApiServer


def sign_in(http: httpx.Client, tenant: Tenant) -> dict[str, str]:
    resp = http.post("/api/auth/login", json={"email": tenant.email, "password": tenant.password})
    assert resp.status_code == 200, resp.text
    return {"x-csrf-token": resp.json()["csrf_token"]}


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    http: httpx.Client, tenant: Tenant
) -> None:
    wrong = http.post("/api/auth/login", json={"email": tenant.email, "password": "nope-nope-nope"})
    unknown = http.post("/api/auth/login", json={"email": "ghost@example.com", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"]
    assert "vocable_session" not in wrong.cookies


def test_signed_in_user_sees_themselves_and_can_sign_out(
    http: httpx.Client, tenant: Tenant
) -> None:
    csrf = sign_in(http, tenant)
    me = http.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["email"] == tenant.email
    assert http.post("/api/auth/logout", headers=csrf).status_code == 204
    http.cookies.clear()
    assert http.get("/api/auth/me").status_code == 401


def test_cookie_writes_need_the_csrf_token(http: httpx.Client, tenant: Tenant) -> None:
    csrf = sign_in(http, tenant)
    assert http.post("/api/keys", json={"name": "x"}).status_code == 403
    assert (
        http.post("/api/keys", json={"name": "x"}, headers={"x-csrf-token": "forged"}).status_code
        == 403
    )
    assert http.post("/api/keys", json={"name": "x"}, headers=csrf).status_code == 201


def test_new_key_is_shown_once_then_only_by_prefix(http: httpx.Client, tenant: Tenant) -> None:
    csrf = sign_in(http, tenant)
    created = http.post("/api/keys", json={"name": "production backend"}, headers=csrf).json()
    assert created["key"].startswith("sk_") and len(created["key"]) >= 3 + 43
    assert created["key"].startswith(created["prefix"])
    listed = http.get("/api/keys")
    assert created["key"] not in listed.text
    mine = [k for k in listed.json() if k["id"] == created["id"]]
    assert mine and mine[0]["name"] == "production backend" and "key" not in mine[0]
    # the new key works at once on the session endpoint
    session = http.post(
        "/api/agents/agent-session/",
        json={"agent": tenant.agent_id},
        headers={"x-api-key": created["key"]},
    )
    assert session.status_code == 200


def test_api_keys_cannot_manage_keys(http: httpx.Client, tenant: Tenant) -> None:
    headers = {"x-api-key": tenant.api_key}
    assert http.get("/api/keys", headers=headers).status_code == 401
    assert http.post("/api/keys", json={"name": "x"}, headers=headers).status_code == 401


def test_agent_crud_with_validation_naming_fields(http: httpx.Client, tenant: Tenant) -> None:
    headers = {"x-api-key": tenant.api_key}
    bad = http.post(
        "/api/agents",
        json={"name": "", "language": "klingon-xx-yy", "llm_engine": "gpt-99"},
        headers=headers,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"name", "language", "llm_engine"}

    created = http.post(
        "/api/agents",
        json={
            "name": "Support",
            "language": "de-de",
            "greeting": "Hallo!",
            "llm_engine": "qwen2.5-0.5b",
        },
        headers=headers,
    )
    assert created.status_code == 201
    agent = created.json()
    assert agent["id"].startswith("agt_") and agent["language"] == "de-DE"

    patched = http.patch(
        f"/api/agents/{agent['id']}", json={"greeting": "Guten Tag"}, headers=headers
    )
    assert patched.json()["greeting"] == "Guten Tag" and patched.json()["language"] == "de-DE"
    assert (
        http.patch(f"/api/agents/{agent['id']}", json={"active": False}, headers=headers).json()[
            "active"
        ]
        is False
    )
    assert any(a["id"] == agent["id"] for a in http.get("/api/agents", headers=headers).json())
    assert http.delete(f"/api/agents/{agent['id']}", headers=headers).status_code == 204
    assert http.get(f"/api/agents/{agent['id']}", headers=headers).status_code == 404


def test_agent_language_must_be_one_its_speech_engine_hears(
    http: httpx.Client, tenant: Tenant
) -> None:
    headers = {"x-api-key": tenant.api_key}
    refused = http.post("/api/agents", json={"name": "Irish", "language": "ga"}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "language"
    patched = http.patch(f"/api/agents/{tenant.agent_id}", json={"language": "zu"}, headers=headers)
    assert patched.status_code == 422
    assert http.get(f"/api/agents/{tenant.agent_id}", headers=headers).json()["language"] == "en"
    hosted = http.post(
        "/api/agents",
        json={"name": "Irish", "language": "ga", "stt_engine": "openai-compatible"},
        headers=headers,
    )
    assert hosted.status_code == 201


def test_nothing_crosses_organisations(http: httpx.Client, api: ApiServer) -> None:
    a, b = make_tenant(api.platform), make_tenant(api.platform)
    session = http.post(
        "/api/agents/agent-session/", json={"agent": a.agent_id}, headers={"x-api-key": a.api_key}
    ).json()["data"]
    as_b = {"x-api-key": b.api_key}
    assert http.get(f"/api/agents/{a.agent_id}", headers=as_b).status_code == 404
    assert (
        http.patch(f"/api/agents/{a.agent_id}", json={"name": "x"}, headers=as_b).status_code == 404
    )
    assert http.delete(f"/api/agents/{a.agent_id}", headers=as_b).status_code == 404
    assert http.get(f"/api/agents/{a.agent_id}/sessions", headers=as_b).status_code == 404
    assert http.get(f"/api/sessions/{session['session_id']}", headers=as_b).status_code == 404
    assert all(x["id"] != a.agent_id for x in http.get("/api/agents", headers=as_b).json())
    csrf = sign_in(http, b)
    assert http.delete(f"/api/keys/{a.api_key_id}", headers=csrf).status_code == 404
    assert all(k["id"] != a.api_key_id for k in http.get("/api/keys").json())


def test_worker_channel_refuses_api_keys_and_strangers(http: httpx.Client, tenant: Tenant) -> None:
    sid = http.post(
        "/api/agents/agent-session/",
        json={"agent": tenant.agent_id},
        headers={"x-api-key": tenant.api_key},
    ).json()["data"]["session_id"]
    for headers in (
        {},
        {"x-api-key": tenant.api_key},
        {"Authorization": "Bearer " + tenant.api_key},
    ):
        assert http.get(f"/internal/sessions/{sid}", headers=headers).status_code == 401


def test_call_record_holds_what_the_worker_reported(
    http: httpx.Client, api: ApiServer, tenant: Tenant
) -> None:
    as_key = {"x-api-key": tenant.api_key}
    worker = {"Authorization": f"Bearer {api.platform.secrets.worker_token}"}
    sid = http.post(
        "/api/agents/agent-session/", json={"agent": tenant.agent_id}, headers=as_key
    ).json()["data"]["session_id"]
    assert http.post(
        f"/internal/sessions/{sid}/events", json={"type": "started"}, headers=worker
    ).json() == {"status": "active"}
    turns = [
        {"seq": 0, "role": "agent", "text": "Hello!", "metrics": {}},
        {"seq": 1, "role": "user", "text": "What time do you open?", "metrics": {"stt_s": 0.4}},
        {"seq": 1, "role": "user", "text": "What time do you open?", "metrics": {"stt_s": 0.4}},
        {"seq": 2, "role": "agent", "text": "At nine.", "metrics": {"llm_ttft_s": 0.3}},
    ]
    for turn in turns:
        assert (
            http.post(f"/internal/sessions/{sid}/turns", json=turn, headers=worker).status_code
            == 201
        )
    http.post(
        f"/internal/sessions/{sid}/events",
        json={"type": "ended", "reason": "caller_left", "usage": {"duration_seconds": 12.5}},
        headers=worker,
    )
    record = http.get(f"/api/sessions/{sid}", headers=as_key).json()
    assert record["status"] == "ended" and record["end_reason"] == "caller_left"
    assert record["usage"] == {"duration_seconds": 12.5}
    assert [t["text"] for t in record["turns"]] == ["Hello!", "What time do you open?", "At nine."]
    assert record["turns"][1]["metrics"] == {"stt_s": 0.4}
    listed = http.get(f"/api/agents/{tenant.agent_id}/sessions", headers=as_key).json()
    assert sid in [r["id"] for r in listed]
    # an ended call is never reopened by a late "started"
    http.post(f"/internal/sessions/{sid}/events", json={"type": "started"}, headers=worker)
    assert http.get(f"/api/sessions/{sid}", headers=as_key).json()["status"] == "ended"


@pytest.mark.parametrize("path", ["/healthz", "/", "/docs", "/api/engines"])
def test_public_pages_answer(http: httpx.Client, path: str) -> None:
    assert http.get(path).status_code == 200


def test_signed_in_user_can_start_a_try_it_call_for_their_own_agent(
    http: httpx.Client, tenant: Tenant, api: ApiServer
) -> None:
    csrf = sign_in(http, tenant)
    url = f"/api/agents/{tenant.agent_id}/test-session"
    assert http.post(url, json={}).status_code == 403  # no CSRF header
    resp = http.post(url, json={"greeting": "Testing, one two."}, headers=csrf)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True and body["message"] == "Request successful"
    assert {"token", "livekit_url", "room_name", "session_id"} <= body["data"].keys()
    assert "Testing, one two." not in resp.text  # overrides are not echoed to the browser
    # it is a real call record of the organisation, made without an API key
    record = http.get(f"/api/sessions/{body['data']['session_id']}").json()
    assert record["agent_id"] == tenant.agent_id and record["status"] == "created"
    # unknown fields and bad values are named
    bad = http.post(url, json={"language": "xx-notalang-zz", "agent": "other"}, headers=csrf)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"language", "agent"}


def test_try_it_calls_need_a_dashboard_user_of_the_agents_organisation(
    http: httpx.Client, tenant: Tenant, api: ApiServer
) -> None:
    url = f"/api/agents/{tenant.agent_id}/test-session"
    assert http.post(url, json={}, headers={"x-api-key": tenant.api_key}).status_code == 401
    other = make_tenant(api.platform)
    csrf = sign_in(http, other)
    assert http.post(url, json={}, headers=csrf).status_code == 404


def test_call_history_lists_the_organisations_calls_newest_first(
    http: httpx.Client, tenant: Tenant, api: ApiServer
) -> None:
    headers = {"x-api-key": tenant.api_key}
    ids = [
        http.post(
            "/api/agents/agent-session/", json={"agent": tenant.agent_id}, headers=headers
        ).json()["data"]["session_id"]
        for _ in range(3)
    ]
    listed = http.get("/api/sessions", headers=headers, params={"limit": 2})
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == ids[::-1][:2]
    only_agent = http.get("/api/sessions", headers=headers, params={"agent": tenant.agent_id})
    assert {r["id"] for r in only_agent.json()} >= set(ids)
    # another organisation sees none of them
    other = make_tenant(api.platform)
    theirs = http.get("/api/sessions", headers={"x-api-key": other.api_key}).json()
    assert not {r["id"] for r in theirs} & set(ids)
