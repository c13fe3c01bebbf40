"""The migrations build exactly the schema the models declare, on both databases.

A model change without its migration (a column, an index, a foreign key) would pass every
other test, which create the schema the same way, and then fail or run slowly on an
upgraded production database; Alembic's comparison of the migrated schema with the models
finds it.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from tests.conftest import database_url_for

from vocable.db.migrate import upgrade_to_head
from vocable.db.models import Base

# pgvector's chunk table is the PostgreSQL knowledge index's (vocable.knowledge.pg_index),
# made by migration 0002 with types the models do not declare; SQLite's index lives in
# sqlite-vec and FTS5 tables the index makes itself.
NOT_MODELLED = frozenset({"knowledge_chunks"})


def _modelled(obj: Any, name: str | None, type_: str, reflected: bool, _: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return not (table is not None and table.name in NOT_MODELLED)


def _sqlite_reflection_artefact(diff: Any) -> bool:
    # agents.voice_id was added by ALTER TABLE with an inline REFERENCES ... ON DELETE SET
    # NULL (0003: a batch rebuild would cascade into sessions); SQLite's reflection does
    # not report that clause, so the same key shows as removed and added again.
    if not isinstance(diff, tuple) or diff[0] not in ("remove_fk", "add_fk"):
        return False
    fk = diff[1]
    return fk.table.name == "agents" and [c.name for c in fk.columns] == ["voice_id"]


# pgvector's column type is unknown to SQLAlchemy's reflection; that table is not compared
@pytest.mark.filterwarnings("ignore:Did not recognize type 'vector'")
def test_migrating_to_head_gives_the_models_schema(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    url = database_url_for(request, backend, "m_" + secrets.token_hex(6))
    engine = create_engine(url or f"sqlite:///{tmp_path / 'migrated.db'}")
    try:
        upgrade_to_head(engine)
        with engine.connect() as conn:
            diffs = compare_metadata(
                MigrationContext.configure(conn, opts={"include_object": _modelled}), Base.metadata
            )
    finally:
        engine.dispose()
    if backend == "sqlite":
        diffs = [d for d in diffs if not _sqlite_reflection_artefact(d)]
    assert diffs == [], "\n".join(map(repr, diffs))
