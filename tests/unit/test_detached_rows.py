"""``detached``: a model read from a plain row has every column, and no session."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, insert, inspect, select
from sqlalchemy.orm import Session

from vocable.db.models import Agent, Base, Organization, detached


def test_a_detached_agent_reads_like_a_loaded_one(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'd.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as db:
        db.add(Organization(id="org_1", name="Org"))
        db.add(
            Agent(
                id="agt_1",
                org_id="org_1",
                name="Bakery",
                system_prompt="Be brief.",
                stt_engine="s",
                llm_engine="l",
                tts_engine="t",
                conversation={"temperature": 0.2},
            )
        )
        db.commit()
        loaded = db.get_one(Agent, "agt_1")
        with engine.connect() as conn:
            row = conn.execute(select(Agent.__table__)).one()
        plain = detached(Agent, row)
        for column in Agent.__table__.columns:
            assert getattr(plain, column.key) == getattr(loaded, column.key), column.key
        assert inspect(plain).session is None and plain not in db
    engine.dispose()


def test_changing_a_detached_row_writes_nothing(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'd.db'}")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(Organization).values(id="org_1", name="Org"))
    with Session(engine) as db:
        row = db.connection().execute(select(Organization.__table__)).one()
        plain = detached(Organization, row)
        plain.name = "Changed"
        db.commit()
        assert db.get_one(Organization, "org_1").name == "Org"
    engine.dispose()
