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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool

from vocable.api.deps import (
    ActorDep,
    DbDep,
    KnowledgeRead,
    KnowledgeWrite,
    PlatformDep,
    WorkerDep,
    reachable_agent,
)
from vocable.api.uploads import read_upload
from vocable.contracts.fields import file_name
from vocable.db.models import KnowledgeDocument
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
from vocable.sessions.worker import require_live_session


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


def get_knowledge(request: Request) -> KnowledgeRuntime:
    runtime: KnowledgeRuntime = request.app.state.knowledge
    return runtime


KnowledgeDep = Annotated[KnowledgeRuntime, Depends(get_knowledge)]


@router.get(_BASE, tags=["knowledge"])
def list_documents(
    agent_id: str, db: DbDep, principal: KnowledgeRead
) -> list[KnowledgeDocumentPublic]:
    agent = reachable_agent(db, principal, agent_id)
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
    principal: KnowledgeWrite,
    platform: PlatformDep,
    knowledge: KnowledgeDep,
    actor: ActorDep,
) -> KnowledgeDocumentPublic:
    principal.require_agent(agent_id)  # before reading the body
    settings = platform.settings
    upload = await read_upload(
        request,
        max_bytes=settings.knowledge_max_file_bytes,
        too_large=lambda: documents.document_too_large(settings.knowledge_max_file_bytes),
    )
    data, name = upload.data, file_name(upload.filename, "document", documents.MAX_NAME_CHARS)

    def _store() -> KnowledgeDocument:
        with platform.sessions() as db:
            agent = reachable_agent(db, principal, agent_id)
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
    principal: KnowledgeWrite,
    platform: PlatformDep,
    knowledge: KnowledgeDep,
    actor: ActorDep,
) -> KnowledgeDocumentPublic:
    # a plain def: the bounded fetch (outbound total timeout) runs in the thread pool
    doc = documents.add_document_from_url(
        db,
        agent=reachable_agent(db, principal, agent_id),
        url=body.url,
        settings=platform.settings,
        actor=actor,
    )
    knowledge.ingestor.notify()
    return KnowledgeDocumentPublic.model_validate(doc)


@router.post(_BASE + "/search", tags=["knowledge"], summary="Test retrieval for an agent")
def search(
    agent_id: str,
    body: KnowledgeSearchRequest,
    db: DbDep,
    principal: KnowledgeRead,
    knowledge: KnowledgeDep,
) -> KnowledgeSearchResponse:
    agent = reachable_agent(db, principal, agent_id)
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
    agent_id: str, document_id: str, db: DbDep, principal: KnowledgeRead
) -> KnowledgeDocumentPublic:
    agent = reachable_agent(db, principal, agent_id)
    return KnowledgeDocumentPublic.model_validate(
        documents.require_document(db, agent=agent, document_id=document_id)
    )


@router.delete(_BASE + "/{document_id}", status_code=204, tags=["knowledge"])
def delete_document(
    agent_id: str,
    document_id: str,
    db: DbDep,
    principal: KnowledgeWrite,
    knowledge: KnowledgeDep,
    actor: ActorDep,
) -> None:
    agent = reachable_agent(db, principal, agent_id)
    doc = documents.require_document(db, agent=agent, document_id=document_id)
    documents.delete_document(db, doc, index=knowledge.index, actor=actor)


@router.post(_BASE + "/{document_id}/reindex", status_code=202, tags=["knowledge"])
def reindex_document(
    agent_id: str,
    document_id: str,
    db: DbDep,
    principal: KnowledgeWrite,
    knowledge: KnowledgeDep,
) -> KnowledgeDocumentPublic:
    agent = reachable_agent(db, principal, agent_id)
    doc = documents.request_reindex(
        db, documents.require_document(db, agent=agent, document_id=document_id)
    )
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
    row = require_live_session(db, session_id)
    return _search(db, knowledge, org_id=row.org_id, agent_id=row.agent_id, body=body)
