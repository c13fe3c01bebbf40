"""MCP servers of an agent over the real API, against real MCP servers (SDK, both transports).

Also the worker's side without an LLM: the session config carries the servers with
their headers, and the call's toolset exposes only allow-listed tools, merges the
session's headers, times a slow tool out and survives a server that is down.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.support.mcp_server import McpTestServer, running_mcp_server
from tests.support.net import free_ports
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.contracts.sessions import WorkerSessionConfig
from vocable.worker.tools import load_call_tools

TRANSPORTS = ("streamable_http", "sse")


@pytest.fixture(scope="module")
def ports() -> list[int]:
    return free_ports(3)  # streamable HTTP, SSE, and one nobody listens on


@pytest.fixture(scope="module")
def mcp_servers(
    ports: list[int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, McpTestServer]]:
    root = tmp_path_factory.mktemp("mcp")
    with (
        running_mcp_server("streamable_http", ports[0], root / "http.jsonl") as http_server,
        running_mcp_server("sse", ports[1], root / "sse.jsonl") as sse_server,
    ):
        yield {"streamable_http": http_server, "sse": sse_server}


@pytest.fixture(scope="module")
def mcp_api(
    request: pytest.FixtureRequest,
    backend: str,
    ports: list[int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        database_url_for(request, backend, "t_" + secrets.token_hex(6)),
        # loopback is private: only the test servers' ports are allowed
        outbound_allow_hosts=[f"127.0.0.1:{p}" for p in ports],
        max_concurrent_sessions_per_org=1000,
        key_rate_limit_per_minute=1000,
        # 2-core CI: the fast tool call gets 4 s before a filler (below the 5 s tool timeout)
        mcp_filler_after_seconds=4.0,
    )
    with running_api(make_platform(settings)) as server:
        yield server


@pytest.fixture
def owner(mcp_api: ApiServer) -> Tenant:
    return make_tenant(mcp_api.platform)


@pytest.fixture
def client(mcp_api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mcp_api.url, timeout=30) as c:
        yield c


def _base(tenant: Tenant) -> str:
    return f"/api/agents/{tenant.agent_id}/mcp-servers"


def _key(tenant: Tenant) -> dict[str, str]:
    return {"x-api-key": tenant.api_key}


def add_server(client: httpx.Client, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    resp = client.post(_base(tenant), json={"name": "Orders", **fields}, headers=_key(tenant))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_server_is_saved_with_defaults_and_header_values_are_never_returned(
    client: httpx.Client, owner: Tenant, mcp_servers: dict[str, McpTestServer]
) -> None:
    url = mcp_servers["streamable_http"].url
    created = add_server(client, owner, url=url, headers={"Authorization": "Bearer s3cret"})
    assert created["transport"] == "streamable_http"
    assert created["timeout_seconds"] == 12 and created["active"] is True
    assert created["allowed_tools"] == []  # nothing is exposed until named
    assert created["headers"] == {"Authorization": "••••"}
    listed = client.get(_base(owner), headers=_key(owner)).json()
    one = client.get(f"{_base(owner)}/{created['id']}", headers=_key(owner)).json()
    for body in (listed, one, created):
        assert "s3cret" not in str(body)
    assert [s["id"] for s in listed] == [created["id"]]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.1.2.3/mcp", "private_address"),
        ("http://169.254.169.254/latest", "private_address"),
        ("http://localhost:9/mcp", "host_not_allowed"),
        ("http://127.0.0.1:1/mcp", "private_address"),
    ],
)
def test_a_url_the_outbound_rules_refuse_is_a_422_naming_url(
    client: httpx.Client, owner: Tenant, url: str, reason: str
) -> None:
    resp = client.post(_base(owner), json={"name": "x", "url": url}, headers=_key(owner))
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == reason
    assert body["errors"][0]["field"] == "url"


@pytest.mark.parametrize(
    "fields",
    [
        {"timeout_seconds": 1},
        {"timeout_seconds": 31},
        {"transport": "websocket"},
        {"allowed_tools": ["bad name!"]},
        {"headers": {"X-Bad": "a\r\nb"}},
    ],
)
def test_invalid_fields_are_422(
    client: httpx.Client,
    owner: Tenant,
    mcp_servers: dict[str, McpTestServer],
    fields: dict[str, Any],
) -> None:
    body = {"name": "x", "url": mcp_servers["sse"].url, **fields}
    assert client.post(_base(owner), json=body, headers=_key(owner)).status_code == 422


def test_another_organisation_sees_nothing(
    client: httpx.Client, mcp_api: ApiServer, owner: Tenant, mcp_servers: dict[str, McpTestServer]
) -> None:
    created = add_server(client, owner, url=mcp_servers["sse"].url, transport="sse")
    other = make_tenant(mcp_api.platform)
    path = f"{_base(owner)}/{created['id']}"
    assert client.get(_base(owner), headers=_key(other)).status_code == 404
    assert client.get(path, headers=_key(other)).status_code == 404
    assert client.patch(path, json={"active": False}, headers=_key(other)).status_code == 404
    assert client.post(f"{path}/test", headers=_key(other)).status_code == 404
    assert client.delete(path, headers=_key(other)).status_code == 404
    # nor through the other organisation's own agent
    assert client.get(f"{_base(other)}/{created['id']}", headers=_key(other)).status_code == 404


def test_update_changes_only_what_is_given_and_delete_removes(
    client: httpx.Client, owner: Tenant, mcp_servers: dict[str, McpTestServer]
) -> None:
    created = add_server(
        client, owner, url=mcp_servers["sse"].url, transport="sse", headers={"X-Key": "k"}
    )
    path = f"{_base(owner)}/{created['id']}"
    patched = client.patch(
        path,
        json={"timeout_seconds": 5, "allowed_tools": ["get_order_status"]},
        headers=_key(owner),
    ).json()
    assert patched["timeout_seconds"] == 5 and patched["headers"] == {"X-Key": "••••"}
    assert patched["allowed_tools"] == ["get_order_status"] and patched["name"] == "Orders"
    everything = client.patch(path, json={"allowed_tools": None}, headers=_key(owner)).json()
    assert everything["allowed_tools"] is None
    cleared = client.patch(path, json={"headers": {}}, headers=_key(owner)).json()
    assert cleared["headers"] == {}
    refused = client.patch(path, json={"url": "http://192.168.1.1/"}, headers=_key(owner))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
    assert client.delete(path, headers=_key(owner)).status_code == 204
    assert client.get(path, headers=_key(owner)).status_code == 404


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_test_connection_lists_the_tools_and_sends_the_stored_headers(
    client: httpx.Client, owner: Tenant, mcp_servers: dict[str, McpTestServer], transport: str
) -> None:
    server = mcp_servers[transport]
    token = "tok-" + secrets.token_hex(4)
    created = add_server(
        client,
        owner,
        url=server.url,
        transport=transport,
        headers={"X-Shop-Token": token},
        allowed_tools=["get_order_status"],
    )
    resp = client.post(f"{_base(owner)}/{created['id']}/test", headers=_key(owner))
    assert resp.status_code == 200, resp.text
    tools = {t["name"]: t for t in resp.json()["tools"]}
    assert set(tools) == {"get_order_status", "check_stock", "cancel_all_orders"}
    assert "delivery status" in tools["get_order_status"]["description"]
    assert tools["get_order_status"]["allowed"] and not tools["cancel_all_orders"]["allowed"]
    assert any(h.get("x-shop-token") == token for h in server.request_headers())


def test_test_connection_to_a_server_that_is_down_is_a_502_with_the_reason(
    client: httpx.Client, owner: Tenant, ports: list[int]
) -> None:
    created = add_server(client, owner, url=f"http://127.0.0.1:{ports[2]}/mcp")
    resp = client.post(f"{_base(owner)}/{created['id']}/test", headers=_key(owner))
    assert resp.status_code == 502, resp.text
    body = resp.json()
    assert body["code"] == "mcp_unavailable"
    assert body["errors"] == [{"reason": "connection_failed"}]


def _worker_config(client: httpx.Client, api: ApiServer, owner: Tenant, **session: Any) -> Any:
    resp = client.post(
        "/api/agents/agent-session/", json={"agent": owner.agent_id, **session}, headers=_key(owner)
    )
    assert resp.status_code == 200, resp.text
    sid = resp.json()["data"]["session_id"]
    worker = {"Authorization": f"Bearer {api.platform.secrets.worker_token}"}
    return WorkerSessionConfig.model_validate(
        client.get(f"/internal/sessions/{sid}", headers=worker).json()
    )


class _FakeSession:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str, *, add_to_chat_ctx: bool = True) -> None:
        self.said.append(text)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_call_toolset_exposes_allowed_tools_merges_headers_and_guards_calls(
    client: httpx.Client,
    mcp_api: ApiServer,
    owner: Tenant,
    mcp_servers: dict[str, McpTestServer],
    ports: list[int],
    transport: str,
) -> None:
    server = mcp_servers[transport]
    add_server(
        client,
        owner,
        url=server.url,
        transport=transport,
        timeout_seconds=5,  # above mcp_filler_after_seconds: the slow tool gets its filler
        headers={"Authorization": "Bearer static", "X-Static": "1"},
        allowed_tools=["get_order_status", "check_stock"],
    )
    add_server(client, owner, name="Down", url=f"http://127.0.0.1:{ports[2]}/mcp")
    add_server(client, owner, name="Off", url=server.url, transport=transport, active=False)
    session_token = "sess-" + secrets.token_hex(4)
    config = _worker_config(
        client, mcp_api, owner, mcp_headers={"authorization": f"Bearer {session_token}"}
    )
    assert [s.name for s in config.mcp_servers] == ["Orders", "Down"]  # active ones only
    assert config.mcp_servers[0].headers["X-Static"] == "1"

    tools = await load_call_tools(config, settings=mcp_api.platform.settings)
    try:
        names = [t.info.name for t in tools.tools]  # type: ignore[union-attr]
        assert sorted(names) == ["check_stock", "get_order_status"]
        by_name = {t.info.name: t for t in tools.tools}  # type: ignore[union-attr]
        session = _FakeSession()
        context = SimpleNamespace(speech_handle=SimpleNamespace(id="speech_1"), session=session)
        status = await by_name["get_order_status"](
            raw_arguments={"order_id": "4417"}, context=context
        )
        assert status == "Order 4417 is out for delivery and arrives on Thursday."
        slow = await by_name["check_stock"](raw_arguments={"item": "teapot"}, context=context)
        assert slow.startswith("Error: check_stock did not answer within 5 seconds")
        assert session.said == ["One moment, let me check."]
    finally:
        await tools.aclose()
    assert server.tool_calls("get_order_status")[-1]["arguments"] == {"order_id": "4417"}
    auth = [h.get("authorization") for h in server.request_headers()]
    assert f"Bearer {session_token}" in auth and "Bearer static" not in auth[-3:]
    assert not server.tool_calls("cancel_all_orders")
    usage = tools.usage()
    states = {s["name"]: s for s in usage["servers"]}
    assert states["Orders"]["status"] == "connected"
    assert states["Down"] == {
        "id": config.mcp_servers[1].id,
        "name": "Down",
        "tools": [],
        "status": "unavailable",
        "reason": "connection_failed",
    }
    assert [c["status"] for c in usage["calls"]] == ["ok", "timeout"]
    assert usage["calls"][1]["filler"] is True
    assert "session" not in str(usage) and session_token not in str(usage)
