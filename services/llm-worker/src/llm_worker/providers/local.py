"""Local models through llama-cpp-python (GGUF files, CPU by default).

Generation runs in a thread and hands each token to the event loop; cancelling the stream
sets a flag that the thread checks after every token, so generation stops within one
token (prompt evaluation, once started, finishes first). One generation at a time per
loaded model: llama.cpp contexts are not thread-safe. Loaded models are shared by path.

Tools: small local models have no native tool calling in llama-cpp-python's chat API, so
the tools are described in the system prompt and called with
``<tool_call>{...}</tool_call>`` in the text (:class:`~llm_worker.tools.ToolTagFilter`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import logging
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any, ClassVar

from pipeline.envparse import cache_dir

from llm_worker.errors import ConfigError, ProviderError, ProviderProtocolError
from llm_worker.events import ChatRequest, Done, Message, StreamEvent, TextDelta
from llm_worker.providers.base import Capabilities, LLMProvider, Timeouts
from llm_worker.tools import ToolTagFilter, text_protocol_prompt

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "llama-cpp-python==0.3.36 is built by scripts/setup.d/45-llm.sh (make bootstrap), "
    "or: pip install 'llama-cpp-python==0.3.36'"
)
DEFAULT_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SMALL_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_MIN_FIRST_EVENT_S = 60.0


def models_dir() -> Path:
    return cache_dir() / "models"


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL_FILE


_models: dict[tuple[str, int, int], tuple[Any, threading.Lock]] = {}
_models_lock = threading.Lock()


def _close_all() -> None:
    """Frees the loaded models before interpreter shutdown (llama-cpp-python's own
    finalizer fails once its module globals are gone)."""
    with _models_lock:
        for llm, lock in _models.values():
            with lock:
                close = getattr(llm, "close", None)
                if close is not None:
                    close()
        _models.clear()


def _load(path: str, n_ctx: int, n_threads: int) -> tuple[Any, threading.Lock]:
    try:
        llama_cpp = importlib.import_module("llama_cpp")
    except ImportError as e:
        raise ConfigError(f"the local provider needs llama-cpp-python: {INSTALL_HINT}") from e
    key = (path, n_ctx, n_threads)
    with _models_lock:
        if key not in _models:
            if not Path(path).is_file():
                raise ConfigError(
                    f"model file not found: {path} (run scripts/assemble-llm.sh or set "
                    "LLM_MODEL_PATH)"
                )
            log.info("loading local model %s", path)
            llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            if not _models:
                atexit.register(_close_all)
            _models[key] = (llm, threading.Lock())
        return _models[key]


class LocalProvider(LLMProvider):
    name: ClassVar[str] = "local"
    capabilities: ClassVar[Capabilities] = Capabilities(tools=True, local=True)

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        n_ctx: int = 2048,
        n_threads: int = 2,
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
        self.model_path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        # The last generation's thread and how many chunks it produced (tests, metrics).
        self.last_thread: threading.Thread | None = None
        self.last_chunks = 0

    async def start(self) -> None:
        await asyncio.to_thread(_load, self.model_path, self.n_ctx, self.n_threads)

    async def warm_up(self, system: str) -> None:
        """Evaluates the system prompt (with the tools text) once: llama.cpp keeps it as
        the prompt prefix cache, so the first turn starts as fast as the later ones."""
        req = ChatRequest(system=system, messages=(Message("user", "Olá"),), max_tokens=1)
        async with self.stream(req) as stream:
            async for _ in stream:
                pass

    async def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
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

        def generate() -> None:
            try:
                llm, lock = _load(self.model_path, self.n_ctx, self.n_threads)
                with lock:
                    if stop.is_set():
                        return
                    chunks: Iterator[Any] = llm.create_chat_completion(
                        messages=messages,
                        max_tokens=request.max_tokens,
                        temperature=request.temperature,
                        stream=True,
                    )
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
