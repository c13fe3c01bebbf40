"""Client for the API's internal worker channel."""

from __future__ import annotations

from typing import Any

import httpx

from vocable.api.schemas import WorkerSessionConfig


class WorkerChannel:
    """Fetches a session's effective configuration and reports the call back."""

    def __init__(self, *, api_url: str, worker_token: str, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {worker_token}"},
            timeout=timeout,
        )

    async def session_config(self, session_id: str) -> WorkerSessionConfig:
        resp = await self._client.get(f"/internal/sessions/{session_id}")
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

    async def report_turn(
        self, session_id: str, *, seq: int, role: str, text: str, metrics: dict[str, Any]
    ) -> None:
        body = {"seq": seq, "role": role, "text": text, "metrics": metrics}
        resp = await self._client.post(f"/internal/sessions/{session_id}/turns", json=body)
        resp.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()
