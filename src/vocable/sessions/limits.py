"""The limits on new sessions, counted atomically in the database, so that they hold
across any number of API processes without making one organisation's requests wait for
each other.

- **Concurrent calls per organisation**: the organisation has up to ``limit`` places
  (``session_slots`` rows, created as first needed). A new session takes a free place in
  one ``UPDATE``; on PostgreSQL, places that other requests are taking at that moment are
  skipped (``FOR UPDATE SKIP LOCKED``), never waited for. A place is held until the
  session's join deadline, then its hard deadline once the call starts, and freed when
  the call ends (``release_place``), so a place whose holder vanished frees itself.
- **Sessions per key per minute**: a token bucket on the key's row (``limit`` sessions at
  once, refilled at ``limit`` a minute), spent by one conditional ``UPDATE`` that also
  keeps the key's ``last_used_at`` to the minute.

Both run inside the session's own transaction, after its row is written: a refusal rolls
back everything, so a refused request spends nothing and leaves nothing behind. On
PostgreSQL the common case is one statement that takes the place, spends the key's
session and writes the row, in autocommit (:func:`at_once`): no lock outlives the
statement, so one key's requests do not queue on its row while a commit travels back.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import (
    Boolean,
    Connection,
    Float,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE, ScalarSelect, Select

from vocable.contracts.errors import LimitError
from vocable.db.engine import insert_skipping_conflicts
from vocable.db.models import ApiKey, SessionSlot

RATE_PERIOD_SECONDS = 60.0
CONCURRENCY_RETRY_AFTER = 10
LAST_USED_PRECISION = timedelta(seconds=60)
"""A key's ``last_used_at`` is kept to the minute: not one more write per session."""
_TRIES = 16
"""Attempts to take a place when other requests take the free ones at the same moment."""
_GROWTH = (16, 256)
"""Places added at once when an organisation has none free and is under its limit: as
many as it has (so an organisation growing to N calls adds places about log N times, not
N/16), at least the first, at most the second number."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""``held_until`` of a place never held."""


def concurrency_limited(limit: int) -> LimitError:
    return LimitError(
        "concurrency_limited",
        f"Concurrent session limit of {limit} for this organisation reached",
        retry_after=CONCURRENCY_RETRY_AFTER,
    )


def rate_limited(limit: int, wait_seconds: float) -> LimitError:
    return LimitError(
        "rate_limited",
        f"Rate limit of {limit} sessions per minute for this API key reached",
        retry_after=max(1, math.ceil(wait_seconds)),
    )


# --- concurrent calls --------------------------------------------------------------------


def _free_place(*, locking: Literal["none", "skip", "wait"]) -> ScalarSelect[int]:
    """The organisation's free place with the earliest end (index ``org_id, held_until``);
    ``skip``: one no other transaction is taking, ``wait``: wait for the one it takes."""
    query = (
        select(SessionSlot.slot)
        .where(
            SessionSlot.org_id == bindparam("org"),
            SessionSlot.held_until <= bindparam("now"),
            SessionSlot.slot < bindparam("limit"),
        )
        .order_by(SessionSlot.held_until)
        .limit(1)
    )
    if locking != "none":
        query = query.with_for_update(skip_locked=locking == "skip")
    return query.scalar_subquery()


_CLAIM = {
    locking: update(SessionSlot)
    .where(
        SessionSlot.org_id == bindparam("org"),
        SessionSlot.slot == _free_place(locking=locking),
        SessionSlot.held_until <= bindparam("now"),  # still free when its row is locked
    )
    .values(session_id=bindparam("session"), held_until=bindparam("until"))
    .returning(SessionSlot.slot)
    for locking in ("none", "skip", "wait")
}
_LAST_PLACE = select(func.max(SessionSlot.slot)).where(SessionSlot.org_id == bindparam("org"))


def _add_places(session_conn: Connection, *, org_id: str, limit: int) -> bool:
    """Add up to ``_GROWTH`` free places after the organisation's last one, within the
    limit; ``False`` when it has them all. On PostgreSQL in a transaction of its own, so
    that the new places are there for every request at once (a request adding the same
    numbers waits only for that short transaction, then adds nothing); SQLite has one
    writer, the session's own transaction."""
    if session_conn.dialect.name != "postgresql":
        return _insert_places(session_conn, org_id, limit)
    with session_conn.engine.connect() as conn, conn.begin():
        return _insert_places(conn, org_id, limit)


def _next_place(conn: Connection, org_id: str) -> int:
    """The number the organisation's next new place gets."""
    last = conn.scalar(_LAST_PLACE, {"org": org_id})
    return 0 if last is None else last + 1


def _insert_places(conn: Connection, org_id: str, limit: int) -> bool:
    first = _next_place(conn, org_id)
    grow = min(max(first, _GROWTH[0]), _GROWTH[1])
    numbers = range(first, min(limit, first + grow))
    if not numbers:
        return False
    conn.execute(  # executemany of one cached statement
        insert_skipping_conflicts(SessionSlot, conn.dialect.name),
        [{"org_id": org_id, "slot": n, "held_until": _EPOCH} for n in numbers],
    )
    return True


def take_place(
    conn: Connection, *, org_id: str, session_id: str, until: datetime, now: datetime, limit: int
) -> None:
    """Hold one of the organisation's places for ``session_id`` until ``until``, else
    ``concurrency_limited``.

    On PostgreSQL a request first takes a free place no other request is taking, without
    waiting. Only when there is none and no place can be added (the organisation is at
    its limit) does it wait for a place another request is taking: that request may yet
    be refused (its key's rate) and give the place back."""
    postgres = conn.dialect.name == "postgresql"
    values = _place_values(org_id, session_id, until, now, limit)
    for _ in range(_TRIES):
        if conn.execute(_CLAIM["skip" if postgres else "none"], values).first() is not None:
            return
        if _add_places(conn, org_id=org_id, limit=limit):
            continue  # the places added (by this request or another) are free: take one
        if postgres and conn.execute(_CLAIM["wait"], values).first() is not None:
            return
        if not has_place(conn, org_id=org_id, now=now, limit=limit):
            raise concurrency_limited(limit)
        # the place waited for was taken after all, and another is free or being taken
    raise concurrency_limited(limit)


def _place_values(
    org_id: str, session_id: str, until: datetime, now: datetime, limit: int
) -> dict[str, object]:
    """What :data:`_CLAIM` binds."""
    return {"org": org_id, "now": now, "limit": limit, "session": session_id, "until": until}


def has_place(conn: Connection, *, org_id: str, now: datetime, limit: int) -> bool:
    """Whether a session could take a place now (a check before slow work, not a hold)."""
    free = conn.scalar(
        select(_free_place(locking="none")), {"org": org_id, "now": now, "limit": limit}
    )
    return free is not None or _next_place(conn, org_id) < limit


def hold_place(conn: Connection, session_id: str, until: datetime) -> None:
    """The call started: its place is held until ``until`` (its hard deadline)."""
    conn.execute(
        update(SessionSlot).where(SessionSlot.session_id == session_id).values(held_until=until)
    )


def release_place(conn: Connection, session_id: str, now: datetime) -> None:
    """The call ended: its place is free from ``now``."""
    conn.execute(
        update(SessionSlot)
        .where(SessionSlot.session_id == session_id)
        .values(session_id=None, held_until=now)
    )


def places_held_query(now: ColumnElement[datetime] | datetime) -> Select[int]:
    """How many places are held across every organisation: the calls open or on their
    way (``sessions.capacity`` counts them against the workers' capacity)."""
    return select(func.count()).select_from(SessionSlot).where(SessionSlot.held_until > now)


# --- sessions per key per minute ----------------------------------------------------------


def _elapsed() -> ColumnElement[float]:
    """Seconds since the bucket was counted, never below zero: requests that read the
    clock in one order may reach the row in another (or on API processes whose clocks
    differ a little); a request that is "earlier" than the last count adds nothing."""
    now = bindparam("now_s", type_=Float)
    return case(
        (ApiKey.rate_at.is_(None), 0.0), (now > ApiKey.rate_at, now - ApiKey.rate_at), else_=0.0
    )


def _tokens() -> ColumnElement[float]:
    """The key's bucket now: what it held at ``rate_at``, refilled since, at most full."""
    limit = bindparam("rate_limit", type_=Float)
    refilled = func.coalesce(ApiKey.rate_tokens, limit) + _elapsed() * bindparam(
        "per_second", type_=Float
    )
    return case((refilled > limit, limit), else_=refilled)


_SPEND = (
    update(ApiKey)
    .where(ApiKey.id == bindparam("key"), _tokens() >= literal(1.0))
    .values(
        rate_tokens=_tokens() - literal(1.0),
        rate_at=case(
            (ApiKey.rate_at.is_(None), bindparam("now_s")),
            (bindparam("now_s") > ApiKey.rate_at, bindparam("now_s")),
            else_=ApiKey.rate_at,
        ),
        last_used_at=case(
            (
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= bindparam("stale")),
                bindparam("now"),
            ),
            else_=ApiKey.last_used_at,
        ),
    )
    .returning(ApiKey.id)
)
_BUCKET = select(_tokens()).where(ApiKey.id == bindparam("key"))


def _rate_values(key_id: str, limit: int, now: datetime) -> dict[str, object]:
    return {
        "key": key_id,
        "rate_limit": float(limit),
        "now_s": now.timestamp(),
        "per_second": limit / RATE_PERIOD_SECONDS,
    }


def _spend_values(key_id: str, limit: int, now: datetime) -> dict[str, object]:
    """What :data:`_SPEND` binds."""
    return {**_rate_values(key_id, limit, now), "now": now, "stale": now - LAST_USED_PRECISION}


def spend_rate_token(conn: Connection, *, key_id: str, limit: int, now: datetime) -> None:
    """One session of the key's rate, else ``rate_limited`` with how long until the next."""
    values = _spend_values(key_id, limit, now)
    if conn.execute(_SPEND, values).first() is not None:
        return
    raise _bucket_empty(conn.scalar(_BUCKET, _rate_values(key_id, limit, now)) or 0.0, limit)


def check_rate(conn: Connection, *, key_id: str, limit: int, now: datetime) -> None:
    """``rate_limited`` if the key has no session left now (a check, nothing spent)."""
    tokens = conn.scalar(_BUCKET, _rate_values(key_id, limit, now))
    if tokens is not None and tokens < 1:
        raise _bucket_empty(tokens, limit)


def _bucket_empty(tokens: float, limit: int) -> LimitError:
    """The refusal, with how long until the bucket holds one session again."""
    return rate_limited(limit, (1.0 - tokens) * RATE_PERIOD_SECONDS / limit)


# --- both at once ----------------------------------------------------------------------


REFUSED = "VR001"
"""The SQLSTATE of ``vocable_refuse()`` (migration 0019), which fails a statement."""


def at_once(*, with_key: bool) -> tuple[tuple[CTE, ...], ColumnElement[bool]]:
    """Common table expressions that take a free place no other request is taking and,
    ``with_key``, then spend one of the key's sessions, and the condition on which a
    statement carrying them writes the session row (PostgreSQL only: one statement, each
    row lock held only while it runs). Neither waits nor adds places: with no place the
    statement writes nothing; with a place but no session left on the key it fails
    (``vocable_refuse``, :func:`refused_at_once`), so that the place it took is never
    seen taken. Either way the caller then takes the careful way (``take_place``,
    ``spend_rate_token`` in a transaction), which adds places, waits for one being
    taken, and refuses with the right error. Bind :func:`at_once_values`."""
    place = _CLAIM["skip"].cte("place")
    took = exists(place.select())
    if not with_key:
        return (place,), took
    spent = _SPEND.where(took).cte("spent")
    refuse = func.vocable_refuse("rate_limited", type_=Boolean)
    return (place, spent), case((~took, false()), (exists(spent.select()), true()), else_=refuse)


def refused_at_once(error: DBAPIError) -> bool:
    """Whether ``error`` is the failure :func:`at_once` asks for (nothing was written)."""
    return getattr(error.orig, "sqlstate", None) == REFUSED


def at_once_values(
    *,
    org_id: str,
    session_id: str,
    until: datetime,
    now: datetime,
    limit: int,
    key_id: str | None,
    rate_limit: int,
) -> dict[str, object]:
    values = _place_values(org_id, session_id, until, now, limit)
    if key_id is not None:
        values |= _spend_values(key_id, rate_limit, now)
    return values
