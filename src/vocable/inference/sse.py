"""Server-sent events as OpenAI streams them: ``data: <json>`` events, comments to keep alive."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

KEEPALIVE_SECONDS = 2.0
"""An SSE comment goes out after this long without an event. OpenAI clients time out on
reads (livekit's plugin after 10 s); loading a model or reading a long prompt on a small
CPU can take longer than that before the first token."""


def sse_event(data: dict[str, Any]) -> str:
    """One ``data:`` event holding ``data`` as compact JSON."""
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def with_keepalive(events: AsyncIterator[str]) -> AsyncIterator[str]:
    """``events``, with an SSE comment whenever none came for ``KEEPALIVE_SECONDS``.

    The events are produced by a task of their own so that waiting for the next one can
    time out without cancelling the generation.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in events:
                queue.put_nowait(event)
        finally:
            queue.put_nowait(None)

    producer = asyncio.create_task(pump())
    next_event = asyncio.ensure_future(queue.get())
    try:
        while True:
            done, _ = await asyncio.wait({next_event}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield ": keep-alive\n\n"
                continue
            event = next_event.result()
            if event is None:
                break
            yield event
            next_event = asyncio.ensure_future(queue.get())
        await producer  # re-raises what the producer raised
    finally:
        # The client went away (or the stream ended): stop generating.
        next_event.cancel()
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
