"""Knowledge index in PostgreSQL: the ``knowledge_chunks`` table of migration 0002.

With pgvector the embedding column is ``vector(384)`` under an HNSW index (iterative
scans keep per-agent filtering exact enough); without it, ``real[]`` searched exactly.
Full text is a generated ``tsvector`` (``simple`` configuration: no stemming, any
language) under a GIN index. Only chunks of a document's live generation are joined in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine
from sqlalchemy import text as sql

from vocable.knowledge.chunking import Chunk
from vocable.knowledge.index import Hit, Rankings, query_terms

_LIVE_JOIN = (
    "JOIN knowledge_documents d ON d.id = c.document_id AND d.generation = c.generation "
    "WHERE c.agent_id = :agent AND d.agent_id = :agent AND d.org_id = :org"
)


def _vector_literal(vector: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


class PostgresKnowledgeIndex:
    """A :class:`~vocable.knowledge.index.KnowledgeIndex` on the control-plane database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        with engine.connect() as conn:
            kind = conn.scalar(
                sql(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = 'knowledge_chunks'::regclass AND attname = 'embedding'"
                )
            )
        self.uses_pgvector = str(kind).startswith("vector")

    def _embedding_param(self, vector: npt.NDArray[np.float32]) -> Any:
        if self.uses_pgvector:
            return _vector_literal(vector)
        return [float(x) for x in vector]

    def add(
        self,
        *,
        document_id: str,
        agent_id: str,
        org_id: str,
        generation: int,
        source: str,
        chunks: list[Chunk],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        cast = "CAST(:embedding AS vector)" if self.uses_pgvector else ":embedding"
        rows = [
            {
                "document_id": document_id,
                "agent_id": agent_id,
                "org_id": org_id,
                "generation": generation,
                "seq": seq,
                "text": chunk.text,
                "source": source,
                "page": chunk.page,
                "embedding": self._embedding_param(vector),
            }
            for seq, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
        ]
        if not rows:
            return
        with self._engine.begin() as conn:
            conn.execute(
                sql(
                    "INSERT INTO knowledge_chunks (document_id, agent_id, org_id, generation, "  # noqa: S608 - fixed fragments
                    "seq, text, source, page, embedding) VALUES (:document_id, :agent_id, "
                    f":org_id, :generation, :seq, :text, :source, :page, {cast})"
                ),
                rows,
            )

    def remove(self, document_id: str, *, keep_generation: int | None = None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sql("DELETE FROM knowledge_chunks WHERE document_id = :d AND generation != :g"),
                {"d": document_id, "g": -1 if keep_generation is None else keep_generation},
            )

    def search(
        self,
        *,
        agent_id: str,
        org_id: str,
        live: dict[str, int],
        vector: npt.NDArray[np.float32],
        text: str,
        limit: int,
    ) -> Rankings:
        if not live:
            return Rankings([], [])
        params: dict[str, Any] = {"agent": agent_id, "org": org_id, "limit": limit}
        columns = "c.id, c.document_id, c.seq, c.text, c.source, c.page"
        if self.uses_pgvector:
            params["q"] = _vector_literal(vector)
            distance = "c.embedding <=> CAST(:q AS vector)"
        else:
            params["q"] = [float(x) for x in vector]
            # unit vectors: the dot product is the cosine similarity
            distance = (
                "-(SELECT sum(a * b) FROM unnest(c.embedding, CAST(:q AS real[])) AS t(a, b))"
            )
        with self._engine.begin() as conn:
            if self.uses_pgvector:
                # keep scanning the HNSW graph until enough rows pass the agent filter
                conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = relaxed_order")
                conn.exec_driver_sql("SET LOCAL hnsw.ef_search = 100")
            by_meaning = conn.execute(
                sql(
                    f"SELECT {columns} FROM knowledge_chunks c {_LIVE_JOIN} "  # noqa: S608 - fixed fragments
                    f"ORDER BY {distance} LIMIT :limit"
                ),
                params,
            ).all()
            by_words: Any = []
            terms = query_terms(text)
            if terms:
                params["tsq"] = " | ".join(t.replace("'", "") for t in terms if "'" not in t)
                by_words = conn.execute(
                    sql(
                        f"SELECT {columns} FROM knowledge_chunks c {_LIVE_JOIN} "  # noqa: S608 - fixed fragments
                        "AND c.tsv @@ to_tsquery('simple', :tsq) "
                        "ORDER BY ts_rank_cd(c.tsv, to_tsquery('simple', :tsq)) DESC LIMIT :limit"
                    ),
                    params,
                ).all()
        return Rankings(by_meaning=_hits(by_meaning), by_words=_hits(by_words))

    def sweep(self, live: dict[str, int]) -> int:
        # chunks of deleted documents went with them (ON DELETE CASCADE)
        with self._engine.begin() as conn:
            result = conn.execute(
                sql(
                    "DELETE FROM knowledge_chunks c USING knowledge_documents d "
                    "WHERE c.document_id = d.id AND c.generation < d.generation"
                )
            )
            return int(result.rowcount or 0)

    def count(self, document_id: str | None = None) -> int:
        with self._engine.connect() as conn:
            if document_id is None:
                return int(conn.scalar(sql("SELECT count(*) FROM knowledge_chunks")) or 0)
            return int(
                conn.scalar(
                    sql("SELECT count(*) FROM knowledge_chunks WHERE document_id = :d"),
                    {"d": document_id},
                )
                or 0
            )

    def close(self) -> None:
        return None


def _hits(rows: Any) -> list[Hit]:
    return [
        Hit(
            chunk_id=r[0],
            document_id=r[1],
            seq=r[2],
            text=r[3],
            source=r[4],
            page=r[5],
            rank=i + 1,
        )
        for i, r in enumerate(rows)
    ]
