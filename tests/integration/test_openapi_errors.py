"""The OpenAPI document the API serves declares every operation's error responses with the
error envelope, so generated clients and the reference show them (``vocable.api.openapi``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

SESSION = "/api/agents/agent-session/"
ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
UNAUTHENTICATED = {
    ("GET", "/api/engines"),
    ("GET", "/healthz"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/auth/options"),
    ("POST", "/api/auth/password-reset"),
    ("POST", "/api/auth/password-reset/confirm"),
    ("POST", "/api/invites/lookup"),
    ("POST", "/api/invites/accept"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    with running_api(make_platform(make_settings(data_dir))) as api:
        yield api


@pytest.fixture(scope="module")
def document(server: ApiServer) -> dict[str, Any]:
    resp = httpx.get(server.url + "/openapi.json", timeout=30)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def schema_of(response: dict[str, Any]) -> Any:
    return response.get("content", {}).get("application/json", {}).get("schema")


def test_the_session_endpoint_declares_its_errors_with_the_envelope(
    document: dict[str, Any],
) -> None:
    responses = document["paths"][SESSION]["post"]["responses"]
    for status in ("401", "403", "404", "422", "429", "503"):
        assert schema_of(responses[status]) == ENVELOPE, status
        assert responses[status]["description"]
    for status in ("429", "503"):
        assert responses[status]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "Retry-After" not in responses["401"].get("headers", {})


def test_the_envelope_schema_is_what_errors_carry(
    document: dict[str, Any], server: ApiServer
) -> None:
    schema = document["components"]["schemas"]["ErrorEnvelope"]
    assert set(schema["required"]) == {"success", "message", "code", "errors"}
    assert schema["properties"]["success"]["const"] is False
    refused = httpx.post(server.url + SESSION, json={"agent": "agt_x"}, timeout=30)
    assert refused.status_code == 401
    assert set(refused.json()) == set(schema["required"])
    assert refused.json()["success"] is False


def test_every_operation_declares_its_errors_with_the_envelope(
    document: dict[str, Any],
) -> None:
    seen = 0
    for method, path, operation in operations(document):
        responses = operation["responses"]
        errors = {s: r for s, r in responses.items() if int(s) >= 400}
        for status, response in errors.items():
            assert schema_of(response) == ENVELOPE, f"{method} {path} {status}"
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "404" in errors, f"{method} {path}"
        if (method, path) not in UNAUTHENTICATED:
            assert "401" in errors and "503" in errors, f"{method} {path}"
        seen += 1
    assert seen >= 45
    # FastAPI's own 422 body ({"detail": [...]}) is never sent: it is not declared either
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_limits_and_conflicts_are_declared_where_they_happen(
    document: dict[str, Any],
) -> None:
    paths = document["paths"]
    assert "409" in paths["/api/keys/{key_id}/rotate"]["post"]["responses"]
    assert "409" in paths["/api/webhooks"]["post"]["responses"]
    upload = paths["/api/agents/{agent_id}/knowledge"]["post"]["responses"]
    assert {"409", "411", "413", "415"} <= set(upload)
    assert (
        "502" in paths["/api/agents/{agent_id}/mcp-servers/{server_id}/test"]["post"]["responses"]
    )
    # a CSRF refusal only happens on writes: a read answers 403 only for a role below it
    assert "403" in paths["/api/audit"]["get"]["responses"]
    assert "403" in paths["/api/auth/logout"]["post"]["responses"]
