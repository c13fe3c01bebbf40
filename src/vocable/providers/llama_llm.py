"""Language engine: a packaged GGUF model on llama.cpp, streamed into livekit-agents.

A ``llama_cpp.Llama`` holds one KV cache and is not thread-safe. Each call leases its own
``Llama`` of the model file (``lease_llama``, up to a limit; more calls than that share the
least used one), so two calls never evict each other's cached conversation. Generations run
in worker threads; on the same model they take turns token by token (``StepLock``): a reply
that has not yet reached its first words goes first, so the second caller's first words do
not wait for the whole first reply, which is being spoken meanwhile. The tokens reach the
event loop as they are sampled.

Later turns are fast because llama.cpp keeps the previous request's tokens in its KV
cache and evaluates only the part of the new prompt that differs. The conversation is
rendered with the model's own chat template, so a call's system prompt and earlier turns
are the same tokens every turn and only the newest user turn is evaluated.

Tools are offered through the same template (Qwen2.5's lists them in the system prompt);
the model's calls are read back tolerantly (``llama_tools``) and emitted as
``FunctionToolCall`` deltas, as hosted LLM plugins do, so livekit-agents runs them.
Earlier calls and their results are rendered back as assistant tool calls and ``tool``
messages.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Never

from livekit.agents import APIError, llm, utils
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.llama_types import (
    ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage,
    ChatCompletionRequestToolMessage,
    ChatCompletionRequestUserMessage,
    ChatCompletionTool,
)

from vocable.providers.llama_tools import (
    ANSWER_HINT,
    TOOL_HINT,
    ToolCallSplitter,
    compact_schema,
)

log = logging.getLogger(__name__)

_load_lock = threading.Lock()
_loaded: dict[Path, tuple[Llama, int, int]] = {}


def load_llama(path: Path, *, n_threads: int, n_ctx: int = 4096) -> Llama:
    """Load the GGUF model at ``path`` once per process; later calls return the same one.

    Blocking (seconds): call it at worker start or off the event loop. ``n_threads`` is
    used for both prompt evaluation and decoding; llama.cpp would otherwise take every
    core and starve speech recognition and synthesis running beside it.

    Raises:
        ValueError: the model was already loaded with other settings.
    """
    key = path.resolve()
    with _load_lock:
        if key in _loaded:
            model, loaded_threads, loaded_ctx = _loaded[key]
            if (loaded_threads, loaded_ctx) != (n_threads, n_ctx):
                raise ValueError(
                    f"{key.name} is already loaded with n_threads={loaded_threads},"
                    f" n_ctx={loaded_ctx}; asked for n_threads={n_threads}, n_ctx={n_ctx}"
                )
            return model
        model = _new_llama(key, n_threads, n_ctx)
        _loaded[key] = (model, n_threads, n_ctx)
        return model


@dataclass
class _Lease:
    model: Llama
    calls: int = 0


class _ContextPool:
    """The ``Llama`` instances (weights + KV cache each) of one model file, leased to calls."""

    def __init__(self, first: Llama, path: Path, n_threads: int, n_ctx: int) -> None:
        self._path = path
        self._n_threads = n_threads
        self._n_ctx = n_ctx
        self._guard = threading.Lock()
        self._leases = [_Lease(first)]

    def lease(self, limit: int) -> _Lease:
        with self._guard:
            free = [lease for lease in self._leases if lease.calls == 0]
            if free:
                chosen = free[0]
            elif len(self._leases) < limit:
                chosen = _Lease(_new_llama(self._path, self._n_threads, self._n_ctx))
                self._leases.append(chosen)
            else:  # more calls than caches: share the least used one
                chosen = min(self._leases, key=lambda lease: lease.calls)
            chosen.calls += 1
            return chosen

    def release(self, lease: _Lease) -> None:
        with self._guard:
            lease.calls = max(0, lease.calls - 1)


_pools: dict[Path, _ContextPool] = {}


def _new_llama(path: Path, n_threads: int, n_ctx: int) -> Llama:
    return Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        n_gpu_layers=0,
        verbose=False,
    )


def lease_llama(
    path: Path, *, n_threads: int, contexts: int, n_ctx: int = 4096
) -> tuple[Llama, Callable[[], None]]:
    """A ``Llama`` of ``path`` for one call, and the function that gives it back.

    Up to ``contexts`` instances exist per file (each about 0.9 GB of memory beside the
    shared weights file for the 1.5B model); the first is ``load_llama``'s. Blocking: it may
    load a model (about a second).
    """
    first = load_llama(path, n_threads=n_threads, n_ctx=n_ctx)
    key = path.resolve()
    with _load_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = _ContextPool(first, key, n_threads, n_ctx)
    lease = pool.lease(max(1, contexts))
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            pool.release(lease)

    return lease.model, release


def _context_lock(model: Llama) -> threading.Lock:
    """The lock that keeps one generation at a time on ``model``'s own KV cache."""
    with _shared_lock:
        lock = _context_locks.get(model)
        if lock is None:
            lock = _context_locks[model] = threading.Lock()
        return lock


URGENT_STEPS = 24
"""A reply's prompt evaluation and first tokens (its first spoken clause) go before other
replies' later tokens: those are already being spoken, and text outruns speech 5 to 1."""


class StepLock:
    """One decoding step at a time: first to replies still before their first words, then
    in the order asked (``threading.Lock`` would let a thread that releases and asks again
    win over one that has been waiting)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[tuple[bool, object]] = deque()
        self._held = False

    @contextmanager
    def step(self, *, urgent: bool = False) -> Iterator[None]:
        me = (urgent, object())
        with self._cond:
            self._waiting.append(me)
            while self._held or self._next() is not me:
                self._cond.wait()
            self._waiting.remove(me)
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()

    def _next(self) -> tuple[bool, object]:
        return next((w for w in self._waiting if w[0]), self._waiting[0])


class _ChatTemplate:
    """The model's own chat template (from the GGUF metadata), rendered to token ids."""

    def __init__(self, model: Llama) -> None:
        template = model.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError("the GGUF file has no tokenizer.chat_template")
        self._model = model
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(model.token_eos()),
            bos_token=self._token_text(model.token_bos()),
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._model.detokenize([token], special=True).decode("utf-8", errors="replace")

    def render(
        self,
        messages: list[ChatCompletionRequestMessage],
        tools: list[ChatCompletionTool] | None = None,
    ) -> tuple[list[int], list[str]]:
        """Prompt token ids (with the assistant turn opened) and the stop strings."""
        formatted = self._formatter(messages=messages, tools=tools or None)
        tokens = self._model.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        stop = formatted.stop
        return tokens, [stop] if isinstance(stop, str) else list(stop or [])


@dataclass
class _SharedModel:
    steps: StepLock
    """One decoding step at a time per model file: the CPU it needs is all there is."""
    template: _ChatTemplate
    context: threading.Lock
    """One generation at a time on this ``Llama``'s own KV cache."""


_shared_lock = threading.Lock()
_per_file: dict[Path, tuple[StepLock, _ChatTemplate]] = {}
_context_locks: weakref.WeakKeyDictionary[Llama, threading.Lock] = weakref.WeakKeyDictionary()


def _shared_for(model: Llama) -> _SharedModel:
    """The locks and template of ``model``, shared by all the ``LlamaLLM``s that use it
    (the step lock and the template by every context of the same model file)."""
    context = _context_lock(model)
    key = Path(model.model_path).resolve()
    with _shared_lock:
        if key not in _per_file:
            _per_file[key] = (StepLock(), _ChatTemplate(model))
        steps, template = _per_file[key]
    return _SharedModel(steps=steps, template=template, context=context)


class LlamaLLM(llm.LLM[Never]):  # Never: no events beyond the base LLM's
    """livekit-agents ``LLM`` backed by an in-process llama.cpp model.

    Replies go straight to speech, so ``max_tokens`` is small; the caller's system prompt
    asks for brevity, nothing is added to it here.
    """

    def __init__(
        self,
        *,
        model: Llama,
        model_name: str,
        max_tokens: int = 160,
        temperature: float = 0.4,
        release: Callable[[], None] | None = None,
    ) -> None:
        """Wrap ``model`` (from ``load_llama`` or ``lease_llama``, whose ``release`` is
        called by :meth:`aclose`, or when this object is collected); ``model_name`` is the
        catalog's engine name."""
        super().__init__()
        self._llama = model
        self._shared = _shared_for(model)
        self._release = weakref.finalize(self, release) if release is not None else None
        self._model_name = model_name
        self._max_tokens = max_tokens
        self._temperature = temperature

    @property
    def model(self) -> str:
        """The engine name, e.g. ``qwen2.5-1.5b``."""
        return self._model_name

    @property
    def provider(self) -> str:
        """Always ``llama.cpp``."""
        return "llama.cpp"

    async def aclose(self) -> None:
        """Give the leased model (and its KV cache) back for the next call."""
        if self._release is not None:
            self._release()

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> LlamaStream:
        """Start a reply to ``chat_ctx``; iterate the returned stream for its chunks.

        ``extra_kwargs`` may override ``max_tokens`` and ``temperature`` for this reply.
        ``tools`` are offered to the model unless ``tool_choice`` is ``"none"``; other
        ``tool_choice`` values and ``parallel_tool_calls`` cannot be enforced on a local
        model and are ignored.
        """
        options = dict(extra_kwargs) if utils.is_given(extra_kwargs) else {}
        unknown = set(options) - {"max_tokens", "temperature"}
        if unknown:
            raise ValueError(f"unsupported extra_kwargs for llama.cpp: {sorted(unknown)}")
        offer_tools = bool(tools) and tool_choice != "none"
        return LlamaStream(
            self,
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
            offer_tools=offer_tools,
            max_tokens=int(options.get("max_tokens", self._max_tokens)),
            # Greedy when tools are offered: sampled at 0.4, the 1.5B model sometimes
            # described the call in words ("use get_order_status with 4417") instead of
            # making it; greedy it made the call every time it was measured.
            temperature=float(
                options.get("temperature", 0.0 if offer_tools else self._temperature)
            ),
        )


class LlamaStream(llm.LLMStream):
    """One reply: text chunks as the model samples them, then one usage chunk."""

    def __init__(
        self,
        llm_: LlamaLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
        offer_tools: bool,
        max_tokens: int,
        temperature: float,
    ) -> None:
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._engine = llm_
        self._offered = tool_schemas(tools) if offer_tools else []
        self._max_tokens = max_tokens
        self._temperature = temperature

    async def _run(self) -> None:
        request_id = utils.shortuuid("llama_")
        messages = chat_messages(self._chat_ctx)
        if self._offered:
            messages = with_tool_hint(messages)
        loop = asyncio.get_running_loop()
        texts: asyncio.Queue[str | None] = asyncio.Queue()
        stop = threading.Event()

        def send(text: str | None) -> None:
            try:
                loop.call_soon_threadsafe(texts.put_nowait, text)
            except RuntimeError:  # the loop is closed: nobody is reading any more
                stop.set()

        def work() -> llm.CompletionUsage:
            try:
                return _generate(
                    self._engine._llama,
                    self._engine._shared,
                    messages,
                    tools=self._offered,
                    max_tokens=self._max_tokens,
                    temperature=self._temperature,
                    on_text=send,
                    stop=stop,
                )
            finally:
                send(None)

        job = loop.run_in_executor(None, work)
        # with tools offered, a reply may be a tool call: it is held back, never spoken
        splitter = ToolCallSplitter() if self._offered else None
        try:
            while (text := await texts.get()) is not None:
                self._send_text(request_id, splitter.feed(text) if splitter else text)
            if splitter is not None:
                rest, calls = splitter.finish()
                self._send_text(request_id, rest)
                if calls:
                    delta = llm.ChoiceDelta(
                        role="assistant",
                        tool_calls=[
                            llm.FunctionToolCall(
                                name=call.name,
                                arguments=json.dumps(call.arguments),
                                call_id=utils.shortuuid("call_"),
                            )
                            for call in calls
                        ],
                    )
                    self._event_ch.send_nowait(llm.ChatChunk(id=request_id, delta=delta))
            # shield: a cancelled stream must not cancel the job's future, whose result
            # (or error) _log_late_failure still reads
            usage = await asyncio.shield(job)
        except (ValueError, RuntimeError) as e:
            # llama.cpp reports a prompt over the context or a failed decode this way;
            # retrying the same prompt on the same model would fail the same way.
            raise APIError(f"llama.cpp generation failed: {e}", retryable=False) from e
        finally:
            # Closing the stream cancels this task; the worker thread sees the flag
            # before its next token and releases the model.
            stop.set()
            if not job.done():
                job.add_done_callback(_log_late_failure)
        self._event_ch.send_nowait(llm.ChatChunk(id=request_id, usage=usage))

    def _send_text(self, request_id: str, text: str) -> None:
        if text:
            delta = llm.ChoiceDelta(role="assistant", content=text)
            self._event_ch.send_nowait(llm.ChatChunk(id=request_id, delta=delta))


def tool_schemas(tools: list[llm.Tool]) -> list[ChatCompletionTool]:
    """The function tools in the OpenAI shape the chat template expects, compacted."""
    functions = llm.ToolContext(tools).parse_function_tools("openai", strict=False)
    return [compact_schema(f) for f in functions]


def _log_late_failure(job: asyncio.Future[llm.CompletionUsage]) -> None:
    if not job.cancelled() and (error := job.exception()) is not None:
        log.warning("generation failed after its stream was closed", exc_info=error)


def chat_messages(chat_ctx: llm.ChatContext) -> list[ChatCompletionRequestMessage]:
    """The chat context as chat-template messages: system, user, assistant, tool calls.

    ``developer`` counts as ``system``, and consecutive system messages (an agent's
    instructions and its per-turn additions) are joined, since the chat template gives a
    system prompt one slot. Consecutive function calls become one assistant message with
    ``tool_calls``; their outputs become ``tool`` messages. Images and audio are dropped:
    the model reads text only.
    """
    out: list[ChatCompletionRequestMessage] = []
    for item in chat_ctx.items:
        if isinstance(item, llm.FunctionCall):
            _add_tool_call(out, item)
        elif isinstance(item, llm.FunctionCallOutput):
            out.append(
                ChatCompletionRequestToolMessage(
                    role="tool", content=item.output, tool_call_id=item.call_id
                )
            )
        elif isinstance(item, llm.ChatMessage) and (text := item.text_content):
            role = "system" if item.role in ("system", "developer") else item.role
            last = out[-1] if out else None
            if role == "system" and last is not None and last["role"] == "system":
                out[-1] = _message("system", f"{last.get('content')}\n{text}")
            else:
                out.append(_message(role, text))
    return out


def with_tool_hint(
    messages: list[ChatCompletionRequestMessage],
) -> list[ChatCompletionRequestMessage]:
    """``messages`` with ``TOOL_HINT`` as a system message before the newest user message,
    and ``ANSWER_HINT`` at the end when tool results are the newest messages.

    Only the newest turn carries them, so earlier turns render the same tokens as before
    and the KV cache still covers them up to the previous user message; the step after a
    tool call renders the previous step's prompt plus the call and its result.
    """
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last_user is None:
        return messages
    at = last_user
    if at > 1 and messages[at - 1]["role"] == "system":
        # join a per-turn system message (knowledge passages) instead of adding another
        merged = _message("system", f"{messages[at - 1].get('content')}\n{TOOL_HINT}")
        hinted = [*messages[: at - 1], merged, *messages[at:]]
    else:
        hinted = [*messages[:at], _message("system", TOOL_HINT), *messages[at:]]
    if hinted[-1]["role"] == "tool":
        hinted.append(_message("system", ANSWER_HINT))
    return hinted


def _add_tool_call(out: list[ChatCompletionRequestMessage], call: llm.FunctionCall) -> None:
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        arguments = {}
    # the template writes ``arguments | tojson``: it wants the object, not a JSON string
    entry: Any = {
        "id": call.call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }
    last = out[-1] if out else None
    if last is not None and last["role"] == "assistant" and last.get("tool_calls"):
        last["tool_calls"].append(entry)
        return
    out.append(
        ChatCompletionRequestAssistantMessage(role="assistant", content="", tool_calls=[entry])
    )


def _message(role: str, text: str) -> ChatCompletionRequestMessage:
    if role == "system":
        return ChatCompletionRequestSystemMessage(role="system", content=text)
    if role == "assistant":
        return ChatCompletionRequestAssistantMessage(role="assistant", content=text)
    return ChatCompletionRequestUserMessage(role="user", content=text)


def _fit_prompt(
    template: _ChatTemplate,
    messages: list[ChatCompletionRequestMessage],
    limit: int,
    tools: list[ChatCompletionTool] | None = None,
) -> tuple[list[int], list[str]]:
    """Render ``messages``, dropping the oldest turns after the system prompt to fit."""
    kept = list(messages)
    while True:
        tokens, stop = template.render(kept, tools)
        if len(tokens) <= limit:
            return tokens, stop
        first_turn = 1 if kept and kept[0]["role"] == "system" else 0
        if len(kept) - first_turn <= 1:
            raise ValueError(f"prompt of {len(tokens)} tokens does not fit in {limit}")
        del kept[first_turn]


def _generate(
    model: Llama,
    shared: _SharedModel,
    messages: list[ChatCompletionRequestMessage],
    *,
    tools: list[ChatCompletionTool],
    max_tokens: int,
    temperature: float,
    on_text: Callable[[str], None],
    stop: threading.Event,
) -> llm.CompletionUsage:
    """Blocking generation, run in a worker thread; hands each text piece to ``on_text``.

    This is ``Llama.create_chat_completion`` unrolled: the same template rendering and
    ``create_completion`` call, done here so that the prompt's token count, and how much
    of it llama.cpp's KV cache already held, are known for the usage report.
    """
    tokens, stop_strings = _fit_prompt(
        shared.template, messages, limit=model.n_ctx() - max_tokens, tools=tools
    )
    with shared.context:
        if stop.is_set():
            return llm.CompletionUsage(completion_tokens=0, prompt_tokens=0, total_tokens=0)
        held = model.input_ids[: model.n_tokens].tolist()
        cached = _common_prefix(held, tokens)
        with shared.steps.step():
            chunks = model.create_completion(
                prompt=tokens,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=stop_strings,
                stream=True,
            )
        if not isinstance(chunks, Generator):
            raise TypeError("llama.cpp returned a whole completion for a streamed request")
        produced = False
        try:
            for chunk in _stepped(chunks, shared.steps):
                if stop.is_set():
                    break
                text = chunk["choices"][0]["text"]
                if text:
                    produced = True
                    on_text(text)
        finally:
            with shared.steps.step():
                chunks.close()
        # The KV cache now holds the prompt and every sampled token but the last one.
        completion = model.n_tokens - len(tokens) + 1 if produced else 0
    return llm.CompletionUsage(
        completion_tokens=completion,
        prompt_tokens=len(tokens),
        prompt_cached_tokens=cached,
        total_tokens=len(tokens) + completion,
    )


def _stepped(chunks: Generator[Any, None, None], steps: StepLock) -> Iterator[Any]:
    """``chunks``, each step (prompt evaluation, then one token each) under ``steps``."""
    for count in itertools.count():
        with steps.step(urgent=count < URGENT_STEPS):
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


def _common_prefix(held: list[int], prompt: list[int]) -> int:
    """How many prompt tokens llama.cpp will reuse from its KV cache."""
    n = 0
    for a, b in zip(held, prompt, strict=False):
        if a != b:
            break
        n += 1
    # llama.cpp re-evaluates at least one token to get fresh logits.
    return min(n, len(prompt) - 1)
