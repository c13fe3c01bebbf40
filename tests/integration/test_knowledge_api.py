"""Knowledge base over real HTTP on SQLite and PostgreSQL: upload every document type,
background ingestion, hybrid search with sources and pages, isolation, hostile files,
limits, delete, re-index and recovery after a stopped ingestion."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import pytest
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.support.servers import ApiServer, make_platform, make_settings, running_api
from tests.unit.test_knowledge_parsing import (
    make_docx,
    make_encrypted_pdf,
    make_pdf,
    make_zip_bomb_docx,
)

from vocable.db.models import KnowledgeDocument
from vocable.knowledge.chunking import Chunk
from vocable.knowledge.runtime import open_index

MAX_FILE = 300_000
QUOTA = 1_000_000


PUBLISHED_PAGE = (
    b"<!DOCTYPE html><html><head><title>Opening hours</title></head><body><article>"
    b"<p>On public holidays the bakery opens at eleven and the till closes at two.</p>"
    b"</article></body></html>"
)


class _DocumentSite(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PUBLISHED_PAGE)))
        self.end_headers()
        self.wfile.write(PUBLISHED_PAGE)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def doc_site() -> Iterator[int]:
    """A customer's web page on 127.0.0.1, the only local address the API may fetch."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DocumentSite)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()


@pytest.fixture(scope="module")
def kb_api(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    doc_site: int,
) -> Iterator[ApiServer]:
    """The API with small knowledge limits and a short ingestion lease."""
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        database_url_for(request, backend, "k_" + secrets.token_hex(6)),
        outbound_allow_hosts=[f"127.0.0.1:{doc_site}"],
        knowledge_max_file_bytes=MAX_FILE,
        knowledge_org_quota_bytes=QUOTA,
        knowledge_lease_seconds=1.0,
        knowledge_poll_seconds=0.2,
        max_concurrent_sessions_per_org=100,
    )
    with running_api(make_platform(settings)) as server:
        yield server


@pytest.fixture
def owner(kb_api: ApiServer) -> Tenant:
    return make_tenant(kb_api.platform)


@pytest.fixture
def client(kb_api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=kb_api.url, timeout=60) as c:
        yield c


def _key(tenant: Tenant) -> dict[str, str]:
    return {"x-api-key": tenant.api_key}


def upload(
    client: httpx.Client, tenant: Tenant, name: str, data: bytes, agent_id: str | None = None
) -> httpx.Response:
    return client.post(
        f"/api/agents/{agent_id or tenant.agent_id}/knowledge",
        files={"file": (name, data, "application/octet-stream")},
        headers=_key(tenant),
    )


def wait_done(client: httpx.Client, tenant: Tenant, doc_id: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.get(
            f"/api/agents/{tenant.agent_id}/knowledge/{doc_id}", headers=_key(tenant)
        ).json()
        if doc["status"] in ("ready", "failed"):
            return doc
        time.sleep(0.1)
    raise AssertionError(f"document {doc_id} still {doc['status']}")


def search(
    client: httpx.Client, tenant: Tenant, query: str, agent_id: str | None = None
) -> httpx.Response:
    return client.post(
        f"/api/agents/{agent_id or tenant.agent_id}/knowledge/search",
        json={"query": query, "top_k": 3},
        headers=_key(tenant),
    )


def add_ready(client: httpx.Client, tenant: Tenant, name: str, text: str) -> dict[str, Any]:
    resp = upload(client, tenant, name, text.encode())
    assert resp.status_code == 202, resp.text
    doc = wait_done(client, tenant, resp.json()["id"])
    assert doc["status"] == "ready", doc
    return dict(doc)


def test_every_document_type_is_ingested_and_found_with_source_and_page(
    client: httpx.Client, owner: Tenant
) -> None:
    uploads = {
        "menu.pdf": make_pdf(
            [
                "Rosa's Bakery menu. Bread, cakes and pastries.",
                "Parking: customers park free in the Maple Street garage, level three.",
            ]
        ),
        "staff.docx": make_docx(["Our head baker is Ottoline Brisk.", "She trained in Lyon."]),
        "faq.md": b"# Deliveries\n\nWe deliver **wedding cakes** within 20 kilometres.",
        "about.html": (
            b"<!DOCTYPE html><html><head><title>About</title><script>x()</script></head>"
            b"<body><article><p>The bakery was founded in 1987 by Rosa Lindqvist.</p>"
            b"</article></body></html>"
        ),
        "wifi.txt": "Le mot de passe du wifi est « baguette-42 ».".encode("cp1252"),
    }
    ids = {}
    for name, data in uploads.items():
        resp = upload(client, owner, name, data)
        assert resp.status_code == 202, resp.text
        body = resp.json()
        assert body["status"] in ("pending", "processing", "ready") and body["name"] == name
        ids[name] = body["id"]
    for name, doc_id in ids.items():
        doc = wait_done(client, owner, doc_id)
        assert doc["status"] == "ready", (name, doc)
        assert doc["progress"] == 100 and doc["chunk_count"] >= 1
    kinds = {
        d["name"]: d["kind"]
        for d in client.get(f"/api/agents/{owner.agent_id}/knowledge", headers=_key(owner)).json()
    }
    assert kinds == {
        "menu.pdf": "pdf",
        "staff.docx": "docx",
        "faq.md": "markdown",
        "about.html": "html",
        "wifi.txt": "text",
    }

    cases = [
        ("Where can I park my car?", "menu.pdf", 2, "Maple Street"),
        ("Who is the head baker?", "staff.docx", None, "Ottoline"),
        ("Do you deliver wedding cakes?", "faq.md", None, "20 kilometres"),
        ("When was the bakery founded?", "about.html", None, "1987"),
        ("Quel est le mot de passe du wifi ?", "wifi.txt", None, "baguette-42"),
    ]
    for query, source, page, needle in cases:
        resp = search(client, owner, query)
        assert resp.status_code == 200, resp.text
        top = resp.json()["results"][0]
        assert (top["source"], top["page"]) == (source, page), (query, resp.json())
        assert needle in top["text"] and top["score"] > 0


def test_a_document_added_by_url_is_fetched_safely_and_found(
    client: httpx.Client, owner: Tenant, doc_site: int
) -> None:
    url = f"http://127.0.0.1:{doc_site}/hours.html?token=s3cret-query"
    resp = client.post(
        f"/api/agents/{owner.agent_id}/knowledge/url", json={"url": url}, headers=_key(owner)
    )
    assert resp.status_code == 202, resp.text
    doc = wait_done(client, owner, resp.json()["id"])
    assert doc["status"] == "ready" and doc["kind"] == "html", doc
    assert "s3cret-query" not in str(doc)  # the query string (often a token) is not kept
    top = search(client, owner, "When do you open on public holidays?").json()["results"][0]
    assert "eleven" in top["text"]
    # any other local address is refused before a connection, naming the field
    for bad in (
        f"http://127.0.0.1:{doc_site + 1}/x",
        "http://169.254.169.254/latest/",
        "file:///etc/passwd",
    ):
        refused = client.post(
            f"/api/agents/{owner.agent_id}/knowledge/url", json={"url": bad}, headers=_key(owner)
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["errors"][0]["field"] == "url"


def _session_for(client: httpx.Client, tenant: Tenant, agent_id: str) -> str:
    resp = client.post("/api/agents/agent-session/", json={"agent": agent_id}, headers=_key(tenant))
    assert resp.status_code == 200, resp.text
    return str(resp.json()["data"]["session_id"])


def test_an_agent_never_retrieves_another_agents_or_organisations_chunks(
    kb_api: ApiServer, client: httpx.Client, owner: Tenant
) -> None:
    add_ready(client, owner, "secret.txt", "The vault code of the bakery is 7319.")
    query = "What is the vault code?"
    assert "7319" in search(client, owner, query).json()["results"][0]["text"]

    sibling = client.post("/api/agents", json={"name": "Other desk"}, headers=_key(owner)).json()[
        "id"
    ]
    assert search(client, owner, query, agent_id=sibling).json()["results"] == []

    stranger = make_tenant(kb_api.platform)
    add_ready(client, stranger, "theirs.txt", "Their vault code is 1111.")
    results = search(client, stranger, query).json()["results"]
    assert results and all("7319" not in r["text"] for r in results)
    # another organisation's agent does not exist for this key
    assert search(client, stranger, query, agent_id=owner.agent_id).status_code == 404
    assert (
        client.get(f"/api/agents/{owner.agent_id}/knowledge", headers=_key(stranger)).status_code
        == 404
    )

    # the worker's endpoint is scoped server-side to the session's agent
    worker = {"Authorization": f"Bearer {kb_api.platform.secrets.worker_token}"}
    own = _session_for(client, owner, owner.agent_id)
    other = _session_for(client, owner, sibling)
    foreign = _session_for(client, stranger, stranger.agent_id)

    def internal(session_id: str, headers: dict[str, str]) -> httpx.Response:
        return client.post(
            f"/internal/sessions/{session_id}/knowledge/search",
            json={"query": query, "top_k": 5},
            headers=headers,
        )

    assert "7319" in internal(own, worker).json()["results"][0]["text"]
    assert internal(other, worker).json()["results"] == []
    assert all("7319" not in r["text"] for r in internal(foreign, worker).json()["results"])
    assert internal(own, _key(owner)).status_code == 401


def test_corrupt_and_encrypted_pdfs_fail_with_a_reason(client: httpx.Client, owner: Tenant) -> None:
    corrupt = upload(client, owner, "broken.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40)
    locked = upload(client, owner, "locked.pdf", make_encrypted_pdf(["classified"]))
    assert corrupt.status_code == locked.status_code == 202
    broken = wait_done(client, owner, corrupt.json()["id"])
    assert broken["status"] == "failed" and "damaged" in broken["error"]
    protected = wait_done(client, owner, locked.json()["id"])
    assert protected["status"] == "failed" and "password" in protected["error"]
    assert protected["chunk_count"] == 0


def test_hostile_unsupported_and_oversized_uploads_are_refused(
    client: httpx.Client, owner: Tenant
) -> None:
    bomb = upload(client, owner, "bomb.docx", make_zip_bomb_docx())
    assert bomb.status_code == 422 and bomb.json()["code"] == "unsafe_document"
    png = upload(client, owner, "photo.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert png.status_code == 415 and png.json()["code"] == "unsupported_type"
    assert png.json()["success"] is False and png.json()["errors"][0]["field"] == "file"
    big = upload(client, owner, "big.txt", b"a " * (MAX_FILE // 2 + 10))
    assert big.status_code == 413 and big.json()["code"] == "too_large"
    assert big.json()["errors"] == [{"field": "file", "message": big.json()["message"]}]
    missing = client.post(
        f"/api/agents/{owner.agent_id}/knowledge",
        files={"other": ("x.txt", b"hello", "text/plain")},
        headers=_key(owner),
    )
    assert missing.status_code == 422


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("C:\\Users\\ana\\notes.md", "notes.md"),
        ("n" * 400 + ".md", "n" * 255),
        ("/", "document"),
    ],
)
def test_uploaded_file_names_are_stored_as_names_never_paths(
    client: httpx.Client, owner: Tenant, sent: str, stored: str
) -> None:
    response = upload(client, owner, sent, b"# Opening hours\n\nWe open at nine.\n")
    assert response.status_code == 202, response.text
    assert response.json()["name"] == stored


def test_an_unreadable_upload_names_the_file(client: httpx.Client, owner: Tenant) -> None:
    """A file name far too long for a multipart part header: the error names ``file``."""
    response = upload(client, owner, "n" * 20_000 + ".md", b"# Hours\n\nNine to six.\n")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["file"]


def test_organisation_quota_is_enforced(client: httpx.Client, kb_api: ApiServer) -> None:
    tenant = make_tenant(kb_api.platform)
    chunk = b"quota words " * (MAX_FILE // 12 - 100)
    responses = [upload(client, tenant, f"q{i}.txt", chunk) for i in range(4)]
    assert [r.status_code for r in responses] == [202, 202, 202, 409]
    assert responses[3].json()["code"] == "quota_exceeded"
    # deleting frees the quota, and abandons the ingestion of a document being indexed
    for resp in responses[:3]:
        doc_id = resp.json()["id"]
        gone = client.delete(
            f"/api/agents/{tenant.agent_id}/knowledge/{doc_id}", headers=_key(tenant)
        )
        assert gone.status_code == 204
    assert upload(client, tenant, "small.txt", b"fits again").status_code == 202


def test_delete_removes_every_chunk_and_vector(
    kb_api: ApiServer, client: httpx.Client, owner: Tenant
) -> None:
    doc = add_ready(client, owner, "gone.txt", "The old delivery van is painted teal.")
    index = open_index(kb_api.platform)
    if kb_api.platform.engine.dialect.name == "postgresql":
        # scripts/bootstrap.sh test builds pgvector into the test server
        assert getattr(index, "uses_pgvector", False), "pgvector missing: run bootstrap"
    assert index.count(doc["id"]) == doc["chunk_count"] >= 1
    resp = client.delete(f"/api/agents/{owner.agent_id}/knowledge/{doc['id']}", headers=_key(owner))
    assert resp.status_code == 204
    assert index.count(doc["id"]) == 0
    assert all(
        "teal" not in r["text"] for r in search(client, owner, "van colour teal").json()["results"]
    )
    again = client.get(f"/api/agents/{owner.agent_id}/knowledge/{doc['id']}", headers=_key(owner))
    assert again.status_code == 404


def test_reindex_keeps_the_document_searchable_and_ends_ready(
    client: httpx.Client, owner: Tenant
) -> None:
    doc = add_ready(client, owner, "hours.txt", "We open at nine on Sundays.")
    resp = client.post(
        f"/api/agents/{owner.agent_id}/knowledge/{doc['id']}/reindex", headers=_key(owner)
    )
    assert resp.status_code == 202 and resp.json()["status"] == "pending"
    assert "Sundays" in search(client, owner, "Sunday opening").json()["results"][0]["text"]
    again = wait_done(client, owner, doc["id"])
    assert again["status"] == "ready" and again["chunk_count"] == doc["chunk_count"]


def test_ingestion_interrupted_by_a_stopped_process_is_redone_without_partial_chunks(
    kb_api: ApiServer, client: httpx.Client, owner: Tenant
) -> None:
    doc = add_ready(client, owner, "cakes.txt", "Birthday cakes need two days notice.")
    # a second handle on the same index, as another API process would have
    index = open_index(kb_api.platform)
    with kb_api.platform.sessions() as db:
        row = db.get(KnowledgeDocument, doc["id"])
        assert row is not None
        # a process claimed a re-index, wrote half of a new generation, then died
        row.status = "processing"
        row.claim_token = "dead-process"
        row.lease_expires_at = datetime.now(UTC) - timedelta(seconds=5)
        generation = row.generation
        db.commit()
    junk = np.ones((1, 384), dtype=np.float32) / np.sqrt(384)
    index.add(
        document_id=doc["id"],
        agent_id=owner.agent_id,
        org_id=owner.org_id,
        generation=generation + 1,
        source="cakes.txt",
        chunks=[Chunk("HALF-WRITTEN", None)],
        vectors=junk,
    )
    hits = search(client, owner, "HALF-WRITTEN birthday").json()["results"]
    assert all("HALF-WRITTEN" not in h["text"] for h in hits), "partial chunks are invisible"
    # the running API notices the stale claim at its next poll and redoes the work
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        again = wait_done(client, owner, doc["id"])
        if again["indexed_at"] != doc["indexed_at"]:
            break
        time.sleep(0.2)
    assert again["status"] == "ready"
    assert index.count(doc["id"]) == again["chunk_count"] == doc["chunk_count"]
    hits = search(client, owner, "HALF-WRITTEN birthday").json()["results"]
    assert all("HALF-WRITTEN" not in h["text"] for h in hits)
