"""Hybrid search: nearest chunks by meaning and best by words, fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vocable.db.models import KnowledgeDocument
from vocable.knowledge.embedding import Embedder
from vocable.knowledge.index import Hit, KnowledgeIndex

RRF_K = 60
"""The usual reciprocal-rank-fusion constant: later ranks still count, gently."""
CANDIDATES = 20
"""Each ranking contributes this many candidates (at least) to the fusion."""


@dataclass(frozen=True)
class Passage:
    text: str
    source: str
    page: int | None
    score: float
    document_id: str
    chunk: int


def live_documents(db: Session, *, org_id: str, agent_id: str) -> dict[str, int]:
    """Searchable documents of one agent of one organisation → their live generation."""
    rows = db.execute(
        select(KnowledgeDocument.id, KnowledgeDocument.generation).where(
            KnowledgeDocument.org_id == org_id,
            KnowledgeDocument.agent_id == agent_id,
            KnowledgeDocument.generation > 0,
        )
    )
    return {doc_id: generation for doc_id, generation in rows}


def fuse(by_meaning: list[Hit], by_words: list[Hit], *, top_k: int) -> list[Passage]:
    """Reciprocal-rank fusion of two rankings; the score is the fused score."""
    scores: dict[int, float] = {}
    hits: dict[int, Hit] = {}
    for ranking in (by_meaning, by_words):
        for hit in ranking:
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + hit.rank)
            hits.setdefault(hit.chunk_id, hit)
    best = sorted(scores, key=lambda cid: (-scores[cid], cid))[:top_k]
    return [
        Passage(
            text=hits[c].text,
            source=hits[c].source,
            page=hits[c].page,
            score=round(scores[c], 6),
            document_id=hits[c].document_id,
            chunk=hits[c].seq,
        )
        for c in best
    ]


def search_agent(
    db: Session,
    *,
    index: KnowledgeIndex,
    embedder: Embedder,
    org_id: str,
    agent_id: str,
    query: str,
    top_k: int,
) -> list[Passage]:
    """The ``top_k`` passages of one agent's ready documents for ``query`` (blocking)."""
    live = live_documents(db, org_id=org_id, agent_id=agent_id)
    if not live or not query.strip():
        return []
    vector = embedder.query(query)
    rankings = index.search(
        agent_id=agent_id,
        org_id=org_id,
        live=live,
        vector=vector,
        text=query,
        limit=max(CANDIDATES, top_k * 2),
    )
    return fuse(rankings.by_meaning, rankings.by_words, top_k=top_k)
