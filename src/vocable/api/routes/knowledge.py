"""An agent's knowledge base: documents (upload, URL, status, re-index, delete), the
dashboard's retrieval test, and the worker's per-turn retrieval.

Organisation isolation is the agents routes' rule: another organisation's agent is a 404.
Ingestion runs in the background (``vocable.knowledge.ingest``); these routes only store
the document and answer with its status.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from vocable.agents import service as agent_service
from vocable.api.deps import ActorDep, DbDep, PlatformDep, PrincipalDep, WorkerDep
from vocable.api.errors import ApiError
from vocable.db.models import Agent, KnowledgeDocument, VoiceSession
from vocable.knowledge import documents
from vocable.knowledge.runtime import KnowledgeRuntime, start_knowledge
from vocable.knowledge.schemas import (
    KnowledgeDocumentPublic,
    KnowledgePassage,
    KnowledgeSearchRequest,
    KnowledgeSearchResponse,
    KnowledgeUrlRequest,
)
from vocable.knowledge.search import search_agent
from vocable.outbound import OutboundPolicy, OutboundRefused, fetch


@asynccontextmanager
async def knowledge_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Starts ingestion with the API and stops it on shutdown (router lifespan)."""
    runtime = start_knowledge(app.state.platform)
    app.state.knowledge = runtime
    try:
        yield
    finally:
        runtime.close()


router = APIRouter(lifespan=knowledge_lifespan)

_BASE = "/api/agents/{agent_id}/knowledge"
# multipart framing around the file: boundaries, part headers, the file name
_MULTIPART_OVERHEAD = 64 * 1024


def get_knowledge(request: Request) -> KnowledgeRuntime:
    runtime: KnowledgeRuntime = request.app.state.knowledge
    return runtime


KnowledgeDep = Annotated[KnowledgeRuntime, Depends(get_knowledge)]


def _agent_or_404(db: DbDep, principal: PrincipalDep, agent_id: str) -> Agent:
    agent = agent_service.get_org_agent(db, org_id=principal.org_id, agent_id=agent_id)
    if agent is None:
        raise ApiError(404, "agent_not_found", "Agent not found")
    return agent


def _document_or_404(db: DbDep, agent: Agent, document_id: str) -> KnowledgeDocument:
    doc = documents.get_document(db, agent=agent, document_id=document_id)
    if doc is None:
        raise ApiError(404, "document_not_found", "Document not found")
    return doc


@router.get(_BASE, tags=["knowledge"])
def list_documents(
    agent_id: str, db: DbDep, principal: PrincipalDep
) -> list[KnowledgeDocumentPublic]:
    agent = _agent_or_404(db, principal, agent_id)
    return [
        KnowledgeDocumentPublic.model_validate(d) for d in documents.list_documents(db, agent=agent)
    ]


@router.post(
    _BASE,
    status_code=202,
    tags=["knowledge"],
    summary="Upload a document (multipart field `file`: PDF, DOCX, HTML, Markdown or text)",
    responses={409: {}, 411: {}, 413: {}, 415: {}, 422: {}},
)
async def upload_document(
    agent_id: str,
    request: Request,
    principal: PrincipalDep,
    platform: PlatformDep,
    knowledge: KnowledgeDep,
    actor: ActorDep,
) -> KnowledgeDocumentPublic:
    settings = platform.settings
    # refuse an oversized body before the multipart parser spools any of it
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise ApiError(411, "length_required", "Send the upload with a Content-Length header")
    if int(declared) > settings.knowledge_max_file_bytes + _MULTIPART_OVERHEAD:
        raise ApiError(
            413, "too_large", f"Document exceeds the {settings.knowledge_max_file_bytes}-byte limit"
        )
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                422,
                "invalid_request",
                "Invalid request: check file",
                errors=[{"field": "file", "message": "a file is required"}],
            )
        data = await upload.read(settings.knowledge_max_file_bytes + 1)
        name = upload.filename or "document"
    finally:
        await form.close()

    def _store() -> KnowledgeDocument:
        with platform.sessions() as db:
            agent = _agent_or_404(db, principal, agent_id)
            return documents.add_document(
                db, agent=agent, name=name, data=data, settings=settings, actor=actor
            )

    doc = await run_in_threadpool(_store)
    knowledge.ingestor.notify()
    return KnowledgeDocumentPublic.model_validate(doc)


@router.post(
    _BASE + "/url",
    status_code=202,
    tags=["knowledge"],
    summary="Add a public web page or document by URL (fetched under the outbound rules)",
    responses={409: {}, 413: {}, 415: {}, 422: {}},
)
def add_url(
    agent_id: str,
    body: KnowledgeUrlRequest,
    db: DbDep,
    principal: PrincipalDep,
    platform: PlatformDep,
    knowledge: KnowledgeDep,
    actor: ActorDep,
) -> KnowledgeDocumentPublic:
    agent = _agent_or_404(db, principal, agent_id)
    settings = platform.settings
    # a plain def: the bounded fetch (outbound total timeout) runs in the thread pool
    policy = dataclasses.replace(
        OutboundPolicy.from_settings(settings), max_bytes=settings.knowledge_max_file_bytes
    )
    try:
        fetched = fetch(body.url, policy)
    except OutboundRefused as e:
        status = 413 if e.reason == "too_large" else 422
        raise ApiError(
            status, e.reason.value, e.message, errors=[{"field": "url", "message": e.message}]
        ) from None
    doc = documents.add_document(
        db,
        agent=agent,
        name=_name_of_url(body.url),
        data=fetched.body,
        settings=settings,
        source_url=_without_query(body.url),
        actor=actor,
    )
    knowledge.ingestor.notify()
    return KnowledgeDocumentPublic.model_validate(doc)


def _without_query(url: str) -> str:
    # the query string may hold a token: never stored or shown
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"[:2048]


def _name_of_url(url: str) -> str:
    parts = urlsplit(url)
    tail = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return f"{parts.hostname}/{tail}" if tail else str(parts.hostname or "page")


@router.post(_BASE + "/search", tags=["knowledge"], summary="Test retrieval for an agent")
def search(
    agent_id: str,
    body: KnowledgeSearchRequest,
    db: DbDep,
    principal: PrincipalDep,
    knowledge: KnowledgeDep,
) -> KnowledgeSearchResponse:
    agent = _agent_or_404(db, principal, agent_id)
    return _search(db, knowledge, org_id=agent.org_id, agent_id=agent.id, body=body)


def _search(
    db: DbDep, knowledge: KnowledgeRuntime, *, org_id: str, agent_id: str, body: Any
) -> KnowledgeSearchResponse:
    started = time.perf_counter()
    passages = search_agent(
        db,
        index=knowledge.index,
        embedder=knowledge.embedder,
        org_id=org_id,
        agent_id=agent_id,
        query=body.query,
        top_k=body.top_k,
    )
    return KnowledgeSearchResponse(
        results=[KnowledgePassage(**dataclasses.asdict(p)) for p in passages],
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


@router.get(_BASE + "/{document_id}", tags=["knowledge"])
def get_document(
    agent_id: str, document_id: str, db: DbDep, principal: PrincipalDep
) -> KnowledgeDocumentPublic:
    agent = _agent_or_404(db, principal, agent_id)
    return KnowledgeDocumentPublic.model_validate(_document_or_404(db, agent, document_id))


@router.delete(_BASE + "/{document_id}", status_code=204, tags=["knowledge"])
def delete_document(
    agent_id: str,
    document_id: str,
    db: DbDep,
    principal: PrincipalDep,
    knowledge: KnowledgeDep,
    actor: ActorDep,
) -> None:
    agent = _agent_or_404(db, principal, agent_id)
    doc = _document_or_404(db, agent, document_id)
    documents.delete_document(db, doc, index=knowledge.index, actor=actor)


@router.post(_BASE + "/{document_id}/reindex", status_code=202, tags=["knowledge"])
def reindex_document(
    agent_id: str, document_id: str, db: DbDep, principal: PrincipalDep, knowledge: KnowledgeDep
) -> KnowledgeDocumentPublic:
    agent = _agent_or_404(db, principal, agent_id)
    doc = documents.request_reindex(db, _document_or_404(db, agent, document_id))
    knowledge.ingestor.notify()
    return KnowledgeDocumentPublic.model_validate(doc)


@router.post("/internal/sessions/{session_id}/knowledge/search", include_in_schema=False)
def session_search(
    session_id: str,
    body: KnowledgeSearchRequest,
    db: DbDep,
    knowledge: KnowledgeDep,
    _: WorkerDep,
) -> KnowledgeSearchResponse:
    """The worker's per-turn retrieval, scoped here to the session's own agent."""
    row = db.get(VoiceSession, session_id)
    if row is None:
        raise ApiError(404, "session_not_found", "Session not found")
    if row.status == "ended" or row.hard_deadline <= datetime.now(UTC):
        raise ApiError(409, "session_closed", "Session has ended or expired")
    return _search(db, knowledge, org_id=row.org_id, agent_id=row.agent_id, body=body)
