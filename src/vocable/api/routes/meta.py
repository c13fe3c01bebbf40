"""Health, engine catalogue and the dashboard placeholder."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from vocable.api.deps import DbDep
from vocable.providers import catalog

router = APIRouter(tags=["meta"])

_DASHBOARD_PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vocable</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>Vocable</h1>
<p>The API is running. The dashboard is not built yet; use the CLI
(<code>vocable keys create</code>, <code>vocable agents create</code>) or the
<a href="/docs">API reference</a>.</p>
</body></html>"""


@router.get("/healthz")
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
        for kind in ("stt", "llm", "tts")
    }


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> str:
    return _DASHBOARD_PLACEHOLDER
