"""The knowledge base of one API process: index, embedder and ingestion thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from vocable.knowledge.embedding import Embedder, shared_embedder
from vocable.knowledge.index import KnowledgeIndex
from vocable.knowledge.ingest import Ingestor
from vocable.platform import Platform

log = logging.getLogger("vocable.knowledge")


@dataclass
class KnowledgeRuntime:
    index: KnowledgeIndex
    embedder: Embedder
    ingestor: Ingestor

    def close(self) -> None:
        self.ingestor.stop()
        self.index.close()


def sqlite_index_path(platform: Platform) -> Path:
    """``<database>.knowledge.db`` beside a SQLite database file, else in the data dir."""
    url = make_url(platform.settings.resolved_database_url)
    if url.database and url.database != ":memory:":
        main = Path(url.database)
        return main.with_name(main.stem + ".knowledge.db")
    return platform.settings.data_dir / "knowledge.db"


def open_index(platform: Platform) -> KnowledgeIndex:
    """PostgreSQL + pgvector when the database is PostgreSQL, else SQLite + sqlite-vec."""
    if platform.engine.dialect.name == "postgresql":
        from vocable.knowledge.pg_index import PostgresKnowledgeIndex

        index = PostgresKnowledgeIndex(platform.engine)
        if not index.uses_pgvector:
            log.warning("pgvector is not installed: knowledge search scans exactly (slower)")
        return index
    from vocable.knowledge.sqlite_index import SqliteKnowledgeIndex

    return SqliteKnowledgeIndex(sqlite_index_path(platform))


def start_knowledge(platform: Platform) -> KnowledgeRuntime:
    settings = platform.settings
    embedder = shared_embedder(settings.knowledge_embed_threads)
    index = open_index(platform)
    ingestor = Ingestor(
        sessions=platform.sessions, index=index, embedder=embedder, settings=settings
    )
    ingestor.start()
    return KnowledgeRuntime(index=index, embedder=embedder, ingestor=ingestor)
