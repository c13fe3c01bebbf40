"""A database as an older version left it, for tests of what a migration does to rows."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.conftest import database_url_for
from vocable.db.migrate import upgrade_to


@contextmanager
def database_at(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, revision: str
) -> Iterator[Engine]:
    """A fresh database of ``backend`` upgraded only to ``revision``, holding organisation
    ``org_1`` (what an older version's rows belong to); disposed afterwards."""
    url = database_url_for(request, backend, "old_" + secrets.token_hex(6))
    engine = create_engine(url or f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade_to(engine, revision)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organizations (id, name, created_at) "
                    "VALUES ('org_1', 'Acme', CURRENT_TIMESTAMP)"
                )
            )
        yield engine
    finally:
        engine.dispose()
