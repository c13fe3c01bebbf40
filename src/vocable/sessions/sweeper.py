"""Closes call records that nobody will close: the backstop behind LiveKit's webhooks.

A worker reports the end of every call it runs. When it cannot (it was killed, or LiveKit
went away with the room), the record would stay ``active`` for good. LiveKit's webhooks
close most of those within a second (``vocable.api.routes.livekit_events``); this sweeper
catches the rest, every ``session_sweep_seconds``:

- a session nobody joined ends as ``not_joined`` once its join window and the grace to
  start after it (``START_GRACE``) have passed, so call history shows what happened;
- an active session past its ``hard_deadline`` ends as ``expired``;
- an active session whose worker sent no heartbeat for ``worker_silent_seconds`` ends as
  ``worker_lost`` (a killed worker says nothing, and LiveKit keeps its participant in the
  room for up to half a minute); the agent is removed from the room first, so the caller
  sees it leave, then the room is closed;
- an active session whose room LiveKit no longer has, on two sweeps in a row, ends as
  ``media_lost`` (two, so that a worker ending a call normally, which reports first and
  then closes the room, always gets to give its own reason).

It also keeps the webhook delivery log bounded: once every ``purge_every``, delivered and
failed deliveries older than the retention period are deleted (never pending ones), and
so are events (their payloads hold transcripts) older than it that no pending or
in-flight delivery still needs.

State lives in the database and every change goes through ``record_event``, which never
reopens or changes an ended call, so any number of API processes may sweep at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vocable.db.models import VoiceSession
from vocable.livekit.rooms import RoomAdminError
from vocable.livekit.webhooks import MEDIA_LOST, WORKER_LOST
from vocable.sessions.service import NOT_JOINED, START_GRACE, record_event
from vocable.webhooks.retention import purge_finished_deliveries, purge_old_events

log = logging.getLogger("vocable.sessions.sweeper")

EXPIRED = "expired"
"""End reason: the call was still open past its session's hard deadline."""


class Rooms(Protocol):
    """The LiveKit room operations the sweeper needs (``RoomAdmin`` in production)."""

    def list_rooms(self) -> set[str]: ...

    def delete_room(self, room: str) -> bool: ...

    def remove_all_but(self, room: str, identity: str) -> list[str]: ...


@dataclass(frozen=True)
class ClosedSession:
    session_id: str
    room_name: str
    reason: str


def end_open_session(db: Session, session_id: str, reason: str) -> ClosedSession | None:
    """End the session with ``reason`` if it is still open; ``None`` if it was not."""
    row = db.get(VoiceSession, session_id)
    if row is None or row.status not in ("created", "active"):
        return None
    record_event(db, row, kind="ended", reason=reason, usage=None)
    log.warning("closed a call nobody ended", extra={"session_id": row.id, "reason": reason})
    return ClosedSession(row.id, row.room_name, reason)


def close_rooms(rooms: Rooms, closed: Iterable[ClosedSession]) -> None:
    """Close the rooms of calls ended here, so a caller still in one is told at once."""
    for session in closed:
        try:
            rooms.delete_room(session.room_name)
        except RoomAdminError as e:
            # the room empties by itself (LiveKit's empty timeout); the record is right
            log.info("could not close the room of a lost call: %s", e)


class SessionSweeper:
    """One background thread that sweeps until :meth:`stop`; :meth:`sweep` is one pass."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        rooms: Rooms,
        interval_seconds: float,
        worker_silent_seconds: float = 10.0,
        started_grace_seconds: float = 5.0,
        delivery_retention: timedelta | None = None,
        purge_every: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``delivery_retention``: how long finished webhook deliveries, and events no
        unfinished delivery needs, are kept (None: for good); the purge runs on the first
        pass, then once every ``purge_every`` (the log grows by minutes, not seconds: no
        need to scan it every pass)."""
        self._sessions = sessions
        self._rooms = rooms
        self._interval = interval_seconds
        self._grace = timedelta(seconds=started_grace_seconds)
        self._silent = timedelta(seconds=worker_silent_seconds)
        self._clock = clock
        self._retention = delivery_retention
        self._purge_every = purge_every
        self._next_purge = clock()
        # heartbeats sent while this process was not running were lost: judge silence
        # only once workers have had a full timeout to reach it
        self._judge_silence_from = clock() + self._silent
        self._missing: set[str] = set()
        self._close_next: list[ClosedSession] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="session-sweeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.sweep()
            except Exception:  # task boundary: one failed pass must not stop the next
                log.exception("session sweep failed")

    def sweep(self, now: datetime | None = None) -> list[ClosedSession]:
        """One pass; returns the sessions it ended."""
        now = now or self._clock()
        # rooms of calls whose worker fell silent close one pass after the agent was
        # removed, so the caller's app hears that the agent left before the room goes
        close_rooms(self._rooms, self._close_next)
        silent = self._end_silent(now)
        self._close_next = silent
        closed = self._end_unjoined(now) + self._end_expired(now) + self._end_roomless(now)
        close_rooms(self._rooms, closed)
        if now >= self._next_purge:
            self._next_purge = now + self._purge_every
            self.purge_deliveries(now)
        return closed + silent

    def purge_deliveries(self, now: datetime) -> int:
        """Delete finished webhook deliveries older than the retention, then the events
        past it that no unfinished delivery needs; returns how many deliveries."""
        if self._retention is None:
            return 0
        before = now - self._retention
        with self._sessions() as db:
            deleted = purge_finished_deliveries(db, before=before)
        if deleted:
            log.info("deleted %d webhook deliveries past their retention", deleted)
        with self._sessions() as db:
            events = purge_old_events(db, before=before)
        if events:
            log.info("deleted %d webhook events past their retention", events)
        return deleted

    def _end_unjoined(self, now: datetime) -> list[ClosedSession]:
        with self._sessions() as db:
            ids = db.scalars(
                select(VoiceSession.id).where(
                    VoiceSession.status == "created",
                    VoiceSession.join_deadline <= now - START_GRACE,
                )
            ).all()
            ended = (end_open_session(db, sid, NOT_JOINED) for sid in ids)
            return [c for c in ended if c is not None]

    def _end_expired(self, now: datetime) -> list[ClosedSession]:
        with self._sessions() as db:
            ids = db.scalars(
                select(VoiceSession.id).where(
                    VoiceSession.status == "active", VoiceSession.hard_deadline <= now
                )
            ).all()
            ended = (end_open_session(db, sid, EXPIRED) for sid in ids)
            return [c for c in ended if c is not None]

    def _end_silent(self, now: datetime) -> list[ClosedSession]:
        if now < self._judge_silence_from:
            return []
        # a session without any heartbeat is left to the other checks: its worker may
        # predate heartbeats, and a worker killed in its first seconds leaves the room
        # (webhook) or the call reaches its deadline
        last_heard = VoiceSession.worker_seen_at
        with self._sessions() as db:
            silent = db.execute(
                select(
                    VoiceSession.id, VoiceSession.room_name, VoiceSession.participant_identity
                ).where(VoiceSession.status == "active", last_heard <= now - self._silent)
            ).all()
        closed: list[ClosedSession] = []
        for session_id, room, caller in silent:
            try:
                # the agent leaves before the room closes: the caller's app can tell them
                self._rooms.remove_all_but(room, caller)
            except RoomAdminError as e:
                log.info("could not remove a lost agent: %s", e)
            with self._sessions() as db:
                ended = end_open_session(db, session_id, WORKER_LOST)
            if ended is not None:
                closed.append(ended)
        return closed

    def _end_roomless(self, now: datetime) -> list[ClosedSession]:
        with self._sessions() as db:
            active = db.execute(
                select(VoiceSession.id, VoiceSession.room_name).where(
                    VoiceSession.status == "active", VoiceSession.started_at <= now - self._grace
                )
            ).all()
        if not active:
            self._missing = set()
            return []
        try:
            rooms = self._rooms.list_rooms()
        except RoomAdminError as e:
            # LiveKit is down or restarting: nothing can be judged until it answers
            log.info("session sweep skipped the room check: %s", e)
            return []
        missing = {sid for sid, room in active if room not in rooms}
        lost, self._missing = missing & self._missing, missing - self._missing
        with self._sessions() as db:
            ended = (end_open_session(db, sid, MEDIA_LOST) for sid in sorted(lost))
            return [c for c in ended if c is not None]
