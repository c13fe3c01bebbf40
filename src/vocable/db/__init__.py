"""Persistence: SQLAlchemy models, engine creation and Alembic migrations."""
