"""Every response carries the security headers; the API reference loads nothing remote."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.support.servers import ApiServer

PATHS = ["/", "/agents", "/docs", "/openapi.json", "/api/engines", "/api/nope", "/healthz"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(
    http: httpx.Client, api: ApiServer, path: str
) -> None:
    response = http.get(path)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    directives = [part.partition(" ") for part in headers["content-security-policy"].split("; ")]
    policy = {name: value for name, _, value in directives}
    assert policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["object-src"] == "'none'"
    # the try-it call connects to the LiveKit server handed to browsers, nothing else
    livekit = api.platform.settings.resolved_livekit_public_url.split("://", 1)[1]
    assert policy["connect-src"] == f"'self' ws://{livekit} http://{livekit}"


def test_the_api_reference_is_served_from_this_server(http: httpx.Client) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs-assets/") for s in sources), sources
    for source in sources:
        asset = http.get(source)
        assert asset.status_code == 200 and len(asset.content) > 100, source
    assert "SwaggerUIBundle" in http.get("/docs-assets/swagger-ui-bundle.js").text
