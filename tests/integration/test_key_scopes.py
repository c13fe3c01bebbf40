"""Scoped API keys through the real API on both databases: every route checks its scope
(route by route, from the table in docs/api.md), keys limited to agents reach only those
agents, the key API validates scopes and agents, and keys made before scopes keep full
access after the migration."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from tests.conftest import Tenant, make_tenant
from tests.integration.test_dashboard_api import sign_in
from tests.support.old_schema import database_at
from tests.support.scopes import DocumentedRoute, documented_routes, key_routes
from tests.support.servers import ApiServer

from vocable.accounts import service as accounts
from vocable.agents.service import create_agent
from vocable.contracts.agents import AgentCreate
from vocable.contracts.scopes import SCOPES
from vocable.db.migrate import upgrade_to_head
from vocable.db.models import ApiKey, AuditEvent
from vocable.platform import Platform

SESSION = "/api/agents/agent-session/"
ROUTES = documented_routes()


def make_key(
    platform: Platform, tenant: Tenant, scopes: list[str], agent_ids: list[str] | None = None
) -> str:
    with platform.sessions() as db:
        created = accounts.create_api_key(
            db,
            org_id=tenant.org_id,
            name="scoped",
            created_by=None,
            scopes=scopes,
            agent_ids=agent_ids or [],
        )
        return created.secret


def add_agent(platform: Platform, tenant: Tenant, name: str) -> str:
    with platform.sessions() as db:
        agent = create_agent(db, org_id=tenant.org_id, data=AgentCreate(name=name))
        return agent.id


def call(http: httpx.Client, route: DocumentedRoute, tenant: Tenant, key: str) -> httpx.Response:
    """The route with the tenant's agent in its path (other ids unknown: a 404 at most)."""
    path = route.path.replace("{agent_id}", tenant.agent_id)
    path = re.sub(r"\{[^}]+\}", "x1", path)
    body = {"agent": tenant.agent_id} if route.path == SESSION else None
    return http.request(route.method, path, json=body, headers={"x-api-key": key})


# --- the table: every route an API key reaches declares one scope, as documented ----------


def test_every_route_an_api_key_reaches_declares_exactly_one_scope(api: ApiServer) -> None:
    routes = key_routes(api.app)
    assert len(routes) > 30  # the walk finds the routes at all
    undeclared = [f"{r.name} {r.scopes}" for r in routes if r.scope is None]
    assert undeclared == [], "routes an API key reaches without exactly one scope"
    unknown = [r.name for r in routes if r.scope not in SCOPES or r.scope == "admin"]
    assert unknown == []


def test_the_documented_scope_table_is_the_routes_declarations(api: ApiServer) -> None:
    declared = {r.name: r.scope for r in key_routes(api.app) if r.in_schema}
    documented = {f"{r.method} {r.path}": r.scope for r in ROUTES}
    assert documented == declared
    org_wide = {r.name for r in key_routes(api.app) if r.org_wide}
    documented_org = {f"{r.method} {r.path}" for r in ROUTES if r.agents == "organisation"}
    # creating an agent checks itself (the new agent is no existing agent of the key)
    assert org_wide | {"POST /api/agents"} == documented_org


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_key_with_the_routes_scope_passes_and_one_without_it_is_refused(
    http: httpx.Client, api: ApiServer, route: DocumentedRoute
) -> None:
    tenant = make_tenant(api.platform)
    others = [s for s in SCOPES if s not in (route.scope, "admin")]
    refused = call(http, route, tenant, make_key(api.platform, tenant, others))
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["success"] is False and body["code"] == "insufficient_scope"
    assert route.scope in body["message"]
    assert tenant.api_key not in refused.text

    allowed = call(http, route, tenant, make_key(api.platform, tenant, [route.scope]))
    assert allowed.status_code not in (401, 403), allowed.text
    admin = call(http, route, tenant, make_key(api.platform, tenant, ["admin"]))
    assert admin.status_code not in (401, 403), admin.text


def test_dashboard_users_are_not_scoped(http: httpx.Client, api: ApiServer) -> None:
    tenant = make_tenant(api.platform)
    csrf = sign_in(http, tenant)
    assert http.get("/api/sessions").status_code == 200
    assert http.get("/api/voices").status_code == 200
    resp = http.patch(f"/api/agents/{tenant.agent_id}", json={"name": "Front desk"}, headers=csrf)
    assert resp.status_code == 200, resp.text


# --- keys limited to agents ---------------------------------------------------------------


def test_a_key_limited_to_an_agent_creates_sessions_only_for_it(
    http: httpx.Client, api: ApiServer
) -> None:
    tenant = make_tenant(api.platform)
    other = add_agent(api.platform, tenant, "Sales")
    key = make_key(api.platform, tenant, ["sessions:create"], [tenant.agent_id])
    ok = http.post(SESSION, json={"agent": tenant.agent_id}, headers={"x-api-key": key})
    assert ok.status_code == 200, ok.text
    refused = http.post(SESSION, json={"agent": other}, headers={"x-api-key": key})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "agent_not_allowed" and other in refused.json()["message"]
    assert key not in refused.text
    # a full key of the same organisation still reaches both
    full = http.post(SESSION, json={"agent": other}, headers={"x-api-key": tenant.api_key})
    assert full.status_code == 200, full.text


def test_a_key_limited_to_an_agent_sees_only_that_agent_and_its_calls(
    http: httpx.Client, api: ApiServer
) -> None:
    tenant = make_tenant(api.platform)
    other = add_agent(api.platform, tenant, "Sales")
    full = {"x-api-key": tenant.api_key}
    mine = http.post(SESSION, json={"agent": tenant.agent_id}, headers=full).json()["data"]
    theirs = http.post(SESSION, json={"agent": other}, headers=full).json()["data"]
    reader = make_key(
        api.platform,
        tenant,
        ["agents:read", "agents:write", "calls:read", "knowledge:read", "mcp:read"],
        [tenant.agent_id],
    )
    headers = {"x-api-key": reader}

    agents = http.get("/api/agents", headers=headers)
    assert [a["id"] for a in agents.json()] == [tenant.agent_id]
    calls = http.get("/api/sessions", headers=headers)
    assert [c["id"] for c in calls.json()] == [mine["session_id"]]
    assert http.get(f"/api/sessions/{mine['session_id']}", headers=headers).status_code == 200

    for path in (
        f"/api/sessions/{theirs['session_id']}",
        f"/api/sessions?agent={other}",
        f"/api/agents/{other}",
        f"/api/agents/{other}/sessions",
        f"/api/agents/{other}/knowledge",
        f"/api/agents/{other}/mcp-servers",
    ):
        resp = http.get(path, headers=headers)
        assert resp.status_code == 403, (path, resp.text)
        assert resp.json()["code"] == "agent_not_allowed"
    changed = http.patch(f"/api/agents/{other}", json={"name": "Mine now"}, headers=headers)
    assert changed.status_code == 403
    # nor organisation-wide routes, nor a new agent it could not reach
    assert http.post("/api/agents", json={"name": "New"}, headers=headers).status_code == 403
    voices_key = make_key(api.platform, tenant, ["voices:read"], [tenant.agent_id])
    voices = http.get("/api/voices", headers={"x-api-key": voices_key})
    assert voices.status_code == 403 and voices.json()["code"] == "agent_not_allowed"


# --- the key API ------------------------------------------------------------------------


def test_keys_are_created_with_scopes_and_agents_and_rotation_keeps_them(
    http: httpx.Client, api: ApiServer
) -> None:
    tenant = make_tenant(api.platform)
    csrf = sign_in(http, tenant)
    created = http.post(
        "/api/keys",
        json={
            "name": "booking",
            "scopes": ["calls:read", "sessions:create", "calls:read"],
            "agent_ids": [tenant.agent_id],
        },
        headers=csrf,
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["scopes"] == ["sessions:create", "calls:read"]  # known order, de-duplicated
    assert key["agent_ids"] == [tenant.agent_id]
    listed = [k for k in http.get("/api/keys").json() if k["id"] == key["id"]]
    assert listed[0]["scopes"] == key["scopes"] and listed[0]["agent_ids"] == key["agent_ids"]

    rotated = http.post(f"/api/keys/{key['id']}/rotate", json={}, headers=csrf).json()
    assert rotated["scopes"] == key["scopes"] and rotated["agent_ids"] == key["agent_ids"]
    refused = http.get("/api/agents", headers={"x-api-key": rotated["key"]})
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_scope"

    # without scopes the API keeps creating full-access keys (scripts written before scopes)
    default = http.post("/api/keys", json={"name": "legacy script"}, headers=csrf).json()
    assert default["scopes"] == ["admin"] and default["agent_ids"] == []


def test_a_keys_scopes_and_agents_can_be_changed_and_the_change_is_audited(
    http: httpx.Client, api: ApiServer
) -> None:
    tenant = make_tenant(api.platform)
    csrf = sign_in(http, tenant)
    key = http.post(
        "/api/keys", json={"name": "b", "scopes": ["sessions:create"]}, headers=csrf
    ).json()
    headers = {"x-api-key": key["key"]}
    assert http.get("/api/sessions", headers=headers).status_code == 403
    changed = http.patch(
        f"/api/keys/{key['id']}",
        json={"scopes": ["sessions:create", "calls:read"], "agent_ids": [tenant.agent_id]},
        headers=csrf,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["scopes"] == ["sessions:create", "calls:read"]
    assert http.get("/api/sessions", headers=headers).status_code == 200
    with api.platform.sessions() as db:
        event = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_id == key["id"], AuditEvent.action == "key.updated")
            .order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None, "no key.updated event"
    assert event.details["fields"] == ["agent_ids", "scopes"], event.details
    assert event.details["scopes"] == ["sessions:create", "calls:read"]
    assert event.details["agent_ids"] == [tenant.agent_id]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["agents:delete"]}, "scopes"),
        ({"scopes": "admin"}, "scopes"),
        ({"agent_ids": ["agt_nope"]}, "agent_ids"),
    ],
)
def test_invalid_scopes_and_agents_are_a_422_naming_the_field(
    http: httpx.Client, api: ApiServer, body: dict[str, object], field: str
) -> None:
    tenant = make_tenant(api.platform)
    csrf = sign_in(http, tenant)
    created = http.post("/api/keys", json={"name": "b", **body}, headers=csrf)
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"] == field
    key_id = http.get("/api/keys").json()[0]["id"]  # the tenant's own key
    updated = http.patch(f"/api/keys/{key_id}", json=body, headers=csrf)
    assert updated.status_code == 422, updated.text
    assert updated.json()["errors"][0]["field"] == field


def test_another_organisations_agent_cannot_be_named(http: httpx.Client, api: ApiServer) -> None:
    tenant, stranger = make_tenant(api.platform), make_tenant(api.platform)
    csrf = sign_in(http, tenant)
    resp = http.post(
        "/api/keys", json={"name": "b", "agent_ids": [stranger.agent_id]}, headers=csrf
    )
    assert resp.status_code == 422
    assert resp.json()["errors"] == [
        {"field": "agent_ids", "message": "entry 1 is not an agent of this organisation"}
    ]


# --- the migration ----------------------------------------------------------------------


def test_keys_made_before_scopes_are_full_access_keys_after_the_migration(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    with database_at(request, backend, tmp_path, "0013") as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_at) "
                    "VALUES ('key_old', 'org_1', 'old', 'sk_old', :hash, CURRENT_TIMESTAMP)"
                ),
                {"hash": "0" * 64},
            )
        upgrade_to_head(engine)
        with engine.connect() as conn:
            row = conn.execute(select(ApiKey.scopes, ApiKey.agent_ids)).one()
    assert list(row.scopes) == ["admin"] and list(row.agent_ids) == []


def test_a_scope_refusal_is_counted_on_the_key(http: httpx.Client, api: ApiServer) -> None:
    tenant = make_tenant(api.platform)
    key = make_key(api.platform, tenant, ["sessions:create"], [])
    for path in (f"/api/agents/{tenant.agent_id}", "/api/sessions"):
        assert http.get(path, headers={"x-api-key": key}).status_code == 403
    assert (
        http.post(SESSION, json={"agent": tenant.agent_id}, headers={"x-api-key": key}).status_code
        == 200
    )
    sign_in(http, tenant)  # the dashboard shows the count
    shown = [k for k in http.get("/api/keys").json() if key.startswith(k["prefix"])]
    assert len(shown) == 1 and shown[0]["refused_count"] == 2 and shown[0]["last_refused_at"]
