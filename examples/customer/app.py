"""A customer's own backend: it holds the Vocable API key and hands browsers a join grant.

This is the pattern from the public guide. The browser calls *this* server's session
route; this server calls Vocable with ``x-api-key`` and returns only ``token`` and
``livekit_url`` (plus the room name). The key never leaves this process.

Run it against ``make up`` (see README.md next to this file)::

    VOCABLE_API_KEY=sk_... VOCABLE_AGENT_ID=agt_... \\
        .venv/bin/python -m uvicorn examples.customer.app:app --port 3000
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

PAGE_DIST = Path(__file__).parent / "page" / "dist"


class Config:
    """Read once at start: where Vocable is, the key, and the agent this site talks to."""

    def __init__(self) -> None:
        self.vocable_url = os.environ.get("VOCABLE_API_URL", "http://127.0.0.1:8000").rstrip("/")
        self.api_key = os.environ.get("VOCABLE_API_KEY", "")
        self.agent_id = os.environ.get("VOCABLE_AGENT_ID", "")
        if not self.api_key.startswith("sk_"):
            raise SystemExit("set VOCABLE_API_KEY to an API key from the dashboard (sk_...)")


class SessionBody(BaseModel):
    """What our own page may ask for. Prompt overrides stay on the server side."""

    model_config = ConfigDict(extra="ignore")
    agent: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=35)


config = Config()
app = FastAPI(title="Example customer backend")


@app.get("/api/voice-agent/config")
def page_config() -> dict[str, str]:
    """The Agent ID is not a secret: the page may show it and send it back."""
    return {"agent": config.agent_id}


@app.post("/api/voice-agent/session")
async def create_session(body: SessionBody) -> dict[str, Any]:
    request: dict[str, Any] = {"agent": body.agent or config.agent_id}
    if body.language:
        request["language"] = body.language
    async with httpx.AsyncClient(timeout=15) as http:
        resp = await http.post(
            f"{config.vocable_url}/api/agents/agent-session/",
            json=request,
            headers={"x-api-key": config.api_key},
        )
    payload = resp.json()
    if resp.status_code != 200 or not payload.get("success"):
        # pass Vocable's human message on, never our key or headers
        raise HTTPException(resp.status_code, payload.get("message", "session failed"))
    data = payload["data"]
    # only what a browser needs to join
    return {"data": {k: data[k] for k in ("token", "livekit_url", "room_name")}}


@app.get("/")
def index() -> FileResponse:
    return FileResponse(PAGE_DIST / "index.html")


@app.get("/guide")
def guide() -> FileResponse:
    return FileResponse(PAGE_DIST / "guide.html")


if (PAGE_DIST / "assets").is_dir():
    app.mount("/assets", StaticFiles(directory=PAGE_DIST / "assets"), name="assets")
