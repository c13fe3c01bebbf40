"""Key rotation with a grace period, per-key origin and IP allow-lists, and the audit log,
through the real API on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from tests.conftest import Tenant, make_tenant
from tests.integration.test_dashboard_api import sign_in
from tests.support.servers import ApiServer

from vocable.db.models import ApiKey, AuditEvent

ENDPOINT = "/api/agents/agent-session/"


def new_session(http: httpx.Client, tenant: Tenant, key: str, **headers: str) -> httpx.Response:
    return http.post(
        ENDPOINT, json={"agent": tenant.agent_id}, headers={"x-api-key": key, **headers}
    )


def listed(http: httpx.Client, key_id: str) -> dict[str, object]:
    rows = [k for k in http.get("/api/keys").json() if k["id"] == key_id]
    assert len(rows) == 1
    return dict(rows[0])


def audit_actions(http: httpx.Client, **params: object) -> list[dict[str, object]]:
    resp = http.get("/api/audit", params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json())


def test_rotated_key_works_during_its_grace_period_then_stops(
    http: httpx.Client, api: ApiServer, tenant: Tenant
) -> None:
    csrf = sign_in(http, tenant)
    old = http.post(
        "/api/keys",
        json={"name": "backend", "allowed_origins": ["https://app.example.com"]},
        headers=csrf,
    ).json()
    rotated = http.post(f"/api/keys/{old['id']}/rotate", json={"grace_seconds": 3600}, headers=csrf)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key"].startswith("sk_") and new["key"] != old["key"]
    assert new["rotated_from"] == old["id"] and new["name"] == "backend"
    assert new["allowed_origins"] == ["https://app.example.com"]
    assert new["state"] == "active" and new["previous"]["state"] == "expiring"

    # both keys work while the old one is in its grace period
    assert new_session(http, tenant, old["key"]).status_code == 200
    assert new_session(http, tenant, new["key"]).status_code == 200
    listing = http.get("/api/keys")
    assert old["key"] not in listing.text and new["key"] not in listing.text
    expiring = listed(http, old["id"])
    assert expiring["state"] == "expiring"
    ends = datetime.fromisoformat(str(expiring["expires_at"]))
    assert timedelta(minutes=59) < ends - datetime.now(UTC) <= timedelta(hours=1)

    # the grace period ends (moved into the past rather than waited for)
    with api.platform.sessions() as db:
        db.execute(
            update(ApiKey)
            .where(ApiKey.id == old["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.commit()
    refused = new_session(http, tenant, old["key"])
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert new_session(http, tenant, new["key"]).status_code == 200
    assert listed(http, old["id"])["state"] == "expired"
    # an expired or already-rotated key cannot be rotated again
    again = http.post(f"/api/keys/{old['id']}/rotate", json={}, headers=csrf)
    assert again.status_code == 409 and again.json()["code"] == "key_not_active"


def test_rotation_with_no_grace_revokes_at_once_and_default_grace_is_a_day(
    http: httpx.Client, tenant: Tenant
) -> None:
    csrf = sign_in(http, tenant)
    now = http.post(
        f"/api/keys/{tenant.api_key_id}/rotate", json={"grace_seconds": 0}, headers=csrf
    )
    assert now.status_code == 201 and now.json()["previous"]["state"] == "revoked"
    assert new_session(http, tenant, tenant.api_key).status_code == 401
    assert new_session(http, tenant, now.json()["key"]).status_code == 200

    default = http.post(f"/api/keys/{now.json()['id']}/rotate", headers=csrf)
    assert default.status_code == 201, default.text
    ends = datetime.fromisoformat(default.json()["previous"]["expires_at"])
    assert timedelta(hours=23, minutes=59) < ends - datetime.now(UTC) <= timedelta(hours=24)
    twice = http.post(f"/api/keys/{now.json()['id']}/rotate", headers=csrf)
    assert twice.status_code == 409

    too_long = http.post(
        f"/api/keys/{default.json()['id']}/rotate", json={"grace_seconds": 31 * 86400}, headers=csrf
    )
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "grace_seconds"


def test_only_the_organisations_dashboard_users_rotate_its_keys(
    http: httpx.Client, api: ApiServer, tenant: Tenant
) -> None:
    other = make_tenant(api.platform)
    as_key = http.post(
        f"/api/keys/{tenant.api_key_id}/rotate", headers={"x-api-key": tenant.api_key}
    )
    assert as_key.status_code == 401
    csrf = sign_in(http, other)
    assert http.post(f"/api/keys/{tenant.api_key_id}/rotate", headers=csrf).status_code == 404
    assert http.post(f"/api/keys/{tenant.api_key_id}/rotate").status_code == 403  # no CSRF
    assert http.patch(f"/api/keys/{tenant.api_key_id}", json={}, headers=csrf).status_code == 404
    assert new_session(http, tenant, tenant.api_key).status_code == 200


def test_key_with_an_expiry_stops_then(http: httpx.Client, api: ApiServer, tenant: Tenant) -> None:
    csrf = sign_in(http, tenant)
    past = http.post(
        "/api/keys", json={"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, headers=csrf
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "expires_at"
    naive = http.post(
        "/api/keys", json={"name": "x", "expires_at": "2999-01-01T00:00"}, headers=csrf
    )
    assert naive.status_code == 422
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = http.post("/api/keys", json={"name": "x", "expires_at": soon}, headers=csrf).json()
    assert created["state"] == "expiring"
    assert new_session(http, tenant, created["key"]).status_code == 200
    with api.platform.sessions() as db:
        row = db.get(ApiKey, created["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.commit()
    assert new_session(http, tenant, created["key"]).status_code == 401


def test_key_with_allowed_origins_refuses_other_origins_and_counts_refusals(
    http: httpx.Client, tenant: Tenant
) -> None:
    csrf = sign_in(http, tenant)
    created = http.post(
        "/api/keys",
        json={"name": "web", "allowed_origins": ["https://App.example.com:443/"]},
        headers=csrf,
    ).json()
    assert created["allowed_origins"] == ["https://app.example.com"]
    key = created["key"]
    assert new_session(http, tenant, key, origin="https://app.example.com").status_code == 200
    assert new_session(http, tenant, key).status_code == 200  # server-to-server: no Origin
    for origin in ("https://evil.example", "http://app.example.com", "null"):
        refused = new_session(http, tenant, key, origin=origin)
        assert refused.status_code == 403, origin
        body = refused.json()
        assert body["code"] == "origin_not_allowed" and body["success"] is False
        assert created["id"] not in refused.text and "app.example.com" not in refused.text
    # the management API applies the same rule
    agents = http.get("/api/agents", headers={"x-api-key": key, "origin": "https://evil.example"})
    assert agents.status_code == 403
    shown = listed(http, created["id"])
    assert shown["refused_count"] == 4 and shown["last_refused_at"]
    # a revoked key is 401 whatever the origin: its rules are not revealed
    http.delete(f"/api/keys/{created['id']}", headers=csrf)
    assert new_session(http, tenant, key, origin="https://evil.example").status_code == 401


def test_key_with_allowed_ips_refuses_other_addresses(http: httpx.Client, tenant: Tenant) -> None:
    csrf = sign_in(http, tenant)
    created = http.post(
        "/api/keys",
        json={"name": "dc", "allowed_ips": ["10.0.0.0/8", "2001:db8::/32"]},
        headers=csrf,
    ).json()
    key = created["key"]
    refused = new_session(http, tenant, key)  # the test client is 127.0.0.1
    assert refused.status_code == 403 and refused.json()["code"] == "ip_not_allowed"
    assert "127.0.0.1" not in refused.text
    # X-Forwarded-For from a peer that is not a trusted proxy changes nothing
    spoofed = new_session(http, tenant, key, **{"x-forwarded-for": "10.1.2.3"})
    assert spoofed.status_code == 403

    allowed = http.patch(
        f"/api/keys/{created['id']}", json={"allowed_ips": ["127.0.0.1"]}, headers=csrf
    )
    assert allowed.status_code == 200 and allowed.json()["allowed_ips"] == ["127.0.0.1/32"]
    assert new_session(http, tenant, key).status_code == 200
    lifted = http.patch(f"/api/keys/{created['id']}", json={"allowed_ips": []}, headers=csrf)
    assert lifted.json()["allowed_ips"] == []
    assert listed(http, created["id"])["refused_count"] == 2


def test_invalid_allow_lists_are_422_naming_the_field_without_echoing(
    http: httpx.Client, tenant: Tenant
) -> None:
    csrf = sign_in(http, tenant)
    for field, value in (
        ("allowed_origins", ["https://ok.example", "https://leak-me.example/path"]),
        ("allowed_origins", ["*"]),
        ("allowed_ips", ["10.0.0.0/8", "leak-me/99"]),
        ("allowed_ips", "10.0.0.0/8"),
    ):
        resp = http.post("/api/keys", json={"name": "x", field: value}, headers=csrf)
        assert resp.status_code == 422, (field, value)
        assert [e["field"] for e in resp.json()["errors"]] == [field]
        assert "leak-me" not in resp.text
        patched = http.patch(f"/api/keys/{tenant.api_key_id}", json={field: value}, headers=csrf)
        assert patched.status_code == 422
    typo = http.post("/api/keys", json={"name": "x", "allowed_ip": ["1.2.3.4"]}, headers=csrf)
    assert typo.status_code == 422  # a misspelt limit is refused, not silently ignored


def test_audit_log_records_key_and_agent_changes_by_whom_and_names_only(
    http: httpx.Client, api: ApiServer, tenant: Tenant
) -> None:
    csrf = sign_in(http, tenant)
    by_key = {"x-api-key": tenant.api_key}
    created = http.post("/api/keys", json={"name": "audited"}, headers=csrf).json()
    http.patch(
        f"/api/keys/{created['id']}", json={"name": "renamed", "allowed_ips": []}, headers=csrf
    )
    rotated = http.post(f"/api/keys/{created['id']}/rotate", headers=csrf).json()
    http.delete(f"/api/keys/{rotated['id']}", headers=csrf)
    agent = http.post("/api/agents", json={"name": "A"}, headers=by_key).json()
    secret_prompt = "audit-must-not-hold-this-prompt"
    http.patch(
        f"/api/agents/{agent['id']}",
        json={"system_prompt": secret_prompt, "greeting": "Hi", "name": "A"},
        headers=by_key,
    )
    assert http.delete(f"/api/agents/{agent['id']}", headers=csrf).status_code == 204

    events = audit_actions(http, limit=20)
    mine = [(e["action"], e["target_id"]) for e in events]
    assert mine[:7] == [
        ("agent.deleted", agent["id"]),
        ("agent.updated", agent["id"]),
        ("agent.created", agent["id"]),
        ("key.revoked", rotated["id"]),
        ("key.rotated", created["id"]),
        ("key.updated", created["id"]),
        ("key.created", created["id"]),
    ]
    by_action = {e["action"]: e for e in events[:7]}
    assert by_action["agent.updated"]["details"] == {"fields": ["greeting", "system_prompt"]}
    assert by_action["key.updated"]["details"] == {"fields": ["name"]}
    assert by_action["key.rotated"]["details"]["new_key_id"] == rotated["id"]
    assert by_action["agent.created"]["actor_kind"] == "api_key"
    assert by_action["agent.created"]["actor_id"] == tenant.api_key_id
    assert by_action["agent.deleted"]["actor_kind"] == "user"
    assert all(e["ip"] == "127.0.0.1" for e in events[:7])
    assert secret_prompt not in http.get("/api/audit").text
    assert [e["action"] for e in audit_actions(http, action="key.revoked")] == ["key.revoked"]
    assert http.get("/api/audit", params={"action": "nope"}).status_code == 422


def test_audit_log_is_per_organisation_and_for_dashboard_users_only(
    http: httpx.Client, api: ApiServer
) -> None:
    a, b = make_tenant(api.platform), make_tenant(api.platform)
    http.post("/api/agents", json={"name": "only-a"}, headers={"x-api-key": a.api_key})
    assert http.get("/api/audit", headers={"x-api-key": a.api_key}).status_code == 401
    sign_in(http, b)
    seen = audit_actions(http, limit=500)
    with api.platform.sessions() as db:
        own = set(db.scalars(select(AuditEvent.id).where(AuditEvent.org_id == b.org_id)))
    assert {e["id"] for e in seen} == own  # b's tenant setup only, none of a's events


def test_a_refused_change_writes_no_audit_event(http: httpx.Client, tenant: Tenant) -> None:
    sign_in(http, tenant)
    before = audit_actions(http, limit=500)
    refused = http.patch(
        f"/api/agents/{tenant.agent_id}",
        json={"system_prompt": "new", "language": "zu"},
        headers={"x-api-key": tenant.api_key},
    )
    assert refused.status_code == 422
    assert audit_actions(http, limit=500) == before


def test_revoking_a_session_is_audited(http: httpx.Client, tenant: Tenant) -> None:
    sign_in(http, tenant)
    sid = new_session(http, tenant, tenant.api_key).json()["data"]["session_id"]
    # no LiveKit here: the revocation is recorded, then closing the room fails with 503
    http.post(f"/api/sessions/{sid}/revoke", headers={"x-api-key": tenant.api_key})
    event = audit_actions(http, action="session.revoked")[0]
    assert event["target_id"] == sid and event["actor_kind"] == "api_key"


def test_audit_events_cannot_be_rewritten(api: ApiServer, tenant: Tenant) -> None:
    with api.platform.sessions() as db:
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(
                text("UPDATE audit_events SET action = 'x' WHERE org_id = :o"), {"o": tenant.org_id}
            )
        db.rollback()
        row = db.scalars(select(AuditEvent).where(AuditEvent.org_id == tenant.org_id)).first()
        assert row is not None
        row.action = "key.revoked"
        with pytest.raises(RuntimeError, match="append-only"):
            db.flush()
