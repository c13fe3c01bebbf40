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
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>Vocable</h1>
<p>The API is running, but the dashboard is not built. Run <code>make up</code> (or
<code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>), or use the CLI and the
<a href="/docs">API reference</a>.</p>
</body></html>"""

# Paths that belong to the API, never to the single-page app's fallback
_API_PREFIXES = ("api/", "internal/", "docs", "redoc", "openapi.json", "healthz", "assets/")


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

    def page(path: str = "") -> Response:
        if path.startswith(_API_PREFIXES):
            raise ApiError(404, "not_found", "Not Found")
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT)
        # the shell is tiny and names hashed assets: never cache it, so an upgrade shows
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/{path:path}", page, methods=["GET"], include_in_schema=False)
