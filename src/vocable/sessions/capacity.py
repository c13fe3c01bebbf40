"""How many calls the voice workers can take, from what each worker reports.

Every worker process reports its capacity (``VOCABLE_WORKER_MAX_JOBS``) and the calls it
runs every few seconds (``POST /internal/workers/{id}``), and says goodbye when it stops.
LiveKit balances jobs over the workers by the same load figure; this side keeps the
session endpoint from handing out a room no agent will join: when the workers seen
recently have no free place left for another call (counting the sessions that were handed
out and not yet joined, whose callers are on their way), a new session is refused with
503 ``no_agent_available`` and ``Retry-After``.

A deployment where no worker has reported for ``KNOWN_FOR`` (a worker still loading its
models, an API without workers) is not refused: nothing is known about its capacity.
The check counts and holds nothing (unlike an organisation's places, ``sessions.limits``),
so parallel requests may overshoot by a call or two; LiveKit then queues the job until a
worker frees up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, case, delete, func, select
from sqlalchemy.orm import Session

from vocable.contracts.errors import UnavailableError
from vocable.db.models import Worker
from vocable.sessions.limits import places_held_query

KNOWN_FOR = timedelta(minutes=10)
"""A worker silent for longer than this no longer counts as part of the deployment."""
RETRY_AFTER_SECONDS = 10


class NoAgentAvailable(UnavailableError):
    def __init__(self) -> None:
        super().__init__(
            "no_agent_available",
            "Every voice agent is busy; try again shortly",
            retry_after=RETRY_AFTER_SECONDS,
        )


def record_report(db: Session, *, worker_id: str, capacity: int, active: int) -> None:
    """Store one worker's report (its first one registers it)."""
    now = datetime.now(UTC)
    worker = db.get(Worker, worker_id)
    if worker is None:
        db.add(Worker(id=worker_id, capacity=capacity, active=active, started_at=now, seen_at=now))
    else:
        worker.capacity, worker.active, worker.seen_at = capacity, active, now
    db.commit()


def forget_worker(db: Session, worker_id: str) -> None:
    """A worker that stops says so: its places are gone at once."""
    db.execute(delete(Worker).where(Worker.id == worker_id))
    db.commit()


_KNOWN = select(func.count()).where(Worker.seen_at > bindparam("known_since")).scalar_subquery()
COLUMNS = (
    _KNOWN.label("known"),
    select(func.coalesce(func.sum(Worker.capacity), 0))
    .where(Worker.seen_at > bindparam("live_since"))
    .scalar_subquery()
    .label("capacity"),
    # counted only where a worker is known: a deployment without one pays one small read
    case((_KNOWN > 0, places_held_query(bindparam("now")).scalar_subquery()), else_=0).label(
        "held"
    ),
)
"""What :func:`free_places` reads, as columns that another read may carry along (the
session endpoint reads them with the key and the agent); bind :func:`read_values`."""
_CAPACITY = select(*COLUMNS)


def read_values(now: datetime, *, live_for: timedelta) -> dict[str, datetime]:
    return {"known_since": now - KNOWN_FOR, "live_since": now - live_for, "now": now}


def free_from(known: int, capacity: int, held: int) -> int | None:
    """Calls the workers could still take, from :data:`COLUMNS`; ``None`` when no worker
    is known."""
    if not known:
        return None
    return int(capacity) - int(held)


def free_places(db: Session, now: datetime, *, live_for: timedelta) -> int | None:
    """Calls the workers could still take; ``None`` when no worker is known. One read (the
    session endpoint reads :data:`COLUMNS` with the key instead)."""
    row = db.connection().execute(_CAPACITY, read_values(now, live_for=live_for)).one()
    return free_from(*row)


def refuse_when_full(free: int | None) -> None:
    """``NoAgentAvailable`` when the known workers have no place for another call."""
    if free is not None and free <= 0:
        raise NoAgentAvailable()


def check_capacity(db: Session, now: datetime, *, live_for: timedelta) -> None:
    """``NoAgentAvailable`` when the known workers have no place for another call."""
    refuse_when_full(free_places(db, now, live_for=live_for))
