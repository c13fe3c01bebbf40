"""A customer's own backend: it holds the Vocable API key and hands browsers a join grant.

This is the pattern from the public guide. The browser calls *this* server's session
route; this server calls Vocable with ``x-api-key`` and returns only ``token`` and
``livekit_url`` (plus the room name). The key never leaves this process.

Run it against ``make up`` (see README.md next to this file)::

    VOCABLE_API_KEY=sk_... VOCABLE_AGENT_ID=agt_... \\
        .venv/bin/python -m uvicorn examples.customer.app:app --port 3000
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
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
        # sessions one visitor (one address) may start per minute
        self.visitor_limit = int(os.environ.get("VISITOR_SESSIONS_PER_MINUTE", "3"))


class VisitorLimit:
    """At most ``limit`` sessions per visitor address in any 60 s.

    This route is public: without a limit per visitor, anyone could request sessions in a
    loop and use up the organisation's calls (each unjoined session holds one of its
    concurrent-call slots for the join window). In memory, for one process; behind a proxy
    key it by the client address the proxy reports, and with several processes keep the
    counts in Redis or your framework's limiter.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait_for(self, visitor: str) -> int:
        """0 if ``visitor`` may start a session now (and count it), else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            times = self._seen[visitor]
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return max(1, math.ceil(times[0] + self.window - now))
            times.append(now)
            return 0


class SessionBody(BaseModel):
    """What our own page may ask for. Prompt overrides stay on the server side."""

    model_config = ConfigDict(extra="ignore")
    agent: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=35)


config = Config()
visitors = VisitorLimit(config.visitor_limit)
app = FastAPI(title="Example customer backend")


@app.get("/api/voice-agent/config")
def page_config() -> dict[str, str]:
    """The Agent ID is not a secret: the page may show it and send it back."""
    return {"agent": config.agent_id}


@app.post("/api/voice-agent/session")
async def create_session(body: SessionBody, http_request: Request) -> dict[str, Any]:
    wait = visitors.wait_for(http_request.client.host if http_request.client else "unknown")
    if wait:
        raise HTTPException(
            429, "Too many calls started from here; try again shortly", {"Retry-After": str(wait)}
        )
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
