"""Client for the API's internal worker channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from vocable.contracts.sessions import WorkerSessionConfig

log = logging.getLogger(__name__)

RETRY_SECONDS = 45.0
"""How long a report waits for the API to come back (an API restart takes seconds)."""
HEARTBEAT_SECONDS = 2.0
"""How often a worker says it is alive during a call (the API's timeout is a multiple)."""
RETRY_FIRST_DELAY = 0.25
RETRY_MAX_DELAY = 4.0


class SessionClosedError(Exception):
    """The session has ended or its join window passed: the worker must not run a call."""


class SessionAnsweredError(SessionClosedError):
    """Another agent runs this call (a second dispatch for it): leave the room alone."""


class WorkerChannel:
    """Fetches a session's effective configuration and reports the call back."""

    def __init__(
        self,
        *,
        api_url: str,
        worker_token: str,
        timeout: float = 10.0,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._timeout = timeout
        self._retry_seconds = retry_seconds
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
            if resp.json().get("code") == "session_answered":
                raise SessionAnsweredError(session_id)
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
        """Report ``started`` or ``ended``, retried while the API is unreachable."""
        body = {"type": kind, "reason": reason, "usage": usage}
        resp = await self._post_retrying(f"/internal/sessions/{session_id}/events", body)
        resp.raise_for_status()

    async def report_ended(self, session_id: str, *, reason: str, usage: dict[str, Any]) -> None:
        """Report the end of a call; never raises: the call is over either way.

        If the report cannot be delivered, the API closes the record itself (LiveKit's
        webhooks and the session sweeper), with a less precise reason.
        """
        try:
            await self.report_event(session_id, "ended", reason=reason, usage=usage)
        except httpx.HTTPStatusError as exc:
            log.error("the API refused the end of a call (%s)", exc.response.status_code)
        except httpx.TransportError:
            log.error("could not report the end of a call", extra={"session_id": session_id})

    async def report_turn(
        self, session_id: str, *, seq: int, role: str, text: str, metrics: dict[str, Any]
    ) -> None:
        """Store one transcript turn, retried while the API is unreachable (``seq`` makes a
        repeated report harmless)."""
        body = {"seq": seq, "role": role, "text": text, "metrics": metrics}
        resp = await self._post_retrying(
            f"/internal/sessions/{session_id}/turns", body, timeout=3.0
        )
        resp.raise_for_status()

    async def voice_clone(self, session_id: str, engine: str, target: str) -> str | None:
        """The cached engine voice id of this session's reference voice, if one was made."""
        resp = await self._client.get(
            f"/internal/sessions/{session_id}/voice-clone",
            params={"engine": engine, "target": target},
        )
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        value = resp.json().get("provider_voice_id")
        return value if isinstance(value, str) else None

    async def save_voice_clone(
        self, session_id: str, engine: str, target: str, provider_voice_id: str
    ) -> None:
        """Remember the engine voice id made from this session's reference voice."""
        resp = await self._client.put(
            f"/internal/sessions/{session_id}/voice-clone",
            json={"engine": engine, "target": target, "provider_voice_id": provider_voice_id},
        )
        resp.raise_for_status()

    async def known_voices(self, sha256s: list[str]) -> set[str]:
        """Which of these clip hashes the API still holds a voice for."""
        resp = await self._client.post("/internal/voices/known", json={"sha256": sha256s})
        resp.raise_for_status()
        return set(resp.json().get("known", []))

    async def keep_alive(self, session_id: str, interval: float = HEARTBEAT_SECONDS) -> None:
        """Tell the API every ``interval`` seconds that this call's worker is alive, until
        cancelled or the call record is closed."""
        path = f"/internal/sessions/{session_id}/heartbeat"

        async def beat() -> bool:
            resp = await self._client.post(path, timeout=interval)
            return resp.status_code == 200 and resp.json().get("status") == "ended"

        await _every(interval, beat)

    async def report_load(
        self,
        worker_id: str,
        *,
        capacity: Callable[[], int],
        active: Callable[[], int],
        interval: float,
    ) -> None:
        """Report this worker's capacity and the calls it runs every ``interval`` seconds,
        until cancelled; then say it is gone (its places go at once)."""
        path = f"/internal/workers/{worker_id}"

        async def report() -> bool:
            body = {"capacity": capacity(), "active": active()}
            await self._client.post(path, json=body, timeout=interval)
            return False

        try:
            await _every(interval, report)
        finally:
            with contextlib.suppress(httpx.HTTPError):
                await self._client.delete(path, timeout=2.0)

    async def _post_retrying(
        self, path: str, body: dict[str, Any], *, timeout: float | None = None
    ) -> httpx.Response:
        """POST, retrying connection failures and 5xx answers with backoff.

        An API restart (a deploy, a crash) must not lose a call's record: for up to
        ``retry_seconds`` the report waits for the API to come back. The last answer is
        returned, or the last transport error raised.
        """
        deadline = time.monotonic() + self._retry_seconds
        delay = RETRY_FIRST_DELAY
        while True:
            try:
                resp = await self._client.post(
                    path, json=body, timeout=timeout if timeout is not None else self._timeout
                )
                if resp.status_code < 500 or time.monotonic() + delay > deadline:
                    return resp
                failure = f"HTTP {resp.status_code}"
            except httpx.TransportError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                failure = type(exc).__name__
            log.info("an API report failed (%s); retrying in %.2fs", failure, delay)
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX_DELAY, delay * 2)

    async def aclose(self) -> None:
        await self._client.aclose()


async def _every(interval: float, send: Callable[[], Awaitable[bool]]) -> None:
    """``send`` every ``interval`` seconds until it says it is done (or the task is
    cancelled). A send that fails is not retried: the next one says the same."""
    while True:
        try:
            if await send():
                return
        except (httpx.TransportError, ValueError):
            pass  # the API is restarting (or answered garbage); the next send reaches it
        await asyncio.sleep(interval)
