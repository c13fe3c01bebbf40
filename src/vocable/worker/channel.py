"""Client for the API's internal worker channel."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from vocable.api.schemas import WorkerSessionConfig

log = logging.getLogger("vocable.worker.channel")


class SessionClosedError(Exception):
    """The session has ended or its join window passed: the worker must not run a call."""


class WorkerChannel:
    """Fetches a session's effective configuration and reports the call back."""

    def __init__(self, *, api_url: str, worker_token: str, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {worker_token}"},
            timeout=timeout,
        )

    @property
    def http(self) -> httpx.AsyncClient:
        """The authenticated client, for worker-channel calls made by other modules."""
        return self._client

    async def session_config(self, session_id: str) -> WorkerSessionConfig:
        resp = await self._client.get(f"/internal/sessions/{session_id}")
        if resp.status_code == 409:
            raise SessionClosedError(session_id)
        resp.raise_for_status()
        return WorkerSessionConfig.model_validate(resp.json())

    async def report_event(
        self,
        session_id: str,
        kind: str,
        *,
        reason: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        body = {"type": kind, "reason": reason, "usage": usage}
        resp = await self._client.post(f"/internal/sessions/{session_id}/events", json=body)
        resp.raise_for_status()

    async def report_ended(
        self, session_id: str, *, reason: str, usage: dict[str, Any], attempts: int = 5
    ) -> None:
        """Report the end of a call, retrying: an open call record is worse than a late one."""
        for attempt in range(attempts):
            try:
                await self.report_event(session_id, "ended", reason=reason, usage=usage)
                return
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code < 500:
                    log.error("the API refused the end of a call (%s)", exc.response.status_code)
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
        log.error("could not report the end of a call", extra={"session_id": session_id})

    async def report_turn(
        self, session_id: str, *, seq: int, role: str, text: str, metrics: dict[str, Any]
    ) -> None:
        body = {"seq": seq, "role": role, "text": text, "metrics": metrics}
        resp = await self._client.post(
            f"/internal/sessions/{session_id}/turns", json=body, timeout=3.0
        )
        resp.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()
