"""``{{variables}}`` in an agent's prompt and greeting, filled from the session's metadata,
the agent's defaults and the system values; the call record shows the filled text."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from tests.conftest import Tenant
from tests.support.servers import ApiServer

ENDPOINT = "/api/agents/agent-session/"
PROMPT = (
    "You help {{customer_name}} on the {{ plan }} plan. Today is {{system.date}}, "
    "{{system.time}} in {{system.timezone}}; speak {{system.language}}."
)


def make_agent(http: httpx.Client, tenant: Tenant, **fields: object) -> dict[str, object]:
    resp = http.post(
        "/api/agents",
        json={"name": "Concierge", "system_prompt": PROMPT, **fields},
        headers={"x-api-key": tenant.api_key},
    )
    assert resp.status_code == 201, resp.text
    agent: dict[str, object] = resp.json()
    return agent


def test_metadata_and_defaults_fill_the_prompt_and_greeting_of_the_call(
    http: httpx.Client, tenant: Tenant, api: ApiServer
) -> None:
    agent = make_agent(
        http,
        tenant,
        greeting="Hello {{customer_name}}!",
        timezone="Asia/Tokyo",
        variable_defaults={"plan": "basic"},
    )
    assert (agent["timezone"], agent["variable_defaults"]) == ("Asia/Tokyo", {"plan": "basic"})
    key = {"x-api-key": tenant.api_key}
    created = http.post(
        ENDPOINT,
        json={
            "agent": agent["id"],
            "language": "es",
            "metadata": {"customer_name": "Ana", "vip": True},
            "origin_url": "https://shop.example.com/help?topic=returns",
        },
        headers=key,
    )
    assert created.status_code == 200, created.text
    sid = created.json()["data"]["session_id"]
    record = http.get(f"/api/sessions/{sid}", headers=key).json()
    tokyo = datetime.now(ZoneInfo("Asia/Tokyo"))
    assert record["greeting"] == "Hello Ana!"
    assert record["system_prompt"].startswith("You help Ana on the basic plan. Today is ")
    assert tokyo.strftime("%d %B %Y") in record["system_prompt"]
    assert "in Asia/Tokyo; speak es." in record["system_prompt"]
    assert "{{" not in record["system_prompt"]
    assert record["metadata"] == {"customer_name": "Ana", "vip": True}
    assert record["origin_url"] == "https://shop.example.com/help?topic=returns"
    # the worker runs the call with the filled text
    worker = {"Authorization": f"Bearer {api.platform.secrets.worker_token}"}
    config = http.get(f"/internal/sessions/{sid}", headers=worker).json()
    assert (config["system_prompt"], config["greeting"]) == (record["system_prompt"], "Hello Ana!")
    # metadata wins over a default
    premium = http.post(
        ENDPOINT,
        json={"agent": agent["id"], "metadata": {"customer_name": "Bo", "plan": "premium"}},
        headers=key,
    )
    sid = premium.json()["data"]["session_id"]
    assert (
        "Bo on the premium plan"
        in http.get(f"/api/sessions/{sid}", headers=key).json()["system_prompt"]
    )


def test_a_placeholder_without_a_value_refuses_the_session_naming_it(
    http: httpx.Client, tenant: Tenant
) -> None:
    agent = make_agent(http, tenant)
    refused = http.post(
        ENDPOINT,
        json={"agent": agent["id"], "metadata": {"plan": {"nested": "not a value"}}},
        headers={"x-api-key": tenant.api_key},
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "missing_variables"
    assert body["errors"][0]["field"] == "metadata"
    assert "{{customer_name}}" in body["errors"][0]["message"]
    assert "{{plan}}" in body["errors"][0]["message"]
    # an override prompt is filled the same way
    override = http.post(
        ENDPOINT,
        json={"agent": agent["id"], "system_prompt": "Greet {{who}}.", "metadata": {"who": "Cy"}},
        headers={"x-api-key": tenant.api_key},
    )
    assert override.status_code == 200, override.text


def test_agents_refuse_unknown_system_variables_and_time_zones(
    http: httpx.Client, tenant: Tenant
) -> None:
    key = {"x-api-key": tenant.api_key}
    typo = http.post(
        "/api/agents", json={"name": "x", "system_prompt": "It is {{system.today}}."}, headers=key
    )
    assert typo.status_code == 422 and "system.today" in typo.text
    zone = http.post("/api/agents", json={"name": "x", "timezone": "Mars/Olympus"}, headers=key)
    assert zone.status_code == 422 and zone.json()["errors"][0]["field"] == "timezone"
    bad_name = http.post(
        "/api/agents", json={"name": "x", "variable_defaults": {"1st": "a"}}, headers=key
    )
    assert bad_name.status_code == 422
    agent = make_agent(http, tenant, variable_defaults={"customer_name": "friend", "plan": "basic"})
    changed = http.patch(
        f"/api/agents/{agent['id']}", json={"timezone": "Europe/Madrid"}, headers=key
    )
    assert changed.json()["timezone"] == "Europe/Madrid"
    assert changed.json()["variable_defaults"] == {"customer_name": "friend", "plan": "basic"}
