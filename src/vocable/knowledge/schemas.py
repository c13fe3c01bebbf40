"""Request and response bodies of the knowledge-base routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KnowledgeDocumentPublic(BaseModel):
    """A document and how far its ingestion got (``progress`` in percent)."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    agent_id: str
    name: str
    kind: Literal["pdf", "docx", "html", "markdown", "text"]
    size_bytes: int
    source_url: str | None
    status: Literal["pending", "processing", "ready", "failed"]
    error: str | None
    progress: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime
    indexed_at: datetime | None


class KnowledgeSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=20)


class KnowledgePassage(BaseModel):
    text: str
    source: str
    page: int | None
    score: float
    document_id: str
    chunk: int


class KnowledgeSearchResponse(BaseModel):
    results: list[KnowledgePassage]
    took_ms: float


class KnowledgeUrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2048)
