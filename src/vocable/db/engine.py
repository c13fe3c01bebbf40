"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite write waits for another process's lock before the API answers 503."""

POSTGRES_CONNECT_TIMEOUT_S = 5
"""A database that does not answer (network partition) fails fast as 503 instead of
holding the request for the operating system's TCP timeout (minutes)."""


def make_engine(url: str, *, sqlite_busy_timeout: float = SQLITE_BUSY_TIMEOUT_S) -> Engine:
    """Create an engine tuned for the backend: WAL and a busy timeout on SQLite.

    PostgreSQL connections are checked before use (``pool_pre_ping``), so after the
    database comes back the API recovers by itself: dead pooled connections are
    replaced, not handed to a request.
    """
    if url.startswith("sqlite"):
        # hide_parameters: a database error must never print prompts or headers into logs
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout},
            hide_parameters=True,
            # as many kept connections as requests in flight (each new one opens the file
            # and sets the pragmas below: the default 5 made a busy API reconnect constantly)
            pool_size=20,
            max_overflow=20,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
    )


@functools.cache
def autocommit(engine: Engine) -> Engine:
    """``engine`` with every statement committed as it runs (the same pool): for a
    statement that is a whole transaction, without the round trips of ``BEGIN`` and
    ``COMMIT``."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed.

    ``Session.execute`` is typed as returning a plain ``Result``; for these statements it is
    a ``CursorResult``, which has the count.
    """
    return int(cast("CursorResult[Any]", result).rowcount)


def insert_skipping_conflicts(model: Any, dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` into ``model`` for the database's dialect
    (``dialect``: an engine's or connection's ``dialect.name``); add ``values`` and, where
    the caller must know whether a row went in, ``returning`` (drivers report a rowcount
    of -1 for some inserts). On PostgreSQL a racing insert of the same key waits for the
    first to commit, then skips."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing()
