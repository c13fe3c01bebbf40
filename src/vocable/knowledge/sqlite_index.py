"""Knowledge index in its own SQLite file: chunks, a sqlite-vec ``vec0`` table
partitioned by agent, and an FTS5 table.

It is a separate file from the control-plane database because the standard library's
sqlite3 here cannot load extensions: the index is opened through ``pysqlite3``, and the
control-plane file stays readable (and migratable) without the ``vec0`` module.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vocable.knowledge.chunking import Chunk
from vocable.knowledge.embedding import DIM
from vocable.knowledge.index import Hit, Rankings, query_terms

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    page INTEGER
);
CREATE INDEX IF NOT EXISTS ix_chunks_document ON chunks (document_id, generation);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vec USING vec0(
    agent_id TEXT PARTITION KEY,
    doc_gen TEXT,
    embedding float[{DIM}] distance_metric=cosine
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, agent_id UNINDEXED, doc_gen UNINDEXED, tokenize='unicode61 remove_diacritics 2'
);
"""


def _connect(path: Path) -> Any:
    import sqlite_vec  # type: ignore[import-untyped]
    from pysqlite3 import dbapi2 as sqlite3  # type: ignore[import-untyped]

    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _doc_gen(document_id: str, generation: int) -> str:
    return f"{document_id}:{generation}"


class SqliteKnowledgeIndex:
    """A :class:`~vocable.knowledge.index.KnowledgeIndex` in ``path`` (one connection per
    thread; writes serialised in-process, and across processes by SQLite's lock)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._all: list[Any] = []
        self._all_lock = threading.Lock()
        self._conn().executescript(_SCHEMA)

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self._path)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

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
        doc_gen = _doc_gen(document_id, generation)
        conn = self._conn()
        with self._write_lock, _immediate(conn):
            for seq, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
                cur = conn.execute(
                    "INSERT INTO chunks (document_id, agent_id, org_id, generation, seq, "
                    "text, source, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        document_id,
                        agent_id,
                        org_id,
                        generation,
                        seq,
                        chunk.text,
                        source,
                        chunk.page,
                    ),
                )
                rowid = cur.lastrowid
                conn.execute(
                    "INSERT INTO chunks_vec (rowid, agent_id, doc_gen, embedding) "
                    "VALUES (?, ?, ?, ?)",
                    (rowid, agent_id, doc_gen, np.asarray(vector, np.float32).tobytes()),
                )
                conn.execute(
                    "INSERT INTO chunks_fts (rowid, text, agent_id, doc_gen) VALUES (?, ?, ?, ?)",
                    (rowid, chunk.text, agent_id, doc_gen),
                )

    def remove(self, document_id: str, *, keep_generation: int | None = None) -> None:
        conn = self._conn()
        keep = -1 if keep_generation is None else keep_generation
        with self._write_lock, _immediate(conn):
            self._delete_where(conn, "document_id = ? AND generation != ?", (document_id, keep))

    @staticmethod
    def _delete_where(conn: Any, where: str, params: tuple[Any, ...]) -> int:
        ids = [r[0] for r in conn.execute(f"SELECT id FROM chunks WHERE {where}", params)]  # noqa: S608 - fixed clauses
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            for table in ("chunks_vec", "chunks_fts"):
                conn.execute(f"DELETE FROM {table} WHERE rowid IN ({marks})", batch)  # noqa: S608 - fixed names
            conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", batch)  # noqa: S608
        return len(ids)

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
        conn = self._conn()
        doc_gens = [_doc_gen(d, g) for d, g in live.items()]
        marks = ",".join("?" * len(doc_gens))
        vec_rows = conn.execute(
            "SELECT rowid FROM chunks_vec WHERE embedding MATCH ? AND k = ? AND agent_id = ? "  # noqa: S608 - placeholders only
            f"AND doc_gen IN ({marks}) ORDER BY distance",
            (np.asarray(vector, np.float32).tobytes(), limit, agent_id, *doc_gens),
        ).fetchall()
        word_rows: list[Any] = []
        terms = query_terms(text)
        if terms:
            match = " OR ".join(f'"{t}"' for t in terms)
            word_rows = conn.execute(
                "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND agent_id = ? "  # noqa: S608 - placeholders only
                f"AND doc_gen IN ({marks}) ORDER BY rank LIMIT ?",
                (match, agent_id, *doc_gens, limit),
            ).fetchall()
        ids = {r[0] for r in vec_rows} | {r[0] for r in word_rows}
        rows = self._chunks(conn, ids, org_id)
        return Rankings(
            by_meaning=_ranked(rows, [r[0] for r in vec_rows]),
            by_words=_ranked(rows, [r[0] for r in word_rows]),
        )

    @staticmethod
    def _chunks(conn: Any, ids: set[int], org_id: str) -> dict[int, tuple[Any, ...]]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        cur = conn.execute(
            "SELECT id, document_id, seq, text, source, page FROM chunks "  # noqa: S608 - placeholders only
            f"WHERE org_id = ? AND id IN ({marks})",
            (org_id, *ids),
        )
        return {row[0]: row for row in cur}

    def sweep(self, live: dict[str, int]) -> int:
        conn = self._conn()
        stale = [
            (doc, gen)
            for doc, gen in conn.execute("SELECT DISTINCT document_id, generation FROM chunks")
            if doc not in live or gen < live[doc]
        ]
        removed = 0
        with self._write_lock:
            for doc, gen in stale:
                with _immediate(conn):
                    removed += self._delete_where(
                        conn, "document_id = ? AND generation = ?", (doc, gen)
                    )
        return removed

    def count(self, document_id: str | None = None) -> int:
        conn = self._conn()
        if document_id is None:
            return int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
        row = conn.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,))
        return int(row.fetchone()[0])

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def _ranked(rows: dict[int, tuple[Any, ...]], order: list[int]) -> list[Hit]:
    hits: list[Hit] = []
    for rowid in order:
        row = rows.get(rowid)
        if row is None:
            continue  # another organisation's row can never match; defence in depth
        hits.append(
            Hit(
                chunk_id=row[0],
                document_id=row[1],
                seq=row[2],
                text=row[3],
                source=row[4],
                page=row[5],
                rank=len(hits) + 1,
            )
        )
    return hits


@contextmanager
def _immediate(conn: Any) -> Iterator[None]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``): committed, or rolled
    back on any exception, including cancellation."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
