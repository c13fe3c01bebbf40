"""HTTP tools of an agent over the real API: saving, validation (422 naming the field),
write-only headers, organisation scoping, audit, and what the worker receives
(``{{variables}}`` filled from the session, a session refused when one has no value)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.integration.test_dashboard_api import sign_in
from tests.support.http_tool_server import running_http_tool_server
from tests.support.net import free_port
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.contracts.sessions import WorkerSessionConfig
from vocable.worker.tools import load_call_tools

PARAMETERS = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "description": "The order number"},
        "size": {"type": "string", "enum": ["S", "M", "L"]},
    },
    "required": ["order_id"],
}


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def tools_api(
    request: pytest.FixtureRequest,
    backend: str,
    port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        database_url_for(request, backend, "t_" + secrets.token_hex(6)),
        outbound_allow_hosts=[f"127.0.0.1:{port}"],  # loopback is private: one port allowed
        max_concurrent_sessions_per_org=1000,
        key_rate_limit_per_minute=1000,
        http_tools_max_per_agent=3,
    )
    with running_api(make_platform(settings)) as server:
        yield server


@pytest.fixture
def owner(tools_api: ApiServer) -> Tenant:
    return make_tenant(tools_api.platform)


@pytest.fixture
def client(tools_api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tools_api.url, timeout=30) as c:
        yield c


def _base(tenant: Tenant) -> str:
    return f"/api/agents/{tenant.agent_id}/tools"


def _key(tenant: Tenant) -> dict[str, str]:
    return {"x-api-key": tenant.api_key}


def _tool(port: int, **fields: Any) -> dict[str, Any]:
    return {
        "name": "get_order",
        "description": "Look up an order's delivery status by its number.",
        "url": f"http://127.0.0.1:{port}/orders",
        "parameters": PARAMETERS,
        **fields,
    }


def add_tool(client: httpx.Client, tenant: Tenant, port: int, **fields: Any) -> dict[str, Any]:
    resp = client.post(_base(tenant), json=_tool(port, **fields), headers=_key(tenant))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_tool_is_saved_with_defaults_and_header_values_are_never_returned(
    client: httpx.Client, owner: Tenant, port: int
) -> None:
    created = add_tool(
        client, owner, port, headers={"Authorization": "Bearer s3cret-{{shop}}", "X-A": "1"}
    )
    assert created["method"] == "GET" and created["timeout_seconds"] == 10
    assert created["enabled"] is True
    assert created["headers"] == {"Authorization": "••••", "X-A": "••••"}
    assert created["variables"] == ["shop"]
    assert created["parameters"] == {**PARAMETERS, "additionalProperties": False}
    listed = client.get(_base(owner), headers=_key(owner)).json()
    one = client.get(f"{_base(owner)}/{created['id']}", headers=_key(owner)).json()
    for body in (listed, one, created):
        assert "s3cret" not in str(body)
    assert [t["id"] for t in listed] == [created["id"]]
    assert one == created


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "Get-Order"}, "name"),
        ({"name": "1order"}, "name"),
        ({"name": "end_call"}, "name"),
        ({"name": "transfer_to_human"}, "name"),
        ({"description": ""}, "description"),
        ({"description": "x" * 1001}, "description"),
        ({"description": "Today is {{system.day}}"}, "description"),
        ({"method": "TRACE"}, "method"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://{{host}}/orders"}, "url"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 31}, "timeout_seconds"),
        ({"parameters": {"type": "array"}}, "parameters"),
        ({"parameters": {"type": "object", "properties": {"a": {"type": "object"}}}}, "parameters"),
        ({"parameters": {"type": "object", "properties": {}, "required": ["a"]}}, "parameters"),
        (
            {
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer", "enum": ["x"]}},
                }
            },
            "parameters",
        ),
        ({"parameters": {"type": "object", "$ref": "#/x"}}, "parameters"),
        ({"headers": {"X-Bad": "a\r\nb"}}, "headers"),
        ({"headers": {"Bad Name": "a"}}, "headers"),
        ({"enabled": "maybe"}, "enabled"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_fields_are_a_422_naming_the_field(
    client: httpx.Client, owner: Tenant, port: int, fields: dict[str, Any], field: str
) -> None:
    resp = client.post(_base(owner), json=_tool(port, **fields), headers=_key(owner))
    assert resp.status_code == 422, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == [field], resp.text


def test_a_missing_description_is_a_422(client: httpx.Client, owner: Tenant, port: int) -> None:
    body = _tool(port)
    del body["description"]
    resp = client.post(_base(owner), json=body, headers=_key(owner))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "description"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.1.2.3/orders", "private_address"),
        ("http://169.254.169.254/latest/{{shop}}", "private_address"),
        ("http://localhost/orders", "host_not_allowed"),
        ("http://127.0.0.1:1/orders", "private_address"),
    ],
)
def test_a_url_the_outbound_rules_refuse_is_a_422_naming_url(
    client: httpx.Client, owner: Tenant, port: int, url: str, reason: str
) -> None:
    resp = client.post(_base(owner), json=_tool(port, url=url), headers=_key(owner))
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == reason
    assert resp.json()["errors"][0]["field"] == "url"


def test_names_are_unique_per_agent_and_the_count_is_limited(
    client: httpx.Client, tools_api: ApiServer, owner: Tenant, port: int
) -> None:
    first = add_tool(client, owner, port)
    again = client.post(_base(owner), json=_tool(port), headers=_key(owner))
    assert again.status_code == 409
    assert again.json()["code"] == "http_tool_name_taken"
    assert again.json()["errors"][0]["field"] == "name"
    second = add_tool(client, owner, port, name="check_stock")
    rename = client.patch(
        f"{_base(owner)}/{second['id']}", json={"name": "get_order"}, headers=_key(owner)
    )
    assert rename.status_code == 409
    # another agent may use the same name
    other = make_tenant(tools_api.platform)
    add_tool(client, other, port)
    add_tool(client, owner, port, name="third")
    full = client.post(_base(owner), json=_tool(port, name="fourth"), headers=_key(owner))
    assert full.status_code == 409 and full.json()["code"] == "too_many_http_tools"
    assert first["id"] != second["id"]


def test_another_organisation_sees_nothing(
    client: httpx.Client, tools_api: ApiServer, owner: Tenant, port: int
) -> None:
    created = add_tool(client, owner, port)
    other = make_tenant(tools_api.platform)
    path = f"{_base(owner)}/{created['id']}"
    assert client.get(_base(owner), headers=_key(other)).status_code == 404
    assert client.post(_base(owner), json=_tool(port), headers=_key(other)).status_code == 404
    assert client.get(path, headers=_key(other)).status_code == 404
    assert client.patch(path, json={"enabled": False}, headers=_key(other)).status_code == 404
    assert client.delete(path, headers=_key(other)).status_code == 404
    # nor through the other organisation's own agent
    assert client.get(f"{_base(other)}/{created['id']}", headers=_key(other)).status_code == 404
    assert client.get(path, headers=_key(owner)).status_code == 200


def test_update_changes_only_what_is_given_and_delete_removes(
    client: httpx.Client, owner: Tenant, port: int
) -> None:
    created = add_tool(client, owner, port, headers={"X-Key": "k"})
    path = f"{_base(owner)}/{created['id']}"
    patched = client.patch(
        path,
        json={"timeout_seconds": 5, "method": "POST", "url": created["url"] + "/{{shop}}"},
        headers=_key(owner),
    ).json()
    assert patched["timeout_seconds"] == 5 and patched["method"] == "POST"
    assert patched["headers"] == {"X-Key": "••••"} and patched["name"] == "get_order"
    assert patched["variables"] == ["shop"] and patched["parameters"] == created["parameters"]
    cleared = client.patch(path, json={"headers": {}}, headers=_key(owner)).json()
    assert cleared["headers"] == {}
    refused = client.patch(path, json={"url": "http://192.168.1.1/"}, headers=_key(owner))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
    bad = client.patch(path, json={"parameters": {"type": "string"}}, headers=_key(owner))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "parameters"
    assert client.delete(path, headers=_key(owner)).status_code == 204
    assert client.get(path, headers=_key(owner)).status_code == 404


def test_changes_are_audited_without_header_values(
    client: httpx.Client, owner: Tenant, port: int
) -> None:
    csrf = sign_in(client, owner)
    value = "HTTPVAL-" + secrets.token_hex(8)
    created = add_tool(client, owner, port, headers={"Authorization": value})
    path = f"{_base(owner)}/{created['id']}"
    changed = {"description": "Another description", "headers": {"Authorization": value + "2"}}
    assert client.patch(path, json=changed, headers=csrf).status_code == 200
    assert client.patch(path, json=changed, headers=csrf).status_code == 200  # no change
    assert client.delete(path, headers=csrf).status_code == 204
    events = [
        e
        for e in reversed(client.get("/api/audit", params={"limit": 500}).json())
        if e["target_id"] == created["id"]
    ]
    assert [(e["action"], e["actor_kind"]) for e in events] == [
        ("http_tool.created", "api_key"),
        ("http_tool.updated", "user"),
        ("http_tool.deleted", "user"),
    ]
    assert events[1]["details"]["fields"] == ["description", "headers"]
    assert value not in client.get("/api/audit", params={"limit": 500}).text


def _session(client: httpx.Client, tenant: Tenant, **fields: Any) -> httpx.Response:
    return client.post(
        "/api/agents/agent-session/",
        json={"agent": tenant.agent_id, **fields},
        headers=_key(tenant),
    )


def test_the_worker_gets_enabled_tools_with_variables_filled_and_headers_opened(
    client: httpx.Client, tools_api: ApiServer, owner: Tenant, port: int
) -> None:
    add_tool(
        client,
        owner,
        port,
        url=f"http://127.0.0.1:{port}/shops/{{{{shop}}}}/orders?lang={{{{system.language}}}}",
        description="Orders of {{shop}}.",
        headers={"Authorization": "Bearer {{token}}", "X-Static": "yes"},
        method="POST",
    )
    add_tool(
        client, owner, port, name="off", enabled=False, url=f"http://127.0.0.1:{port}/{{{{x}}}}"
    )
    # no value for {{shop}} or {{token}}: refused like a prompt variable
    refused = _session(client, owner, metadata={"shop": "a"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "missing_variables"
    assert refused.json()["errors"][0]["field"] == "metadata"
    assert "{{token}}" in refused.json()["errors"][0]["message"]
    assert "{{x}}" not in refused.text  # a disabled tool is not checked

    resp = _session(client, owner, metadata={"shop": "north/east?", "token": "t0k"})
    assert resp.status_code == 200, resp.text
    assert "t0k" not in resp.text
    worker = {"Authorization": f"Bearer {tools_api.platform.secrets.worker_token}"}
    sid = resp.json()["data"]["session_id"]
    config = WorkerSessionConfig.model_validate(
        client.get(f"/internal/sessions/{sid}", headers=worker).json()
    )
    (tool,) = config.http_tools
    assert tool.name == "get_order" and tool.method == "POST" and tool.timeout_seconds == 10
    # values are data in the URL: encoded, never new path segments or parameters
    assert tool.url == f"http://127.0.0.1:{port}/shops/north%2Feast%3F/orders?lang=en"
    assert tool.description == "Orders of north/east?."
    assert tool.headers == {"Authorization": "Bearer t0k", "X-Static": "yes"}
    assert tool.parameters["required"] == ["order_id"]


class _FakeSession:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str, *, add_to_chat_ctx: bool = True) -> None:
        self.said.append(text)


async def test_call_tools_expose_http_tools_guarded_and_recorded_for_the_call_record(
    client: httpx.Client, tools_api: ApiServer, owner: Tenant, port: int
) -> None:
    add_tool(
        client,
        owner,
        port,
        url=f"http://127.0.0.1:{port}/orders?shop={{{{shop}}}}",
        headers={"Authorization": "Bearer {{token}}"},
    )
    add_tool(client, owner, port, name="missing", url=f"http://127.0.0.1:{port}/missing")
    add_tool(
        client, owner, port, name="slow", url=f"http://127.0.0.1:{port}/slow", timeout_seconds=1
    )
    resp = _session(client, owner, metadata={"shop": "north", "token": "SECRET-t0k"})
    assert resp.status_code == 200, resp.text
    worker = {"Authorization": f"Bearer {tools_api.platform.secrets.worker_token}"}
    config = WorkerSessionConfig.model_validate(
        client.get(f"/internal/sessions/{resp.json()['data']['session_id']}", headers=worker).json()
    )
    settings = tools_api.platform.settings.model_copy(update={"mcp_filler_after_seconds": 0.5})
    with running_http_tool_server(port) as server:
        tools = await load_call_tools(config, settings=settings)
        by_name = {t.info.name: t for t in tools.tools}  # type: ignore[union-attr]
        assert list(by_name) == ["get_order", "missing", "slow"]
        assert by_name["get_order"].info.raw_schema["parameters"]["required"] == ["order_id"]
        session = _FakeSession()
        context = SimpleNamespace(speech_handle=SimpleNamespace(id="speech_1"), session=session)
        answer = await by_name["get_order"](raw_arguments={"order_id": "4417"}, context=context)
        assert answer == (
            '{"order":{"shop":"north","order_id":"4417"},'
            '"status":"out for delivery","arrives":"Thursday"}'
        )
        assert server.last()["headers"]["authorization"] == "Bearer SECRET-t0k"
        again = await by_name["get_order"](raw_arguments={"order_id": "4417"}, context=context)
        assert again.startswith("Refused: get_order was already called")
        bad = await by_name["get_order"](raw_arguments={"order": "1"}, context=context)
        assert "order_id is required" in bad
        context = SimpleNamespace(speech_handle=SimpleNamespace(id="speech_2"), session=session)
        missing = await by_name["missing"](raw_arguments={"order_id": "1"}, context=context)
        assert missing.startswith("Error: missing answered HTTP 404 (Not Found).")
        slow = await by_name["slow"](raw_arguments={"order_id": "1"}, context=context)
        assert slow == "Error: slow did not answer within 1 seconds."
        assert session.said == ["One moment, let me check."]
        await tools.aclose()
    usage = tools.usage()
    assert usage["http_tools"] == ["get_order", "missing", "slow"]
    calls = usage["calls"]
    assert [(c["server"], c["tool"], c["status"]) for c in calls] == [
        ("http", "get_order", "ok"),
        ("http", "get_order", "repeated"),
        ("http", "get_order", "invalid_arguments"),
        ("http", "missing", "http_error"),
        ("http", "slow", "timeout"),
    ]
    assert calls[0]["arguments"] == '{"order_id": "4417"}'
    assert "out for delivery" in calls[0]["result"] and calls[4]["filler"] is True
    assert 900 <= calls[4]["ms"] < 2500
    assert "SECRET" not in str(usage)
