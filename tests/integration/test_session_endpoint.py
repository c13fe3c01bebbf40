"""The enterprise session endpoint, exactly as a backend written from the public guide calls it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import Tenant, make_tenant
from tests.support.servers import ApiServer
from tests.support.tokens import decode_claims

from vocable.db.models import ApiKey, VoiceSession

ENDPOINT = "/api/agents/agent-session/"


def create(http: httpx.Client, key: str | None, body: object) -> httpx.Response:
    headers = {"x-api-key": key} if key is not None else {}
    return http.post(ENDPOINT, json=body, headers=headers)


def test_guide_request_returns_join_credentials_in_the_guide_envelope(
    http: httpx.Client, tenant: Tenant
) -> None:
    resp = create(http, tenant.api_key, {"agent": tenant.agent_id})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    assert body["message"] == "Request successful"
    data = body["data"]
    for field in ("token", "livekit_url", "room_name", "session_id", "participant_identity"):
        assert isinstance(data[field], str) and data[field]
    assert data["livekit_url"].startswith("ws")
    assert data["expires_in_seconds"] == 30  # the join window


def test_path_without_trailing_slash_is_the_same_endpoint(
    http: httpx.Client, tenant: Tenant
) -> None:
    resp = http.post(
        ENDPOINT.rstrip("/"), json={"agent": tenant.agent_id}, headers={"x-api-key": tenant.api_key}
    )
    assert resp.status_code == 200
    assert resp.json()["data"]["token"]


def test_token_grants_one_room_to_one_random_identity_for_a_short_time(
    http: httpx.Client, tenant: Tenant
) -> None:
    data = create(http, tenant.api_key, {"agent": tenant.agent_id}).json()["data"]
    claims = decode_claims(data["token"])
    video = claims["video"]
    assert claims["sub"] == data["participant_identity"]
    assert video["room"] == data["room_name"]
    assert video["roomJoin"] is True
    assert video["canPublishSources"] == ["microphone"]
    assert video["canPublishData"] is True and video["canSubscribe"] is True
    for admin_grant in ("roomAdmin", "roomCreate", "roomList", "roomRecord", "ingressAdmin"):
        assert not video.get(admin_grant)
    assert 20 <= claims["exp"] - time.time() <= 40  # the 30 s join window
    dispatch = claims["roomConfig"]["agents"]
    assert [d["agentName"] for d in dispatch] == ["vocable-agent"]
    assert json.loads(dispatch[0]["metadata"]) == {"session_id": data["session_id"]}


def test_each_session_gets_its_own_room_and_identity(http: httpx.Client, tenant: Tenant) -> None:
    datas = [
        create(http, tenant.api_key, {"agent": tenant.agent_id}).json()["data"] for _ in range(3)
    ]
    assert len({d["room_name"] for d in datas}) == 3
    assert len({d["participant_identity"] for d in datas}) == 3
    assert len({d["session_id"] for d in datas}) == 3


def test_overrides_reach_the_worker_but_never_the_browser(
    http: httpx.Client, api: ApiServer, tenant: Tenant
) -> None:
    secret_prompt = "You are Ada. SECRET-PROMPT-MARKER"
    body = {
        "agent": tenant.agent_id,
        "language": "es-mx",
        "system_prompt": secret_prompt,
        "greeting": "Hola, soy Ada",
        # reference_audio_url is fetched at creation: tests/integration/test_voice_api.py
        "voice_model": "default",
        "mcp_headers": {"Authorization": "Bearer MCP-HEADER-MARKER"},
        "metadata": {"customer_id": 42},
        "origin_url": "https://shop.example.com/help",
    }
    resp = create(http, tenant.api_key, body)
    assert resp.status_code == 200
    assert "MARKER" not in resp.text
    assert "MARKER" not in json.dumps(decode_claims(resp.json()["data"]["token"]))
    session_id = resp.json()["data"]["session_id"]

    worker = {"Authorization": f"Bearer {api.platform.secrets.worker_token}"}
    cfg = http.get(f"/internal/sessions/{session_id}", headers=worker).json()
    assert cfg["language"] == "es-MX"
    assert cfg["system_prompt"] == secret_prompt
    assert cfg["greeting"] == "Hola, soy Ada"
    assert cfg["mcp_headers"] == {"Authorization": "Bearer MCP-HEADER-MARKER"}
    assert cfg["metadata"] == {"customer_id": 42}

    with api.platform.sessions() as db:
        row = db.get(VoiceSession, session_id)
        assert row is not None
        assert "MCP-HEADER-MARKER" not in (row.mcp_headers_encrypted or "")
        assert "MCP-HEADER-MARKER" not in json.dumps(row.config)


def test_session_inherits_agent_defaults_when_not_overridden(
    http: httpx.Client, api: ApiServer
) -> None:
    t = make_tenant(api.platform, language="fr", greeting="Bonjour", system_prompt="Sois bref.")
    session_id = create(http, t.api_key, {"agent": t.agent_id}).json()["data"]["session_id"]
    worker = {"Authorization": f"Bearer {api.platform.secrets.worker_token}"}
    cfg = http.get(f"/internal/sessions/{session_id}", headers=worker).json()
    assert (cfg["language"], cfg["greeting"], cfg["system_prompt"]) == (
        "fr",
        "Bonjour",
        "Sois bref.",
    )
    assert cfg["mcp_headers"] == {}


def test_using_a_key_records_when_it_was_last_used(
    http: httpx.Client, api: ApiServer, tenant: Tenant
) -> None:
    create(http, tenant.api_key, {"agent": tenant.agent_id})
    with api.platform.sessions() as db:
        key = db.get(ApiKey, tenant.api_key_id)
        assert key is not None and key.last_used_at is not None
        first = key.last_used_at
    # kept to the minute: the next session within it writes nothing more to the key
    create(http, tenant.api_key, {"agent": tenant.agent_id})
    with api.platform.sessions() as db:
        key = db.get(ApiKey, tenant.api_key_id)
        assert key is not None and key.last_used_at == first


@pytest.mark.parametrize(
    "key",
    [None, "", "sk_unknown_key_that_was_never_issued_000000000", "not-a-key", "Bearer sk_x"],
)
def test_missing_or_unknown_key_is_401_in_the_envelope(
    http: httpx.Client, tenant: Tenant, key: str | None
) -> None:
    resp = create(http, key, {"agent": tenant.agent_id})
    assert resp.status_code == 401
    body = resp.json()
    assert body["success"] is False and body["message"]
    assert "token" not in resp.text


def test_revoked_key_stops_working(http: httpx.Client, tenant: Tenant) -> None:
    login = http.post("/api/auth/login", json={"email": tenant.email, "password": tenant.password})
    csrf = login.json()["csrf_token"]
    assert create(http, tenant.api_key, {"agent": tenant.agent_id}).status_code == 200
    revoked = http.delete(f"/api/keys/{tenant.api_key_id}", headers={"x-csrf-token": csrf})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert create(http, tenant.api_key, {"agent": tenant.agent_id}).status_code == 401


def test_unknown_agent_is_404(http: httpx.Client, tenant: Tenant) -> None:
    resp = create(http, tenant.api_key, {"agent": "agt_doesnotexist0000000000"})
    assert resp.status_code == 404
    assert resp.json()["success"] is False


def test_another_organisations_agent_is_404(http: httpx.Client, api: ApiServer) -> None:
    a, b = make_tenant(api.platform), make_tenant(api.platform)
    assert create(http, b.api_key, {"agent": a.agent_id}).status_code == 404


def test_inactive_agent_is_404(http: httpx.Client, api: ApiServer) -> None:
    t = make_tenant(api.platform, active=False)
    assert create(http, t.api_key, {"agent": t.agent_id}).status_code == 404


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"agent": None}, "agent"),
        ({"agent": ""}, "agent"),
        ({"language": "not a language"}, "language"),
        ({"language": 5}, "language"),
        ({"system_prompt": "x" * 20_001}, "system_prompt"),
        ({"greeting": "x" * 2_001}, "greeting"),
        ({"reference_audio_url": "file:///etc/passwd"}, "reference_audio_url"),
        ({"reference_audio_url": "x" * 3000}, "reference_audio_url"),
        ({"origin_url": "javascript:alert(1)"}, "origin_url"),
        ({"mcp_headers": {"bad header": "v"}}, "mcp_headers"),
        ({"mcp_headers": {"X-Ok": "line\r\nInjected: 1"}}, "mcp_headers"),
        ({"mcp_headers": "not an object"}, "mcp_headers"),
        ({"metadata": {"blob": "x" * 20_000}}, "metadata"),
        ({"voice_model": "v" * 101}, "voice_model"),
        ({"greeting": "hi\u0000there"}, "greeting"),
        ({"system_prompt": "\u0000"}, "system_prompt"),
    ],
)
def test_invalid_field_is_422_naming_the_field(
    http: httpx.Client, api: ApiServer, tenant: Tenant, override: dict[str, object], field: str
) -> None:
    with api.platform.sessions() as db:
        before = len(list(db.scalars(select(VoiceSession.id))))
    resp = create(http, tenant.api_key, {"agent": tenant.agent_id, **override})
    assert resp.status_code == 422
    body = resp.json()
    assert body["success"] is False
    assert field in {e["field"] for e in body["errors"]}
    assert "x" * 100 not in resp.text  # rejected values are named, not echoed
    with api.platform.sessions() as db:
        assert len(list(db.scalars(select(VoiceSession.id)))) == before


def test_language_the_agents_speech_engine_cannot_hear_is_422(
    http: httpx.Client, tenant: Tenant
) -> None:
    resp = create(http, tenant.api_key, {"agent": tenant.agent_id, "language": "ga"})
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["language"]


def test_body_that_is_not_json_is_422(http: httpx.Client, tenant: Tenant) -> None:
    resp = http.post(
        ENDPOINT,
        content=b"agent=abc",
        headers={"x-api-key": tenant.api_key, "content-type": "application/json"},
    )
    assert resp.status_code == 422
    assert resp.json()["success"] is False


def test_metadata_with_nan_is_422_not_a_database_error(http: httpx.Client, tenant: Tenant) -> None:
    raw = '{"agent": "AGENT", "metadata": {"x": NaN}}'.replace("AGENT", tenant.agent_id)
    resp = http.post(
        ENDPOINT,
        content=raw.encode(),
        headers={"x-api-key": tenant.api_key, "content-type": "application/json"},
    )
    assert resp.status_code == 422
    assert "metadata" in {e["field"] for e in resp.json()["errors"]}


def test_null_means_inherit_for_every_optional_field(http: httpx.Client, tenant: Tenant) -> None:
    body = {
        "agent": tenant.agent_id,
        **dict.fromkeys(
            [
                "language",
                "system_prompt",
                "greeting",
                "reference_audio_url",
                "voice_model",
                "mcp_headers",
                "metadata",
                "origin_url",
                "text_only",
            ],
            None,
        ),
    }
    assert create(http, tenant.api_key, body).status_code == 200


def test_worker_cannot_fetch_a_session_that_ended_or_expired(
    http: httpx.Client, api: ApiServer, tenant: Tenant
) -> None:
    worker = {"Authorization": f"Bearer {api.platform.secrets.worker_token}"}
    ended = create(http, tenant.api_key, {"agent": tenant.agent_id}).json()["data"]["session_id"]
    http.post(
        f"/internal/sessions/{ended}/events",
        json={"type": "ended", "reason": "caller_left", "usage": {"turns": 2}},
        headers=worker,
    )
    assert http.get(f"/internal/sessions/{ended}", headers=worker).status_code == 409
    # a late report cannot rewrite a closed call record
    http.post(
        f"/internal/sessions/{ended}/events",
        json={"type": "ended", "reason": "error", "usage": {"turns": 99}},
        headers=worker,
    )
    record = http.get(f"/api/sessions/{ended}", headers={"x-api-key": tenant.api_key}).json()
    assert (record["end_reason"], record["usage"]) == ("caller_left", {"turns": 2})

    expired = create(http, tenant.api_key, {"agent": tenant.agent_id}).json()["data"]["session_id"]
    with api.platform.sessions() as db:
        row = db.get(VoiceSession, expired)
        assert row is not None
        row.join_deadline = datetime.now(UTC) - timedelta(seconds=61)  # window and start grace
        db.commit()
    assert http.get(f"/internal/sessions/{expired}", headers=worker).status_code == 409


def test_unknown_fields_are_ignored_for_forward_compatibility(
    http: httpx.Client, tenant: Tenant
) -> None:
    resp = create(http, tenant.api_key, {"agent": tenant.agent_id, "future_option": True})
    assert resp.status_code == 200
