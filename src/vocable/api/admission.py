"""Admission control: a bounded number of expensive requests in flight per API process.

Without it, a burst above what the process can serve queues without limit (uvicorn
accepts every connection, the thread pool takes them in turn): every later request then
waits behind the backlog, long after the burst has passed. A gate admits up to ``limit``
requests of one kind at once; a request that finds it full waits at most ``wait_seconds``
for a slot, in arrival order, and is otherwise refused at once with 503 ``overloaded``
and ``Retry-After``. Refusal happens before the request touches the database, so a
refused request changes nothing.

Gates are per process and per event loop (uvicorn serves one loop per process): with
several API processes, each admits its own ``limit``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from vocable.api.errors import ApiError
from vocable.settings import Settings

log = logging.getLogger("vocable.api.admission")

RETRY_AFTER_SECONDS = 1
"""What a refused client is told: a gate drains in well under a second when not flooded."""
_LOG_EVERY_SECONDS = 10.0


class AdmissionGate:
    """At most ``limit`` requests inside at once; the next wait up to ``wait_seconds``."""

    def __init__(self, *, what: str, limit: int, wait_seconds: float) -> None:
        if limit < 1:
            raise ValueError("an admission gate needs a limit of at least 1")
        self.what = what
        """What the gated requests do, in the product's words (used in the 503 message)."""
        self.limit = limit
        self.wait_seconds = max(0.0, wait_seconds)
        # FIFO and fair (since 3.11.1): a newcomer never overtakes a waiting request
        self._slots = asyncio.Semaphore(limit)
        self._in_flight = 0
        self._refused = 0
        self._refused_unlogged = 0
        self._last_log = 0.0

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet finished."""
        return self._in_flight

    @property
    def refused(self) -> int:
        """Requests refused since the process started."""
        return self._refused

    async def _acquire(self) -> bool:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot and nobody waiting: returns at once
            return True
        if self.wait_seconds == 0:
            return False
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_seconds)
        except TimeoutError:
            return False  # the semaphore gives back a slot that came too late
        return True

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body of the ``async with``; 503 ``overloaded`` if none."""
        if not await self._acquire():
            self._note_refusal()
            raise ApiError(
                503,
                "overloaded",
                f"Too many {self.what} in progress on this server; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._slots.release()

    def _note_refusal(self) -> None:
        # one line per burst, not one per refused request: a flood must not flood the log
        self._refused += 1
        self._refused_unlogged += 1
        now = time.monotonic()
        if now - self._last_log >= _LOG_EVERY_SECONDS:
            log.warning(
                "overloaded: refused %d %s request(s) (%d in flight at most, %.0f ms wait)",
                self._refused_unlogged,
                self.what,
                self.limit,
                self.wait_seconds * 1000,
            )
            self._refused_unlogged = 0
            self._last_log = now


@dataclass(frozen=True)
class Admission:
    """The gates of one API process."""

    sessions: AdmissionGate
    """Session creation: the public session endpoint and the dashboard's test calls."""
    logins: AdmissionGate
    """Dashboard sign-in (an Argon2id verification: about 0.25 s of CPU and 64 MiB)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Admission:
        wait = settings.api_admission_wait_ms / 1000
        return cls(
            sessions=AdmissionGate(
                what="session requests", limit=settings.api_max_inflight_sessions, wait_seconds=wait
            ),
            logins=AdmissionGate(
                what="sign-ins", limit=settings.api_max_inflight_logins, wait_seconds=wait
            ),
        )
