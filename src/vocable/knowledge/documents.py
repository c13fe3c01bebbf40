"""Documents of an agent's knowledge base: create (with limits), list, re-index, delete."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts.errors import (
    ConflictError,
    DomainError,
    InvalidError,
    NotFoundError,
    TooLargeError,
    UnsupportedError,
    field_error,
)
from vocable.db.models import Agent, KnowledgeDocument, KnowledgeFile
from vocable.ids import new_id
from vocable.knowledge.index import KnowledgeIndex
from vocable.knowledge.sniff import DocumentRejected, sniff
from vocable.outbound import OutboundPolicy, OutboundRefused, RefusalReason, fetch
from vocable.settings import Settings

MAX_NAME_CHARS = 255


class DocumentNotFound(NotFoundError):
    """No such document in the agent's knowledge base."""

    def __init__(self) -> None:
        super().__init__("document_not_found", "Document not found")


def document_too_large(limit: int, field: str = "file") -> DomainError:
    """413 naming the file (or URL) whose document passes ``limit`` bytes."""
    return field_error(
        TooLargeError, "too_large", field, f"Document exceeds the {limit}-byte limit"
    )


def _refusal(e: DocumentRejected) -> DomainError:
    kind = UnsupportedError if e.code == "unsupported_type" else InvalidError
    return kind(e.code, e.reason, errors=[{"field": "file", "message": e.reason}])


def check_quota(db: Session, *, org_id: str, adding: int, settings: Settings) -> None:
    used, count = db.execute(
        select(func.coalesce(func.sum(KnowledgeDocument.size_bytes), 0), func.count()).where(
            KnowledgeDocument.org_id == org_id
        )
    ).one()
    if count + 1 > settings.knowledge_org_max_documents:
        raise ConflictError(
            "quota_exceeded",
            f"Your organisation has reached its limit of {settings.knowledge_org_max_documents} "
            "knowledge documents",
        )
    if int(used) + adding > settings.knowledge_org_quota_bytes:
        raise ConflictError(
            "quota_exceeded",
            "This document would exceed your organisation's knowledge storage quota "
            f"({settings.knowledge_org_quota_bytes} bytes)",
        )


def add_document(
    db: Session,
    *,
    agent: Agent,
    name: str,
    data: bytes,
    settings: Settings,
    source_url: str | None = None,
    actor: Actor | None = None,
) -> KnowledgeDocument:
    """Check and store a document as ``pending``; ingestion picks it up in the background.

    ``knowledge_document.created`` is written in the same commit."""
    if len(data) > settings.knowledge_max_file_bytes:
        raise document_too_large(settings.knowledge_max_file_bytes)
    try:
        kind = sniff(
            data, filename=name, max_unzipped_bytes=settings.knowledge_max_unzipped_bytes
        ).kind
    except DocumentRejected as e:
        raise _refusal(e) from None
    check_quota(db, org_id=agent.org_id, adding=len(data), settings=settings)
    doc = KnowledgeDocument(
        id=new_id("doc"),
        org_id=agent.org_id,
        agent_id=agent.id,
        name=(name.strip() or "document")[:MAX_NAME_CHARS],
        kind=kind,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        source_url=source_url,
        status="pending",
        progress=0,
        chunk_count=0,
        generation=0,
        attempts=0,
    )
    db.add(doc)
    db.add(KnowledgeFile(document_id=doc.id, data=data))
    audit.record(
        db,
        org_id=agent.org_id,
        actor=actor,
        action="knowledge_document.created",
        target_id=doc.id,
        details={"agent_id": agent.id, "source": "url" if source_url else "upload"},
    )
    db.commit()
    return doc


def list_documents(db: Session, *, agent: Agent) -> list[KnowledgeDocument]:
    return list(
        db.scalars(
            select(KnowledgeDocument)
            .where(KnowledgeDocument.agent_id == agent.id, KnowledgeDocument.org_id == agent.org_id)
            .order_by(KnowledgeDocument.created_at.desc(), KnowledgeDocument.id)
        )
    )


def get_document(db: Session, *, agent: Agent, document_id: str) -> KnowledgeDocument | None:
    doc = db.get(KnowledgeDocument, document_id)
    if doc is None or doc.agent_id != agent.id or doc.org_id != agent.org_id:
        return None
    return doc


def require_document(db: Session, *, agent: Agent, document_id: str) -> KnowledgeDocument:
    """The agent's document, or ``DocumentNotFound``."""
    doc = get_document(db, agent=agent, document_id=document_id)
    if doc is None:
        raise DocumentNotFound()
    return doc


def add_document_from_url(
    db: Session, *, agent: Agent, url: str, settings: Settings, actor: Actor | None = None
) -> KnowledgeDocument:
    """Fetch ``url`` under the outbound rules (blocking, bounded by their total timeout)
    and store it like an upload; a refused fetch names the field ``url``."""
    policy = dataclasses.replace(
        OutboundPolicy.from_settings(settings), max_bytes=settings.knowledge_max_file_bytes
    )
    try:
        fetched = fetch(url, policy)
    except OutboundRefused as e:
        kind = TooLargeError if e.reason == RefusalReason.TOO_LARGE else InvalidError
        raise kind(
            e.reason.value, e.message, errors=[{"field": "url", "message": e.message}]
        ) from None
    return add_document(
        db,
        agent=agent,
        name=_name_of_url(url),
        data=fetched.body,
        settings=settings,
        source_url=_without_query(url),
        actor=actor,
    )


def _without_query(url: str) -> str:
    # the query string may hold a token: never stored or shown
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"[:2048]


def _name_of_url(url: str) -> str:
    parts = urlsplit(url)
    tail = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return f"{parts.hostname}/{tail}" if tail else str(parts.hostname or "page")


def request_reindex(db: Session, doc: KnowledgeDocument) -> KnowledgeDocument:
    """Queue the document again. Its current chunks stay searchable until the new ones
    replace them; an ingestion already running for it is abandoned (its claim is void)."""
    doc.status = "pending"
    doc.error = None
    doc.progress = 0
    doc.attempts = 0
    doc.claim_token = None
    doc.lease_expires_at = None
    doc.updated_at = datetime.now(UTC)
    db.commit()
    return doc


def delete_document(
    db: Session, doc: KnowledgeDocument, *, index: KnowledgeIndex, actor: Actor | None = None
) -> None:
    """Delete the document, its file, and every chunk and vector of it.

    The row goes first (search stops seeing the document at once); if the process stops
    before the index is cleaned, the start-up sweep removes the orphaned chunks.
    """
    document_id = doc.id
    audit.record(
        db,
        org_id=doc.org_id,
        actor=actor,
        action="knowledge_document.deleted",
        target_id=document_id,
        details={"agent_id": doc.agent_id},
    )
    db.delete(doc)
    db.commit()
    index.remove(document_id)
