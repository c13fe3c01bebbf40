"""The knowledge index interface shared by the SQLite and PostgreSQL implementations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from vocable.knowledge.chunking import Chunk

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 32


@dataclass(frozen=True)
class Hit:
    """One chunk found for a query; ``rank`` is 1-based within its ranking."""

    chunk_id: int
    document_id: str
    seq: int
    text: str
    source: str
    page: int | None
    rank: int


@dataclass(frozen=True)
class Rankings:
    by_meaning: list[Hit]
    by_words: list[Hit]


class KnowledgeIndex(Protocol):
    """Chunks and vectors, written per document generation and searched per agent."""

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
        """Write every chunk of one generation in one transaction."""
        ...

    def remove(self, document_id: str, *, keep_generation: int | None = None) -> None:
        """Remove the document's chunks, except those of ``keep_generation``."""
        ...

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
        """Nearest chunks and best full-text matches among ``live`` (document → generation)."""
        ...

    def sweep(self, live: dict[str, int]) -> int:
        """Remove chunks of documents that no longer exist or of superseded generations."""
        ...

    def count(self, document_id: str | None = None) -> int: ...

    def close(self) -> None: ...


def query_terms(text: str) -> list[str]:
    """Distinct lower-case words of a query, for an OR full-text query."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        seen.setdefault(word, None)
    return list(seen)[:MAX_QUERY_TERMS]
