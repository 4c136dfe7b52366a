"""Local models through llama-cpp-python (GGUF files, CPU by default).

Generation runs in a thread and hands each token to the event loop; cancelling the stream
sets a flag that the thread checks after every token, so generation stops within one
token (prompt evaluation, once started, finishes first). One generation at a time per
loaded model: llama.cpp contexts are not thread-safe. Loaded models are shared by path.

A turn pays for its new tokens only: llama.cpp keeps the longest common prefix of the new
prompt with what its context evaluated last, and a :class:`~.prompt_cache.StateCache`
keeps each conversation's evaluated state across turns of other calls (``state_cache_mb``;
see that module). :attr:`LocalProvider.last_prompt` says what the last turn evaluated.

A :class:`~.base.Gate` holds the generation between two tokens while it is closed (the
worker gives the CPU to the speech synthesis of the first clause).

Tools: small local models have no native tool calling in llama-cpp-python's chat API, so
the tools are described in the system prompt and called with
``<tool_call>{...}</tool_call>`` in the text (:class:`~llm_worker.tools.ToolTagFilter`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import importlib
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from pipeline.envparse import cache_dir

from llm_worker.errors import ConfigError, ProviderError, ProviderProtocolError
from llm_worker.events import ChatRequest, Done, Message, StreamEvent, TextDelta
from llm_worker.providers.base import Capabilities, Gate, LLMProvider, Timeouts
from llm_worker.providers.prompt_cache import SavedState, StateCache, tokens_to_eval
from llm_worker.tools import ToolTagFilter, text_protocol_prompt

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "llama-cpp-python==0.3.36 is built by scripts/setup.d/45-llm.sh (make bootstrap), "
    "or: pip install 'llama-cpp-python==0.3.36'"
)
DEFAULT_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SMALL_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_MIN_FIRST_EVENT_S = 60.0
# Evaluating the system prompt at start (warm_up) waits this long for its first token: no
# caller is waiting, and on a busy 2-core host the ~1,000-token prefill can take longer than
# a call's first-event bound (seen: over 60 s at load 17, and the worker exited).
WARM_UP_FIRST_EVENT_S = 300.0
# A held generation re-checks its stop flag this often (a cancel while held is seen).
HOLD_POLL_S = 0.05


def models_dir() -> Path:
    return cache_dir() / "models"


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL_FILE


Renderer = Callable[[list[dict[str, str]]], list[int]]


@dataclass
class Engine:
    """A loaded model, the lock that serializes its use, and its saved states."""

    llm: Any
    lock: threading.Lock
    states: StateCache
    render: Renderer | None  # messages -> the prompt tokens create_chat_completion uses
    live_key: str = ""  # the conversation whose turn the context evaluated last


@dataclass(frozen=True, slots=True)
class PromptStats:
    """What one turn's prompt cost: ``evaluated`` of its ``tokens`` went through the model
    (the rest was reused); ``restored``: a saved conversation state was loaded first;
    ``save_s``: time spent saving the previous conversation's state before the turn."""

    tokens: int
    evaluated: int
    restored: bool
    restore_s: float = 0.0
    save_s: float = 0.0


_engines: dict[tuple[str, int, int, int], Engine] = {}
_engines_lock = threading.Lock()


def _close_all() -> None:
    """Frees the loaded models before interpreter shutdown (llama-cpp-python's own
    finalizer fails once its module globals are gone)."""
    with _engines_lock:
        for engine in _engines.values():
            with engine.lock:
                close = getattr(engine.llm, "close", None)
                if close is not None:
                    close()
        _engines.clear()


def _llama_cpp() -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as e:
        raise ConfigError(f"the local provider needs llama-cpp-python: {INSTALL_HINT}") from e


def _renderer(llm: Any) -> Renderer | None:
    """Renders messages to prompt tokens exactly as create_chat_completion does for a GGUF
    with its own Jinja chat template (the usual case); None for other chat formats (then
    only llama.cpp's own prefix reuse applies)."""
    template = getattr(llm, "metadata", {}).get("tokenizer.chat_template")
    if not template or llm.chat_handler is not None or llm.chat_format != "chat_template.default":
        return None
    fmt = importlib.import_module("llama_cpp.llama_chat_format")

    def text(token: int) -> str:
        return "" if token == -1 else llm.detokenize([token], special=True).decode("utf-8")

    formatter = fmt.Jinja2ChatFormatter(
        template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos())
    )

    def render(messages: list[dict[str, str]]) -> list[int]:
        result = formatter(messages=messages)
        tokens: list[int] = llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        return tokens

    return render


def load_engine(
    path: str, n_ctx: int, n_threads: int, n_threads_batch: int, state_cache_mb: int = 0
) -> Engine:
    """The loaded model for these settings (loaded once per process)."""
    llama_cpp = _llama_cpp()
    key = (path, n_ctx, n_threads, n_threads_batch)
    with _engines_lock:
        if key not in _engines:
            if not Path(path).is_file():
                raise ConfigError(
                    f"model file not found: {path} (run scripts/assemble-llm.sh or set "
                    "LLM_MODEL_PATH)"
                )
            log.info(
                "loading local model %s (%d threads, %d for prompts)",
                path,
                n_threads,
                n_threads_batch,
            )
            llm = llama_cpp.Llama(
                model_path=path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads_batch,
                verbose=False,
            )
            if not _engines:
                atexit.register(_close_all)
            _engines[key] = Engine(
                llm, threading.Lock(), StateCache(state_cache_mb * 1024 * 1024), _renderer(llm)
            )
        # The state budget is per loaded model, set by the provider that loads it.
        return _engines[key]


def save_state(llm: Any) -> SavedState:
    """The context's state (KV cache, last logits) and the tokens it evaluated."""
    llama_cpp = _llama_cpp()
    size = int(llama_cpp.llama_state_get_size(llm.ctx))
    data = bytearray(size)
    written = int(
        llama_cpp.llama_state_get_data(llm.ctx, (ctypes.c_uint8 * size).from_buffer(data), size)
    )
    if written > size:
        raise RuntimeError("llama_state_get_data wrote past its buffer")
    tokens = tuple(int(t) for t in llm.input_ids[: llm.n_tokens].tolist())
    return SavedState(tokens, data if written == size else data[:written])


def restore_state(llm: Any, state: SavedState) -> None:
    """Loads a saved state into the context; llama.cpp then reuses its tokens as prefix."""
    llama_cpp = _llama_cpp()
    size = len(state.data)
    buf = (ctypes.c_uint8 * size).from_buffer_copy(state.data)
    if int(llama_cpp.llama_state_set_data(llm.ctx, buf, size)) != size:
        llm.reset()
        raise RuntimeError("llama_state_set_data failed")
    n = len(state.tokens)
    llm.input_ids[:n] = state.tokens
    llm.n_tokens = n
    # The logits come from the state, not a live decode: llama-cpp-python evaluates the
    # last prompt token again before sampling (it does so for any prefix hit anyway).
    llm._requires_eval = True


class LocalProvider(LLMProvider):
    name: ClassVar[str] = "local"
    capabilities: ClassVar[Capabilities] = Capabilities(tools=True, local=True)

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        n_ctx: int = 2048,
        n_threads: int = 1,
        n_threads_batch: int | None = None,
        state_cache_mb: int = 256,
        timeouts: Timeouts | None = None,
        **kwargs: Any,
    ) -> None:
        path = str(model_path or default_model_path())
        # A cold prompt on a busy CPU takes long before the first token; and retrying a
        # local timeout only queues more work on the same CPU, so no retries by default.
        kwargs.setdefault("max_retries", 0)
        super().__init__(
            model=kwargs.pop("model", "") or Path(path).name,
            timeouts=timeouts or Timeouts(first_event_s=LOCAL_MIN_FIRST_EVENT_S, idle_s=10.0),
            **kwargs,
        )
        if state_cache_mb < 0:
            raise ValueError("state_cache_mb must be >= 0")
        self.model_path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch or n_threads
        self.state_cache_mb = state_cache_mb
        # The last generation's thread and how many chunks it produced (tests, metrics).
        self.last_thread: threading.Thread | None = None
        self.last_chunks = 0
        self.last_prompt: PromptStats | None = None
        self._started = False
        # Generation threads told to stop (the stream was closed: done, cancelled or past
        # its deadline) and when; one still running long after is stuck (readiness).
        self._stopping: dict[threading.Thread, float] = {}

    def engine(self) -> Engine:
        """The loaded model (loads it if needed; blocking): tests and benchmarks."""
        return self._engine()

    # -- the engine (a fake engine in llm_worker.testing overrides these two) ----------

    def _engine(self) -> Engine:
        return load_engine(
            self.model_path, self.n_ctx, self.n_threads, self.n_threads_batch, self.state_cache_mb
        )

    def _completion(
        self, engine: Engine, messages: list[dict[str, str]], request: ChatRequest
    ) -> Iterator[Any]:
        """Streamed chat-completion chunks (called with the engine's lock held)."""
        llm = engine.llm
        key = request.conversation_id
        prompt = engine.render(messages) if engine.render is not None else None
        save_s = 0.0
        if engine.states.enabled and engine.live_key and engine.live_key != key:
            # Another conversation's context is about to be overwritten: keep it. (Saved
            # only now, so a single call never pays for a copy it would not use.)
            t0 = time.perf_counter()
            engine.states.put(engine.live_key, save_state(llm))
            save_s = time.perf_counter() - t0
        engine.live_key = key
        if prompt is not None:
            self.last_prompt = self._reuse(engine, prompt, save_s)
        chunks: Iterator[Any] = llm.create_chat_completion(
            messages=messages,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stream=True,
        )
        try:
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _reuse(self, engine: Engine, prompt: list[int], save_s: float) -> PromptStats:
        """Restores the saved state that shares more of ``prompt`` than the live context."""
        llm = engine.llm
        evaluated = tokens_to_eval(llm.input_ids[: llm.n_tokens].tolist(), prompt)
        match = engine.states.best(prompt, beats=len(prompt) - evaluated)
        if match is None:
            return PromptStats(len(prompt), evaluated, False, 0.0, save_s)
        t0 = time.perf_counter()
        try:
            restore_state(llm, match.state)
        except RuntimeError as e:  # a cache: evaluate the whole prompt instead
            log.warning("restoring a saved prompt state failed: %s", e)
            engine.states.drop(match.key)
            return PromptStats(len(prompt), len(prompt), False, 0.0, save_s)
        evaluated = tokens_to_eval(match.state.tokens, prompt)
        return PromptStats(len(prompt), evaluated, True, time.perf_counter() - t0, save_s)

    # -- the provider ------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._engine)
        self._started = True

    def stuck_generations(self) -> int:
        """Generation threads still running ``timeouts.first_event_s`` after they were told
        to stop: each checks its stop flag after every token, so one still busy that long
        is stuck in the engine (and holds its lock: no other turn can run)."""
        now = time.monotonic()
        for thread in [t for t in list(self._stopping) if not t.is_alive()]:
            self._stopping.pop(thread, None)
        limit = self.timeouts.first_event_s
        return sum(now - since > limit for since in list(self._stopping.values()))

    def healthy(self) -> bool:
        """The model loaded and no generation stuck past its deadline (readiness)."""
        return self._started and not self.stuck_generations()

    async def warm_up(self, system: str) -> None:
        """Evaluates the system prompt (with the tools text) once: llama.cpp keeps it as
        the prompt prefix cache, so the first turn starts as fast as the later ones."""
        req = ChatRequest(system=system, messages=(Message("user", "Olá"),), max_tokens=1)
        calls = self.timeouts
        first = max(calls.first_event_s, WARM_UP_FIRST_EVENT_S)
        self.timeouts = replace(calls, first_event_s=first)
        started = time.monotonic()
        try:
            async with self.stream(req) as stream:
                async for _ in stream:
                    pass
        except ProviderError as e:
            # Not fatal: the first call evaluates the prompt instead (and is slower).
            log.warning(
                "warm-up of the system prompt failed after %.0f s (%s): the first call "
                "evaluates it",
                time.monotonic() - started,
                e,
            )
        finally:
            self.timeouts = calls

    def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        return self._generate(request, None)

    def _attempt(
        self, request: ChatRequest, gate: Gate | None
    ) -> AsyncGenerator[StreamEvent, None]:
        return self._generate(request, gate)

    async def _generate(
        self, request: ChatRequest, gate: Gate | None
    ) -> AsyncGenerator[StreamEvent, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        system = request.system
        if request.tools:
            system = f"{system.rstrip()}\n\n{text_protocol_prompt()}"
        messages = [{"role": "system", "content": system}]
        messages += [{"role": m.role, "content": m.content} for m in request.messages]

        def put(kind: str, value: Any) -> None:
            # The reader may be gone (cancelled, loop closed): then nobody needs this.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def hold() -> None:
            """Between two tokens: waits while the gate is closed (or until a cancel)."""
            if gate is None or gate.is_open:
                return
            gate.holds += 1
            while not gate.wait_open(HOLD_POLL_S) and not stop.is_set():
                pass

        def generate() -> None:
            try:
                engine = self._engine()
                with engine.lock:
                    if stop.is_set():
                        return
                    chunks = self._completion(engine, messages, request)
                    try:
                        for chunk in chunks:
                            if stop.is_set():
                                break
                            self.last_chunks += 1
                            choice = chunk["choices"][0]
                            text = choice.get("delta", {}).get("content")
                            if text:
                                put("text", text)
                            if choice.get("finish_reason"):
                                put("finish", choice["finish_reason"])
                            hold()
                    finally:
                        close = getattr(chunks, "close", None)
                        if close is not None:
                            close()
            except BaseException as e:
                put("error", e)
            finally:
                put("end", None)

        thread = threading.Thread(target=generate, name="llama-generate", daemon=True)
        self.last_thread = thread
        self.last_chunks = 0
        thread.start()
        tags = ToolTagFilter()
        finish = ""
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    spoken, calls = self._filter(tags, value)
                    if spoken:
                        yield TextDelta(spoken)
                    for call in calls:
                        yield call
                elif kind == "finish":
                    finish = value
                elif kind == "error":
                    if isinstance(value, ProviderError | ConfigError):
                        raise value
                    raise ProviderError(f"llama.cpp failed: {value!r}", provider=self.name)
                else:
                    break
        finally:
            stop.set()
            if thread.is_alive():
                self._stopping[thread] = time.monotonic()
        try:
            rest = tags.finish()
        except ValueError as e:
            raise ProviderProtocolError(f"model output: {e}", provider=self.name) from e
        if rest:
            yield TextDelta(rest)
        yield Done(finish or "stop")

    def _filter(self, tags: ToolTagFilter, text: str) -> tuple[str, list[Any]]:
        try:
            return tags.feed(text)
        except ValueError as e:
            raise ProviderProtocolError(
                f"model wrote a bad tool call: {e}", provider=self.name
            ) from e
