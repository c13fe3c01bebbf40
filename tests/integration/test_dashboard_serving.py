"""The API serves the built dashboard: its assets, and its shell for every app route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.servers import ApiServer, make_platform, make_settings, running_api


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("site")
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Vocable dashboard shell</title>")
    (dist / "assets" / "app-1234.js").write_text("console.log('dashboard')")
    settings = make_settings(root / "data", dashboard_dir=dist)
    with running_api(make_platform(settings)) as server:
        yield server


def test_app_routes_get_the_dashboard_shell(served: ApiServer) -> None:
    with httpx.Client(base_url=served.url) as http:
        for path in ("/", "/agents", "/agents/agt_123", "/settings?tab=developer", "/login"):
            resp = http.get(path)
            assert resp.status_code == 200, path
            assert "Vocable dashboard shell" in resp.text
        asset = http.get("/assets/app-1234.js")
        assert asset.status_code == 200 and "dashboard" in asset.text


def test_unknown_api_paths_stay_json_404s(served: ApiServer) -> None:
    with httpx.Client(base_url=served.url) as http:
        for path in ("/api/nope", "/internal/nope", "/assets/missing.js"):
            resp = http.get(path)
            assert resp.status_code == 404, path
            assert resp.headers["content-type"].startswith("application/json")
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/openapi.json").status_code == 200


def test_a_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", dashboard_dir=tmp_path / "nothing")
    with running_api(make_platform(settings)) as server, httpx.Client(base_url=server.url) as http:
        resp = http.get("/agents")
        assert resp.status_code == 200 and "npm run build" in resp.text
