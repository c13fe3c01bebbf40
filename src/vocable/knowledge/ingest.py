"""Background ingestion: claim a pending document, parse, chunk, embed, index, swap.

State lives in the database, so any API process can do the work and a restart loses
nothing: a claim is a lease that the worker renews as it progresses; a document whose
lease ran out (its process stopped) is claimed again, up to ``MAX_ATTEMPTS`` times.
Chunks are written as a new generation and made visible by one update of the document
row, so search never sees a half-indexed document.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from vocable.db.engine import rows_affected
from vocable.db.models import KnowledgeDocument, KnowledgeFile
from vocable.knowledge.chunking import chunk_sections
from vocable.knowledge.embedding import Embedder
from vocable.knowledge.extract import extract_sections
from vocable.knowledge.index import KnowledgeIndex
from vocable.knowledge.sniff import DocumentRejected
from vocable.settings import Settings

log = logging.getLogger("vocable.knowledge.ingest")

MAX_ATTEMPTS = 3
EMBED_BATCH = 8
"""Chunks embedded between lease renewals and progress updates."""


class Abandoned(Exception):
    """The claim on a document was lost (deleted, re-indexed, or claimed elsewhere)."""


def _now() -> datetime:
    return datetime.now(UTC)


class Ingestor:
    """One background thread that ingests documents until :meth:`stop`."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        index: KnowledgeIndex,
        embedder: Embedder,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._index = index
        self._embedder = embedder
        self._settings = settings
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="knowledge-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def notify(self) -> None:
        """A document was queued: look now instead of at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        self.sweep()
        while not self._stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("knowledge ingestion failed unexpectedly")
                worked = False
            if not worked:
                self._wake.wait(self._settings.knowledge_poll_seconds)
                self._wake.clear()

    def sweep(self) -> None:
        """Remove chunks left behind by a stopped process (deleted or superseded)."""
        try:
            with self._sessions() as db:
                live = dict(
                    db.execute(select(KnowledgeDocument.id, KnowledgeDocument.generation)).all()
                )
            removed = self._index.sweep(live)
            if removed:
                log.info("removed %d orphaned knowledge chunks", removed)
        except Exception:
            log.exception("knowledge index sweep failed")

    # --- one document -------------------------------------------------------------------

    def run_once(self) -> bool:
        """Claim and ingest one document; ``False`` when there was nothing to do."""
        claimed = self._claim()
        if claimed is None:
            return False
        doc_id, token = claimed
        try:
            self._ingest(doc_id, token)
        except Abandoned:
            log.info("knowledge document %s was changed during ingestion", doc_id)
        except DocumentRejected as e:
            self._fail(doc_id, token, e.reason)
        return True

    def _claimable(self, now: datetime) -> object:
        return or_(
            KnowledgeDocument.status == "pending",
            and_(
                KnowledgeDocument.status == "processing",
                or_(
                    KnowledgeDocument.lease_expires_at.is_(None),
                    KnowledgeDocument.lease_expires_at < now,
                ),
            ),
        )

    def _claim(self) -> tuple[str, str] | None:
        now = _now()
        with self._sessions() as db:
            candidates = db.scalars(
                select(KnowledgeDocument.id)
                .where(self._claimable(now))  # type: ignore[arg-type]
                .order_by(KnowledgeDocument.updated_at)
                .limit(5)
            ).all()
            for doc_id in candidates:
                token = secrets.token_hex(8)
                result = db.execute(
                    update(KnowledgeDocument)
                    .where(KnowledgeDocument.id == doc_id, self._claimable(now))  # type: ignore[arg-type]
                    .values(
                        status="processing",
                        claim_token=token,
                        lease_expires_at=now + self._lease(),
                        attempts=KnowledgeDocument.attempts + 1,
                        progress=0,
                        updated_at=now,
                    )
                )
                db.commit()
                if rows_affected(result) != 1:
                    continue  # another process claimed it first
                attempts = db.scalar(
                    select(KnowledgeDocument.attempts).where(KnowledgeDocument.id == doc_id)
                )
                if attempts is not None and attempts > MAX_ATTEMPTS:
                    self._fail(
                        doc_id, token, "Ingestion was interrupted repeatedly; re-index to retry"
                    )
                    continue
                return doc_id, token
        return None

    def _lease(self, extra: float = 0.0) -> timedelta:
        return timedelta(seconds=self._settings.knowledge_lease_seconds + extra)

    def _renew(self, doc_id: str, token: str, progress: int, *, extra: float = 0.0) -> None:
        now = _now()
        with self._sessions() as db:
            result = db.execute(
                update(KnowledgeDocument)
                .where(KnowledgeDocument.id == doc_id, KnowledgeDocument.claim_token == token)
                .values(
                    progress=progress, lease_expires_at=now + self._lease(extra), updated_at=now
                )
            )
            db.commit()
        if rows_affected(result) != 1:
            raise Abandoned(doc_id)

    def _ingest(self, doc_id: str, token: str) -> None:
        settings = self._settings
        with self._sessions() as db:
            doc = db.get(KnowledgeDocument, doc_id)
            file = db.get(KnowledgeFile, doc_id)
            if doc is None or file is None:
                raise Abandoned(doc_id)
            kind, name, agent_id, org_id = doc.kind, doc.name, doc.agent_id, doc.org_id
            live_generation, data = doc.generation, file.data
        # chunks of an attempt that stopped half-way are never visible; clear them first
        self._index.remove(doc_id, keep_generation=live_generation)
        # parsing renews nothing while it runs: hold the claim for its whole time limit
        self._renew(doc_id, token, 5, extra=settings.knowledge_parse_timeout_s)
        sections = extract_sections(kind, data, settings)
        self._renew(doc_id, token, 10)
        chunks = chunk_sections(
            sections, size=settings.knowledge_chunk_chars, overlap=settings.knowledge_chunk_overlap
        )
        if not chunks:
            raise DocumentRejected("no_text", "No text was found in the document")
        vectors: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = [c.text for c in chunks[start : start + EMBED_BATCH]]
            vectors.extend(self._embedder.passages(batch))
            done = min(len(chunks), start + EMBED_BATCH)
            self._renew(doc_id, token, 10 + int(85 * done / len(chunks)))
        generation = live_generation + 1
        self._index.add(
            document_id=doc_id,
            agent_id=agent_id,
            org_id=org_id,
            generation=generation,
            source=name,
            chunks=chunks,
            vectors=np.stack(vectors),
        )
        now = _now()
        with self._sessions() as db:
            result = db.execute(
                update(KnowledgeDocument)
                .where(KnowledgeDocument.id == doc_id, KnowledgeDocument.claim_token == token)
                .values(
                    status="ready",
                    error=None,
                    progress=100,
                    chunk_count=len(chunks),
                    generation=generation,
                    attempts=0,
                    claim_token=None,
                    lease_expires_at=None,
                    indexed_at=now,
                    updated_at=now,
                )
            )
            db.commit()
        if rows_affected(result) != 1:
            # deleted or re-queued meanwhile: our generation never became visible
            self._index.remove(doc_id, keep_generation=self._live_generation(doc_id))
            raise Abandoned(doc_id)
        self._index.remove(doc_id, keep_generation=generation)
        log.info("indexed knowledge document %s (%d chunks)", doc_id, len(chunks))

    def _live_generation(self, doc_id: str) -> int:
        with self._sessions() as db:
            generation = db.scalar(
                select(KnowledgeDocument.generation).where(KnowledgeDocument.id == doc_id)
            )
        return -1 if generation is None else int(generation)

    def _fail(self, doc_id: str, token: str, reason: str) -> None:
        now = _now()
        with self._sessions() as db:
            result = db.execute(
                update(KnowledgeDocument)
                .where(KnowledgeDocument.id == doc_id, KnowledgeDocument.claim_token == token)
                .values(
                    status="failed",
                    error=reason[:500],
                    progress=0,
                    chunk_count=0,
                    generation=0,
                    claim_token=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            db.commit()
        if rows_affected(result) == 1:
            self._index.remove(doc_id)
            log.info("knowledge document %s failed: %s", doc_id, reason)
