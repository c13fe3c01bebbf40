"""The packaged Qwen2.5 0.5B model: joined from its packages, verified, and streamed
through livekit-agents' LLM interface on llama.cpp."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, NoReturn

import pytest
from livekit.agents import llm

from vocable.providers import gguf_weights
from vocable.providers.gguf_weights import (
    MODELS,
    WeightsNotInstalledError,
    assemble_gguf,
    part_paths,
)

if TYPE_CHECKING:
    from vocable.providers.llama_llm import LlamaLLM

MODEL = "qwen2.5-0.5b"
SHOP_FACTS = (
    "You are the receptionist of a bicycle shop. Answer in one short sentence.\n"
    "The shop opens at nine o'clock."
)


def _assemble(cache_dir: Path) -> Path:
    try:
        return assemble_gguf(MODEL, cache_dir=cache_dir)
    except WeightsNotInstalledError as e:
        pytest.skip(str(e))


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@pytest.fixture(scope="module")
def hashing_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache directory of its own: the truncation test damages its file."""
    cache_dir = tmp_path_factory.mktemp("hashing-cache")
    _assemble(cache_dir)
    yield cache_dir
    shutil.rmtree(cache_dir)  # pytest keeps old temp dirs; these hold 491 MB each


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaLLM]:
    """One assembled file and one loaded model for every chat test."""
    # imported here so that the weight tests run without llama-cpp-python
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from vocable.providers.llama_llm import LlamaLLM, load_llama

    cache_dir = tmp_path_factory.mktemp("chat-cache")
    path = _assemble(cache_dir)
    yield LlamaLLM(model=load_llama(path, n_threads=2), model_name=MODEL, max_tokens=40)
    shutil.rmtree(cache_dir)  # the loaded model keeps its mapping of the unlinked file


def _conversation(*turns: str) -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content=SHOP_FACTS)
    for i, text in enumerate(turns):
        ctx.add_message(role="user" if i % 2 == 0 else "assistant", content=text)
    return ctx


async def _chunks(stream: llm.LLMStream) -> AsyncIterator[llm.ChatChunk]:
    async with stream:
        async for chunk in stream:
            yield chunk


def test_assembled_file_has_the_pinned_hash(hashing_cache: Path) -> None:
    path = hashing_cache / "models" / f"{MODEL}.gguf"
    assert path.stat().st_size == MODELS[MODEL].size
    assert _sha256(path) == MODELS[MODEL].sha256


def test_second_start_reuses_the_file_without_rehashing(
    hashing_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = hashing_cache / "models" / f"{MODEL}.gguf"
    before = path.stat()

    def no_hashing(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the second start hashed the weights again")

    # 2-core CI: prove no hashing happens instead of timing it (a slow box blurs timings)
    monkeypatch.setattr(
        gguf_weights, "hashlib", SimpleNamespace(file_digest=no_hashing, sha256=no_hashing)
    )
    assert assemble_gguf(MODEL, cache_dir=hashing_cache) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_truncated_file_is_detected_and_rebuilt(hashing_cache: Path) -> None:
    path = hashing_cache / "models" / f"{MODEL}.gguf"
    with path.open("r+b") as f:
        f.truncate(MODELS[MODEL].size // 2)
    assert assemble_gguf(MODEL, cache_dir=hashing_cache) == path
    assert path.stat().st_size == MODELS[MODEL].size
    assert _sha256(path) == MODELS[MODEL].sha256


def test_missing_part_package_is_named() -> None:
    absent = dataclasses.replace(MODELS[MODEL], distribution_prefix="no-such-weights-part")
    with pytest.raises(WeightsNotInstalledError, match=re.escape("no-such-weights-part1==0.9.0")):
        part_paths(absent)


async def test_reply_streams_and_answers_from_the_system_prompt(engine: LlamaLLM) -> None:
    # temperature 0: the same, greedy, answer every run
    stream = engine.chat(
        chat_ctx=_conversation("When does the shop open?"), extra_kwargs={"temperature": 0.0}
    )
    chunks = [c async for c in _chunks(stream)]
    text = "".join(c.delta.content for c in chunks if c.delta and c.delta.content)
    assert sum(1 for c in chunks if c.has_response()) >= 3
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert "nine" in text.lower() or "9" in text


async def test_later_turn_reuses_the_cached_prompt(engine: LlamaLLM) -> None:
    first = await engine.chat(chat_ctx=_conversation("Hello!")).collect()
    second = await engine.chat(
        chat_ctx=_conversation("Hello!", first.text, "When does the shop open?")
    ).collect()
    assert first.usage is not None and second.usage is not None
    # everything up to the new user turn comes from llama.cpp's KV cache
    assert second.usage.prompt_cached_tokens >= first.usage.prompt_tokens - 1


@pytest.fixture(scope="module")
def leased_path(engine: LlamaLLM) -> Path:
    return Path(engine._llama.model_path)


def _other_shop(*turns: str) -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="You sell flowers. The florist closes at five.")
    for i, text in enumerate(turns):
        ctx.add_message(role="user" if i % 2 == 0 else "assistant", content=text)
    return ctx


async def test_two_calls_at_once_do_not_evict_each_others_cached_conversation(
    leased_path: Path,
) -> None:
    from vocable.providers.llama_llm import LlamaLLM, lease_llama

    calls = []
    for _ in range(2):
        model, release = lease_llama(leased_path, n_threads=2, contexts=2)
        calls.append(LlamaLLM(model=model, model_name=MODEL, max_tokens=20, release=release))
    first, other = calls
    try:
        opening = await first.chat(chat_ctx=_conversation("Hello!")).collect()
        # the other call's turn comes in between, as it would on a busy worker
        await other.chat(chat_ctx=_other_shop("Hi, when do you close?")).collect()
        follow_up = await first.chat(
            chat_ctx=_conversation("Hello!", opening.text, "When does the shop open?")
        ).collect()
        assert opening.usage is not None and follow_up.usage is not None
        assert follow_up.usage.prompt_cached_tokens >= opening.usage.prompt_tokens - 1
    finally:
        for call in calls:
            await call.aclose()


async def test_two_replies_at_once_both_start_before_either_ends(leased_path: Path) -> None:
    """The second caller's first words do not wait for the whole first reply."""
    from vocable.providers.llama_llm import LlamaLLM, lease_llama

    calls = []
    for _ in range(2):
        model, release = lease_llama(leased_path, n_threads=2, contexts=2)
        calls.append(LlamaLLM(model=model, model_name=MODEL, release=release))
    events: list[tuple[int, str]] = []

    async def reply(i: int, ctx: llm.ChatContext) -> None:
        stream = calls[i].chat(chat_ctx=ctx, extra_kwargs={"max_tokens": 60, "temperature": 0.0})
        async for chunk in _chunks(stream):
            if chunk.delta and chunk.delta.content:
                events.append((i, "text"))
        events.append((i, "end"))

    try:
        await asyncio.gather(
            reply(0, _conversation("Please count from one to twenty in words.")),
            reply(1, _other_shop("Please count from one to twenty in words.")),
        )
    finally:
        for call in calls:
            await call.aclose()
    first_end = min(events.index((0, "end")), events.index((1, "end")))
    assert {i for i, kind in events[:first_end] if kind == "text"} == {0, 1}, events


def test_calls_beyond_the_limit_share_a_cache_and_a_freed_one_is_reused(
    leased_path: Path,
) -> None:
    from vocable.providers.llama_llm import lease_llama

    a, release_a = lease_llama(leased_path, n_threads=2, contexts=2)
    b, release_b = lease_llama(leased_path, n_threads=2, contexts=2)
    c, release_c = lease_llama(leased_path, n_threads=2, contexts=2)
    assert a is not b
    assert c in (a, b)  # a third call at once shares one instead of loading another
    release_c()
    release_b()
    d, release_d = lease_llama(leased_path, n_threads=2, contexts=2)
    assert d is b  # the free cache is taken before a busy one
    release_a()
    release_d()


async def test_closing_the_stream_stops_generation_and_frees_the_model(engine: LlamaLLM) -> None:
    stream = engine.chat(
        chat_ctx=_conversation("Please count from one to one hundred in words."),
        extra_kwargs={"max_tokens": 400},
    )
    async for chunk in stream:
        if chunk.has_response():
            break
    started = time.monotonic()
    await stream.aclose()
    assert time.monotonic() - started < 1.0

    # Had the first reply kept generating (up to 400 tokens: over ten seconds on two
    # cores), this one would wait for the model's lock before its first token.
    started = time.monotonic()
    reply = engine.chat(chat_ctx=_conversation("When does the shop open?"))
    async with reply:
        async for chunk in reply:
            if chunk.has_response():
                break
    assert time.monotonic() - started < 5.0


async def test_the_agents_temperature_reaches_the_model(tmp_path: Path) -> None:
    """A call's engines take the agent's conversation settings: at temperature 0 the same
    question gets the same answer every time; at 2 the answers vary."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from tests.support.servers import make_settings

    from vocable.providers.registry import EngineFactory, LlmOptions

    factory = EngineFactory(settings=make_settings(tmp_path, llm_contexts=1))
    question = _conversation("Invent a name for a new bicycle, just the name.")
    answers: dict[float, set[str]] = {}
    for temperature in (0.0, 2.0):
        engine = factory.llm_for(MODEL, LlmOptions(temperature=temperature, max_tokens=12))
        try:
            answers[temperature] = {
                (await engine.chat(chat_ctx=question).collect()).text for _ in range(4)
            }
        finally:
            await engine.aclose()
    assert len(answers[0.0]) == 1, answers
    assert len(answers[2.0]) > 1, answers
