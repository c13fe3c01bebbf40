"""``POST /v1/chat/completions`` on the embedded llama.cpp models, streamed or whole.

Only text is read: images are dropped, tool definitions and tool results are accepted and
ignored (the embedded engine does not offer tools to the model yet), and ``stop``,
``top_p``, ``n > 1`` and ``response_format`` are not supported.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from livekit.agents import APIError, llm
from pydantic import BaseModel, ConfigDict, Field

from vocable.inference.deps import EnginesDep
from vocable.inference.engines import InferenceEngines
from vocable.inference.errors import OpenAIError, engine_failed
from vocable.inference.sse import sse_event, with_keepalive
from vocable.providers.llama_llm import LlamaLLM

log = logging.getLogger("vocable.inference.chat")

router = APIRouter()

DEFAULT_MAX_TOKENS = 512
MAX_TOKENS_LIMIT = 2048
"""Larger requests are clamped: half of the 4096-token context stays for the prompt."""
DEFAULT_TEMPERATURE = 0.4
"""The worker's default for spoken replies; OpenAI's 1.0 makes small models ramble."""


class ContentPart(BaseModel):
    """One part of a message's content; only ``text`` parts are read."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """A message of the conversation, as OpenAI clients send it."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text parts, joined by newlines."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "\n".join(p.text for p in parts if p.type == "text" and p.text)


class StreamOptions(BaseModel):
    """``stream_options``: whether a last chunk carries the token usage."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The fields of OpenAI's request body that this server honours; others are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    n: int = Field(default=1, ge=1, le=1)

    def token_limit(self) -> int:
        """``max_completion_tokens`` (or the older ``max_tokens``), clamped."""
        asked = self.max_completion_tokens or self.max_tokens or DEFAULT_MAX_TOKENS
        return min(asked, MAX_TOKENS_LIMIT)


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest, engines: EnginesDep
) -> JSONResponse | StreamingResponse:
    """A reply to ``messages`` from the GGUF model named by ``model``."""
    engines.check_chat_model(body.model)
    chat_ctx = chat_context(body.messages)
    reply = _Reply(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=body.model,
        max_tokens=body.token_limit(),
        temperature=DEFAULT_TEMPERATURE if body.temperature is None else body.temperature,
    )
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        events = with_keepalive(reply.sse(engines, chat_ctx, include_usage=include_usage))
        return StreamingResponse(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    engine = await engines.chat(body.model)
    text, usage = await reply.complete(engine, chat_ctx)
    return JSONResponse(reply.completion(text, usage))


def chat_context(messages: list[ChatMessage]) -> llm.ChatContext:
    """The conversation's text as a livekit-agents chat context; 400 if it has none."""
    ctx = llm.ChatContext.empty()
    for message in messages:
        role = message.role
        if role == "tool" or role == "function":
            continue  # tool results: tools are not offered to the model yet
        text = message.text()
        if text:
            ctx.add_message(role=role, content=text)
    if not ctx.items:
        raise OpenAIError(400, "messages contain no text", param="messages")
    return ctx


class _Reply:
    """One completion: its id, options, and its JSON in OpenAI's shapes."""

    def __init__(
        self, *, id: str, created: int, model: str, max_tokens: int, temperature: float
    ) -> None:
        self.id = id
        self.created = created
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature

    def _chunks(self, engine: LlamaLLM, chat_ctx: llm.ChatContext) -> llm.LLMStream:
        options = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        return engine.chat(chat_ctx=chat_ctx, extra_kwargs=options)

    async def complete(
        self, engine: LlamaLLM, chat_ctx: llm.ChatContext
    ) -> tuple[str, llm.CompletionUsage | None]:
        """The whole reply and its usage."""
        pieces: list[str] = []
        usage: llm.CompletionUsage | None = None
        try:
            async with self._chunks(engine, chat_ctx) as stream:
                async for chunk in stream:
                    if chunk.delta and chunk.delta.content:
                        pieces.append(chunk.delta.content)
                    usage = chunk.usage or usage
        except APIError as e:
            log.warning("generation failed", exc_info=e)
            raise engine_failed("generation") from e
        return "".join(pieces), usage

    async def sse(
        self, engines: InferenceEngines, chat_ctx: llm.ChatContext, *, include_usage: bool
    ) -> AsyncIterator[str]:
        """``data:`` events: a role chunk, text chunks, a finish chunk, usage, ``[DONE]``.

        A failure after the response started is sent as an ``{"error": ...}`` event, which
        OpenAI clients raise as an error.
        """
        extra = {"usage": None} if include_usage else {}
        yield sse_event(self._chunk({"role": "assistant", "content": ""}, None) | extra)
        usage: llm.CompletionUsage | None = None
        try:
            engine = await engines.chat(self.model)
            async with self._chunks(engine, chat_ctx) as stream:
                async for chunk in stream:
                    if chunk.delta and chunk.delta.content:
                        yield sse_event(self._chunk({"content": chunk.delta.content}, None) | extra)
                    usage = chunk.usage or usage
        except OpenAIError as e:
            yield sse_event(e.body())
            return
        except APIError as e:
            log.warning("generation failed", exc_info=e)
            yield sse_event(engine_failed("generation").body())
            return
        yield sse_event(self._chunk({}, self._finish_reason(usage)) | extra)
        if include_usage:
            yield sse_event(self._envelope("chat.completion.chunk", []) | _usage(usage))
        yield "data: [DONE]\n\n"

    def _finish_reason(self, usage: llm.CompletionUsage | None) -> str:
        stopped_by_limit = usage is not None and usage.completion_tokens >= self.max_tokens
        return "length" if stopped_by_limit else "stop"

    def _envelope(self, obj: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
        }

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._envelope("chat.completion.chunk", [choice])

    def completion(self, text: str, usage: llm.CompletionUsage | None) -> dict[str, Any]:
        """The non-streamed response body."""
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "logprobs": None,
            "finish_reason": self._finish_reason(usage),
        }
        return self._envelope("chat.completion", [choice]) | _usage(usage)


def _usage(usage: llm.CompletionUsage | None) -> dict[str, Any]:
    if usage is None:
        return {"usage": None}
    return {
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.prompt_cached_tokens},
        }
    }
