"""Knowledge retrieval during a call: before the LLM answers a user turn, the top
passages of the session's agent are fetched from the API and placed in the context.

The API scopes the search to the session's own agent (the worker never names one).
Retrieval has a latency budget: past it, the turn is answered without passages. Each
retrieval's time is kept and reported with the call's usage.

The hook is ``llm_node`` rather than ``on_user_turn_completed`` because typed messages
(``generate_reply(user_input=...)``) never pass through ``on_user_turn_completed``; the
passages go into this generation's copy of the context only, so the transcript and the
stored history stay free of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from livekit.agents import Agent, ModelSettings
from livekit.agents.llm import ChatContext, ChatMessage, Tool

from vocable.providers.registry import EngineFactory
from vocable.worker.bridge import HeldMessages
from vocable.worker.channel import WorkerChannel

log = logging.getLogger(__name__)

MAX_PASSAGE_CHARS = 1200
SHORT_QUERY_WORDS = 4
"""A follow-up this short ("and on Sundays?") is searched together with the turn before."""
HEADER = (
    "Passages from the knowledge base that may answer the caller's next message. "
    "Answer from them when they are relevant; do not invent facts they do not contain."
)


@dataclass(frozen=True)
class Retrieval:
    context: str | None
    ms: float
    passages: int
    skipped: str | None = None


@dataclass
class KnowledgeRetriever:
    """Calls ``POST /internal/sessions/{id}/knowledge/search`` within ``budget_ms``."""

    http: httpx.AsyncClient
    session_id: str
    top_k: int
    budget_ms: int
    records: list[dict[str, Any]] = field(default_factory=list)

    async def retrieve(self, query: str) -> Retrieval:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.budget_ms / 1000):
                resp = await self.http.post(
                    f"/internal/sessions/{self.session_id}/knowledge/search",
                    json={"query": query[:2000], "top_k": self.top_k},
                )
                resp.raise_for_status()
                results = resp.json()["results"]
            result = Retrieval(
                context=format_passages(results), ms=_ms(started), passages=len(results)
            )
        except TimeoutError:
            result = Retrieval(context=None, ms=_ms(started), passages=0, skipped="over_budget")
        except (httpx.HTTPError, KeyError, ValueError) as e:
            log.warning("knowledge retrieval failed: %s", type(e).__name__)
            result = Retrieval(context=None, ms=_ms(started), passages=0, skipped="error")
        record: dict[str, Any] = {"retrieval_ms": result.ms, "passages": result.passages}
        if result.skipped:
            record["skipped"] = result.skipped
        self.records.append(record)
        return result

    def usage(self) -> dict[str, Any]:
        """Per-turn retrieval figures for the call record."""
        times = [r["retrieval_ms"] for r in self.records if "skipped" not in r]
        return {
            "budget_ms": self.budget_ms,
            "turns": self.records,
            "skipped": sum(1 for r in self.records if "skipped" in r),
            "max_ms": max(times) if times else None,
        }


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def format_passages(results: list[dict[str, Any]]) -> str | None:
    """The passages as one system message, each with its source (and page)."""
    if not results:
        return None
    lines = [HEADER]
    for i, r in enumerate(results, start=1):
        where = str(r["source"]) + (f", page {r['page']}" if r.get("page") else "")
        lines.append(f"[{i}] ({where}) {str(r['text'])[:MAX_PASSAGE_CHARS]}")
    return "\n".join(lines)


def retrieval_query(chat_ctx: ChatContext) -> tuple[ChatMessage, str] | None:
    """The last user message and the text to search for it."""
    users = [m for m in chat_ctx.items if isinstance(m, ChatMessage) and m.role == "user"]
    if not users:
        return None
    last = users[-1]
    query = (last.text_content or "").strip()
    if not query:
        return None
    if len(query.split()) < SHORT_QUERY_WORDS and len(users) > 1:
        query = f"{(users[-2].text_content or '').strip()} {query}".strip()
    return last, query


class KnowledgeAgent(Agent):
    """An ``Agent`` that adds its knowledge base's passages to each user turn."""

    def __init__(
        self,
        *,
        instructions: str,
        retriever: KnowledgeRetriever,
        searchable: bool = True,
        held: HeldMessages | None = None,
        greeting: str = "",
        ends_on: Callable[[str], bool] | None = None,
    ) -> None:
        """``ends_on`` sees each caller message before the LLM does; when it says the
        message ends the call (an end-call phrase), the LLM does not answer it."""
        super().__init__(instructions=instructions)
        self._ends_on = ends_on
        self._checked: set[str] = set()
        self._retriever = retriever
        self._searchable = searchable
        self._held = held
        self._greeting = greeting
        self._contexts: dict[str, str | None] = {}

    async def on_enter(self) -> None:
        """The agent has joined the call: it greets the caller (who may cut in)."""
        if self._greeting:
            self.session.say(self._greeting)  # interruptible as the agent's settings say

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        """A spoken turn takes along what the caller typed while saying it (one reply
        answers both; the call record keeps both in this turn)."""
        typed = self._held.take() if self._held is not None else []
        if typed:
            new_message.content = [*typed, *new_message.content]

    def usage(self) -> dict[str, Any]:
        return self._retriever.usage()

    async def llm_node(
        self, chat_ctx: ChatContext, tools: list[Tool], model_settings: ModelSettings
    ) -> AsyncIterable[Any]:
        if self._ends_call(chat_ctx):
            return
        await self._add_passages(chat_ctx)
        async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
            yield chunk

    def _ends_call(self, chat_ctx: ChatContext) -> bool:
        if self._ends_on is None:
            return False
        users = [m for m in chat_ctx.items if isinstance(m, ChatMessage) and m.role == "user"]
        if not users or users[-1].id in self._checked:
            return False  # a generation after a tool result: the message was checked
        self._checked.add(users[-1].id)
        return self._ends_on(users[-1].text_content or "")

    async def _add_passages(self, chat_ctx: ChatContext) -> None:
        if not self._searchable:
            return  # an agent without documents: no search on the turn's critical path
        found = retrieval_query(chat_ctx)
        if found is None:
            return
        message, query = found
        if message.id not in self._contexts:
            # one retrieval per user turn, also when tool results trigger another generation
            self._contexts[message.id] = (await self._retriever.retrieve(query)).context
        context = self._contexts[message.id]
        if context is None:
            return
        at = chat_ctx.items.index(message)
        chat_ctx.items.insert(at, ChatMessage(role="system", content=[context]))


def knowledge_agent(
    *,
    instructions: str,
    channel: WorkerChannel,
    factory: EngineFactory,
    session_id: str,
    searchable: bool = True,
    held: HeldMessages | None = None,
    greeting: str = "",
    ends_on: Callable[[str], bool] | None = None,
) -> KnowledgeAgent:
    """The call's agent with retrieval over the worker channel's authenticated client."""
    settings = factory.settings
    return KnowledgeAgent(
        instructions=instructions,
        searchable=searchable,
        held=held,
        greeting=greeting,
        ends_on=ends_on,
        retriever=KnowledgeRetriever(
            http=channel.http,
            session_id=session_id,
            top_k=settings.knowledge_retrieval_top_k,
            budget_ms=settings.knowledge_retrieval_budget_ms,
        ),
    )
