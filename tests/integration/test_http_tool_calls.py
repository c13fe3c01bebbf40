"""HTTP tools called against a real HTTP server on loopback (``vocable.http_tools.executor``):
what is sent (query or JSON body, headers) and what the LLM reads back for each kind of
answer (JSON, text, 4xx/5xx, too slow, too large, a redirect), arguments refused before
any request, and URLs the outbound guard refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.http_tool_server import HttpToolServer, running_http_tool_server
from tests.support.net import free_port

from vocable.contracts.sessions import WorkerHttpTool
from vocable.http_tools.executor import call_http_tool
from vocable.outbound import OutboundPolicy

PARAMETERS = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "count": {"type": "integer"},
        "gift": {"type": "boolean"},
        "size": {"type": "string", "enum": ["S", "M"]},
    },
    "required": ["order_id"],
}


@pytest.fixture(scope="module")
def server() -> Iterator[HttpToolServer]:
    with running_http_tool_server(free_port()) as s:
        yield s


@pytest.fixture(scope="module")
def policy(server: HttpToolServer) -> OutboundPolicy:
    return OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))


def tool(url: str, **fields: Any) -> WorkerHttpTool:
    values: dict[str, Any] = {
        "id": "tool_1",
        "name": "get_order",
        "description": "Look up an order",
        "method": "GET",
        "url": url,
        "headers": {},
        "parameters": PARAMETERS,
        "timeout_seconds": 2,
        **fields,
    }
    return WorkerHttpTool.model_validate(values)


async def test_get_sends_the_arguments_as_query_parameters_and_gets_the_json(
    server: HttpToolServer, policy: OutboundPolicy
) -> None:
    t = tool(f"{server.base}/orders?shop=north%2Feast", headers={"Authorization": "Bearer t0k"})
    result = await call_http_tool(t, {"order_id": "4417", "count": 2, "gift": True}, policy)
    assert result.status == "ok" and result.http_status == 200
    assert result.text == (
        '{"order":{"shop":"north/east","order_id":"4417","count":"2","gift":"true"},'
        '"status":"out for delivery","arrives":"Thursday"}'
    )
    seen = server.last()
    assert seen["method"] == "GET" and seen["json"] is None
    assert seen["headers"]["authorization"] == "Bearer t0k"  # a filled {{variable}}, say
    assert seen["headers"]["user-agent"] == "Vocable-Outbound/1"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_other_methods_send_a_json_body(
    server: HttpToolServer, policy: OutboundPolicy, method: str
) -> None:
    t = tool(f"{server.base}/orders/4417", method=method, headers={"X-Shop": "north"})
    result = await call_http_tool(t, {"order_id": "4417", "size": "M", "count": None}, policy)
    assert result.ok, result.text
    seen = server.last()
    assert seen["method"] == method and seen["query"] == {}
    assert seen["json"] == {"order_id": "4417", "size": "M"}  # a null optional is left out
    assert seen["headers"]["x-shop"] == "north"
    assert seen["headers"]["content-type"] == "application/json"
    assert '"size":"M"' in result.text


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({}, "order_id is required"),
        ({"order_id": 4417}, "order_id must be a string"),
        ({"order_id": "1", "count": "two"}, "count must be a integer"),
        ({"order_id": "1", "count": True}, "count must be a integer"),
        ({"order_id": "1", "size": "XL"}, "size must be one of ['S', 'M']"),
        ({"order_id": "1", "drop_table": "x"}, "drop_table is not a parameter"),
        (["4417"], "must be a JSON object"),
    ],
)
async def test_arguments_failing_the_schema_come_back_as_an_error_without_a_request(
    server: HttpToolServer, policy: OutboundPolicy, arguments: Any, problem: str
) -> None:
    before = len(server.requests)
    result = await call_http_tool(tool(f"{server.base}/orders"), arguments, policy)
    assert result.status == "invalid_arguments"
    assert problem in result.text and result.text.startswith("Error: invalid arguments")
    assert len(server.requests) == before


async def test_a_slow_endpoint_times_out_with_the_tools_timeout(
    server: HttpToolServer, policy: OutboundPolicy
) -> None:
    result = await call_http_tool(
        tool(f"{server.base}/slow", timeout_seconds=1), {"order_id": "1"}, policy
    )
    assert result.status == "timeout"
    assert result.text == "Error: get_order did not answer within 1 seconds."


@pytest.mark.parametrize(
    ("path", "status", "expected"),
    [
        ("/missing", 404, 'answered HTTP 404 (Not Found). Its answer: {"error":"order not found"}'),
        ("/boom", 500, "answered HTTP 500 (Internal Server Error). Its answer: database down"),
    ],
)
async def test_4xx_and_5xx_are_error_results_naming_the_status(
    server: HttpToolServer, policy: OutboundPolicy, path: str, status: int, expected: str
) -> None:
    result = await call_http_tool(tool(server.base + path), {"order_id": "1"}, policy)
    assert result.status == "http_error" and result.http_status == status
    assert result.text == f"Error: get_order {expected}"


@pytest.mark.parametrize("path", ["/big", "/big-declared"])
async def test_an_oversized_body_is_an_error_result(
    server: HttpToolServer, policy: OutboundPolicy, path: str
) -> None:
    result = await call_http_tool(tool(server.base + path), {"order_id": "1"}, policy)
    assert result.status == "too_large"
    assert result.text == "Error: the answer of get_order was larger than 256 KB and was not read."
    small = await call_http_tool(
        tool(server.base + path), {"order_id": "1"}, policy, max_bytes=400_000
    )
    assert small.ok and len(small.text) == 4000 and small.text.endswith("…")  # cut for the LLM


async def test_non_json_bodies_are_given_as_text_cut_short(
    server: HttpToolServer, policy: OutboundPolicy
) -> None:
    text = await call_http_tool(tool(f"{server.base}/text"), {"order_id": "1"}, policy)
    assert text.ok and text.text == "Open, café closed"
    html = await call_http_tool(
        tool(f"{server.base}/html"), {"order_id": "1"}, policy, max_chars=100
    )
    assert html.ok and html.text.startswith("<html><body>aaa") and len(html.text) == 100
    empty = await call_http_tool(tool(f"{server.base}/empty"), {"order_id": "1"}, policy)
    assert empty.ok and empty.text == "Done: get_order answered HTTP 204 with no content."


async def test_a_redirect_is_not_followed(server: HttpToolServer, policy: OutboundPolicy) -> None:
    before = len(server.requests)
    result = await call_http_tool(
        tool(f"{server.base}/redirect", headers={"Authorization": "x"}), {"order_id": "1"}, policy
    )
    assert result.status == "http_error" and result.http_status == 302
    assert "redirect" in result.text
    assert len(server.requests) == before + 1  # /orders was never asked


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{other}/orders", "private_address"),  # loopback, another port
        ("http://10.0.0.1/orders", "private_address"),
        ("http://169.254.169.254/latest/meta-data", "private_address"),
        ("http://localhost:{port}/orders", "host_not_allowed"),
    ],
)
async def test_a_url_the_outbound_guard_refuses_is_an_error_result(
    server: HttpToolServer, policy: OutboundPolicy, url: str, reason: str
) -> None:
    before = len(server.requests)
    url = url.format(other=free_port(), port=server.port)
    result = await call_http_tool(tool(url), {"order_id": "1"}, policy)
    assert result.status == "refused"
    assert result.text == f"Error: get_order could not be reached ({reason})."
    assert len(server.requests) == before
