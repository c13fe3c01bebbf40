"""Health, the engine catalogue, and the dashboard (a single-page app served at ``/``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from vocable.api.deps import DbDep
from vocable.api.errors import ApiError
from vocable.api.openapi import error_responses
from vocable.contracts import catalog

router = APIRouter(tags=["meta"])

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vocable</title></head>
<body>
<h1>Vocable</h1>
<p>The API is running, but the dashboard is not built. Run <code>make up</code> (or
<code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>), or use the CLI and the
<a href="/docs">API reference</a>.</p>
</body></html>"""

# Paths that belong to the API, never to the single-page app's fallback
_API_PREFIXES = ("api/", "internal/", "docs", "redoc", "openapi.json", "healthz", "assets/")

_API_REFERENCE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vocable API reference</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/docs-assets/init.js"></script>
</body></html>"""

_REFERENCE_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vocable API reference</title></head>
<body>
<h1>Vocable API reference</h1>
<p>The browsable reference is built with the dashboard (<code>make up</code>). The OpenAPI
document itself is at <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>"""


@router.get("/healthz", responses=error_responses(503))
def health(db: DbDep) -> dict[str, str]:
    db.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/api/engines")
def engines() -> dict[str, list[dict[str, object]]]:
    return {
        kind: [
            {"name": e.name, "description": e.description, "offline": e.offline}
            for e in catalog.ENGINES
            if e.kind == kind
        ]
        for kind in catalog.ENGINE_KINDS
    }


def mount_dashboard(app: FastAPI, dist: Path) -> None:
    """Serve the built dashboard: hashed assets, and ``index.html`` for every app route.

    Registered after every API router, so the fallback only sees paths no route took.
    """
    index = dist / "index.html"
    if (dist / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=dist / "assets"), name="dashboard-assets")
    reference = dist / "docs-assets"
    if reference.is_dir():
        app.mount("/docs-assets", StaticFiles(directory=reference), name="api-reference-assets")

    def api_reference() -> HTMLResponse:
        """Swagger UI served from this server: it works offline, and loads nothing else."""
        built = (reference / "swagger-ui-bundle.js").is_file()
        return HTMLResponse(_API_REFERENCE if built else _REFERENCE_NOT_BUILT)

    app.add_api_route("/docs", api_reference, methods=["GET"], include_in_schema=False)

    def page(path: str = "") -> Response:
        if path.startswith(_API_PREFIXES):
            raise ApiError(404, "not_found", "Not Found")
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT)
        # the shell is tiny and names hashed assets: never cache it, so an upgrade shows
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/{path:path}", page, methods=["GET"], include_in_schema=False)
