"""Run Alembic migrations programmatically (``vocable up`` and the tests use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def upgrade_to_head(engine: Engine) -> None:
    upgrade_to(engine, "head")


def upgrade_to(engine: Engine, revision: str) -> None:
    """Migrate up to ``revision`` (the tests stop at an older one to check an upgrade)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
