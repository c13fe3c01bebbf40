"""The audit log covers reference voices, knowledge documents, MCP servers and webhook
endpoints: every change shows up in ``GET /api/audit`` with who made it, over the real
API on both databases, and no header value, URL query or secret is ever in it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.integration.test_dashboard_api import sign_in
from tests.integration.test_voice_api import AudioServer, clip
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

TEXT_DOC = b"The bakery opens at seven and closes at six, every day but Sunday.\n"


@pytest.fixture(scope="module")
def site() -> Iterator[AudioServer]:
    """A loopback server for clips and documents; its port is the one the API may reach."""
    server = AudioServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    site: AudioServer,
) -> Iterator[ApiServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        database_url_for(request, backend, "a_" + secrets.token_hex(6)),
        outbound_allow_hosts=[f"127.0.0.1:{site.port}"],
        max_concurrent_sessions_per_org=1000,
        key_rate_limit_per_minute=1000,
    )
    with running_api(make_platform(settings)) as server:
        yield server


@pytest.fixture
def http(api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=60) as client:
        yield client


def events_since(http: httpx.Client, seen: set[int]) -> list[dict[str, Any]]:
    """Audit events not in ``seen``, oldest first (the signed-in user's organisation)."""
    resp = http.get("/api/audit", params={"limit": 500})
    assert resp.status_code == 200, resp.text
    return [e for e in reversed(resp.json()) if e["id"] not in seen]


def event_ids(http: httpx.Client) -> set[int]:
    return {e["id"] for e in events_since(http, set())}


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str | None]]:
    return [(e["action"], e["actor_kind"], e["actor_id"], e["target_id"]) for e in events]


def test_mcp_server_changes_are_audited_by_whom_and_without_header_values(
    http: httpx.Client, tenant: Tenant, site: AudioServer
) -> None:
    csrf = sign_in(http, tenant)
    user_id = http.get("/api/auth/me").json()["id"]
    before = event_ids(http)
    key = {"x-api-key": tenant.api_key}
    base = f"/api/agents/{tenant.agent_id}/mcp-servers"
    first_value, second_value = "MCPVAL-" + secrets.token_hex(8), "MCPVAL-" + secrets.token_hex(8)
    url = f"http://127.0.0.1:{site.port}/mcp"

    body = {"name": "crm", "url": url, "headers": {"Authorization": "Bearer " + first_value}}
    created = http.post(base, json=body, headers=key)
    assert created.status_code == 201, created.text
    server_id = created.json()["id"]
    changed = {"name": "crm2", "headers": {"Authorization": "Bearer " + second_value}}
    assert http.patch(f"{base}/{server_id}", json=changed, headers=csrf).status_code == 200
    # the same values again change nothing: no event
    assert http.patch(f"{base}/{server_id}", json=changed, headers=csrf).status_code == 200
    assert (
        http.patch(f"{base}/{server_id}", json={"url": "ftp://x"}, headers=csrf).status_code == 422
    )
    assert http.delete(f"{base}/{server_id}", headers=key).status_code == 204

    events = events_since(http, before)
    assert summary(events) == [
        ("mcp_server.created", "api_key", tenant.api_key_id, server_id),
        ("mcp_server.updated", "user", user_id, server_id),
        ("mcp_server.deleted", "api_key", tenant.api_key_id, server_id),
    ]
    assert events[1]["details"] == {"agent_id": tenant.agent_id, "fields": ["headers", "name"]}
    assert all(e["details"]["agent_id"] == tenant.agent_id for e in events)
    assert all(e["ip"] == "127.0.0.1" for e in events)
    text = http.get("/api/audit", params={"limit": 500}).text
    assert first_value not in text and second_value not in text


def test_reference_voice_changes_are_audited_by_whom_and_without_the_url(
    http: httpx.Client, tenant: Tenant, site: AudioServer
) -> None:
    csrf = sign_in(http, tenant)
    user_id = http.get("/api/auth/me").json()["id"]
    before = event_ids(http)
    key = {"x-api-key": tenant.api_key}
    agent_path = f"/api/agents/{tenant.agent_id}"
    data = clip(pitch=170.0 + secrets.randbelow(40))

    uploaded = http.put(agent_path + "/voice", files={"file": ("ada.wav", data)}, headers=key)
    assert uploaded.status_code == 200, uploaded.text
    uploaded_id = uploaded.json()["voice_id"]
    # the same clip again is the same voice: nothing new to record
    again = http.put(agent_path + "/voice", files={"file": ("ada.wav", data)}, headers=key)
    assert again.status_code == 200 and again.json()["voice_id"] == uploaded_id
    url = site.serve(clip(pitch=120.0 + secrets.randbelow(30)))  # with ?sig=SECRET-TOKEN
    linked = http.patch(agent_path, json={"reference_audio_url": url}, headers=csrf)
    assert linked.status_code == 200, linked.text
    fetched_id = linked.json()["voice_id"]
    assert http.delete(f"/api/voices/{uploaded_id}", headers=csrf).status_code == 204
    assert http.delete(f"/api/voices/{fetched_id}", headers=key).status_code == 204

    voices = [e for e in events_since(http, before) if e["action"].startswith("voice.")]
    assert summary(voices) == [
        ("voice.created", "api_key", tenant.api_key_id, uploaded_id),
        ("voice.created", "user", user_id, fetched_id),
        ("voice.deleted", "user", user_id, uploaded_id),
        ("voice.deleted", "api_key", tenant.api_key_id, fetched_id),
    ]
    assert [e["details"] for e in voices[:2]] == [{"source": "upload"}, {"source": "url"}]
    assert [e["ip"] for e in voices] == ["127.0.0.1"] * 4
    text = http.get("/api/audit", params={"limit": 500}).text
    assert "SECRET-TOKEN" not in text and f"127.0.0.1:{site.port}" not in text


def test_a_voice_from_a_session_url_is_audited_for_the_key(
    http: httpx.Client, tenant: Tenant, site: AudioServer
) -> None:
    sign_in(http, tenant)
    before = event_ids(http)
    url = site.serve(clip(pitch=200.0 + secrets.randbelow(30)))
    resp = http.post(
        "/api/agents/agent-session/",
        json={"agent": tenant.agent_id, "reference_audio_url": url},
        headers={"x-api-key": tenant.api_key},
    )
    assert resp.status_code == 200, resp.text
    created = [e for e in events_since(http, before) if e["action"] == "voice.created"]
    assert len(created) == 1
    assert (created[0]["actor_kind"], created[0]["actor_id"]) == ("api_key", tenant.api_key_id)
    assert created[0]["details"] == {"source": "url"}
    assert created[0]["ip"] == "127.0.0.1"


def test_knowledge_document_changes_are_audited_by_whom(
    http: httpx.Client, tenant: Tenant, site: AudioServer
) -> None:
    csrf = sign_in(http, tenant)
    user_id = http.get("/api/auth/me").json()["id"]
    before = event_ids(http)
    key = {"x-api-key": tenant.api_key}
    base = f"/api/agents/{tenant.agent_id}/knowledge"

    uploaded = http.post(base, files={"file": ("hours.txt", TEXT_DOC, "text/plain")}, headers=key)
    assert uploaded.status_code == 202, uploaded.text
    refused = http.post(base, files={"file": ("x.bin", b"\x00\x01\x02" * 50)}, headers=key)
    assert refused.status_code in (415, 422)
    path = f"/{secrets.token_hex(4)}/hours.txt"
    site.files[path] = ("text/plain", TEXT_DOC)
    url = f"http://127.0.0.1:{site.port}{path}?sig=SECRET-TOKEN"
    by_url = http.post(base + "/url", json={"url": url}, headers=csrf)
    assert by_url.status_code == 202, by_url.text
    doc_ids = [uploaded.json()["id"], by_url.json()["id"]]
    for doc_id in doc_ids:
        assert http.delete(f"{base}/{doc_id}", headers=csrf).status_code == 204

    events = events_since(http, before)
    assert summary(events) == [
        ("knowledge_document.created", "api_key", tenant.api_key_id, doc_ids[0]),
        ("knowledge_document.created", "user", user_id, doc_ids[1]),
        ("knowledge_document.deleted", "user", user_id, doc_ids[0]),
        ("knowledge_document.deleted", "user", user_id, doc_ids[1]),
    ]
    assert [e["details"] for e in events[:2]] == [
        {"agent_id": tenant.agent_id, "source": "upload"},
        {"agent_id": tenant.agent_id, "source": "url"},
    ]
    assert "SECRET-TOKEN" not in http.get("/api/audit", params={"limit": 500}).text


def test_webhook_endpoint_changes_are_audited_without_the_secret(
    http: httpx.Client, tenant: Tenant, site: AudioServer
) -> None:
    csrf = sign_in(http, tenant)
    user_id = http.get("/api/auth/me").json()["id"]
    before = event_ids(http)
    url = f"http://127.0.0.1:{site.port}/hook"

    created = http.post("/api/webhooks", json={"url": url}, headers=csrf)
    assert created.status_code == 201, created.text
    hook = created.json()
    path = f"/api/webhooks/{hook['id']}"
    patch = {"description": "CRM", "events": ["session.ended"]}
    assert http.patch(path, json=patch, headers=csrf).status_code == 200
    assert http.patch(path, json=patch, headers=csrf).status_code == 200  # no change: no event
    rotated = http.post(path + "/rotate-secret", headers=csrf)
    assert rotated.status_code == 200, rotated.text
    assert http.delete(path, headers=csrf).status_code == 204

    events = events_since(http, before)
    assert summary(events) == [
        ("webhook.created", "user", user_id, hook["id"]),
        ("webhook.updated", "user", user_id, hook["id"]),
        ("webhook.secret_rotated", "user", user_id, hook["id"]),
        ("webhook.deleted", "user", user_id, hook["id"]),
    ]
    assert events[1]["details"] == {"fields": ["description", "events"]}
    assert events[2]["details"] == {"overlap_seconds": 24 * 3600}
    text = http.get("/api/audit", params={"limit": 500}).text
    for secret in (hook["secret"], rotated.json()["secret"]):
        assert secret not in text and secret.removeprefix("whsec_") not in text
    assert "whsec_" not in text


def test_a_refused_change_writes_nothing_and_another_organisation_sees_nothing(
    http: httpx.Client, api: ApiServer, tenant: Tenant, site: AudioServer
) -> None:
    csrf = sign_in(http, tenant)
    url = f"http://127.0.0.1:{site.port}/hook"
    assert http.post("/api/webhooks", json={"url": url}, headers=csrf).status_code == 201
    other = make_tenant(api.platform)
    csrf = sign_in(http, other)
    before = event_ids(http)
    private = http.post("/api/webhooks", json={"url": "http://10.0.0.5/x"}, headers=csrf)
    assert private.status_code == 422
    bad_mcp = {"name": "x", "url": "http://10.0.0.5/mcp"}
    mcp_path = f"/api/agents/{other.agent_id}/mcp-servers"
    assert http.post(mcp_path, json=bad_mcp, headers=csrf).status_code == 422
    assert events_since(http, before) == []
    assert http.get("/api/audit", params={"action": "webhook.created"}).json() == []
