"""The provider base class: retries, timeouts, metrics and cancellation.

A vendor implements one primitive, :meth:`LLMProvider._stream`, an async generator of
:data:`~llm_worker.events.StreamEvent` that maps its SDK's errors to
:class:`~llm_worker.errors.ProviderError` and releases its connection when closed.
The base class adds, the same for every vendor:

* timeouts: ``first_event_s`` until the first event (connect + time to first token) and
  ``idle_s`` between events; either raises ProviderTimeout;
* retries: a retryable error *before the first event* is retried up to ``max_retries``
  times (at most 5) with a short jittered backoff; after text has been emitted a retry
  would repeat speech, so the error goes to the caller;
* metrics: counts and time to first event in :class:`ProviderMetrics`, exported to
  Prometheus;

(the name, the bounded retries with their backoff, the timeout of one wait and the count
of retries are :class:`pipeline.provider.Provider`'s, the base of the STT and TTS engines
too)
* cancellation: :meth:`stream` returns an :class:`LLMStream` whose generation runs in its
  own task; ``await stream.cancel()`` (or leaving ``async with``, or cancelling the task
  that reads it) stops the vendor call at once: the HTTP stream is closed, local
  generation stops at the next token;
* holding: a :class:`Gate` passed to :meth:`stream` lets the reader hold a generation that
  runs on this machine between two tokens (the CPU goes to the speech synthesis of the
  first clause meanwhile); remote providers ignore it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import abstractmethod
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

from pipeline.backoff import Backoff
from pipeline.provider import Provider

from llm_worker import metrics
from llm_worker.errors import ProviderError, ProviderTimeout
from llm_worker.events import ChatRequest, Done, StreamEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Capabilities:
    tools: bool = True
    streaming: bool = True
    local: bool = False


@dataclass(frozen=True, slots=True)
class Timeouts:
    first_event_s: float = 10.0
    idle_s: float = 10.0
    connect_s: float = 3.0


@dataclass
class ProviderMetrics:
    """A provider's counts, kept per instance (``counts``: request, attempt, retry,
    completed, cancelled; ``errors`` by error type) and exported to Prometheus with the
    time to first event (:mod:`llm_worker.metrics`, label ``provider``)."""

    provider: str = "llm"
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def count(self, event: str) -> None:
        self.counts[event] += 1
        metrics.PROVIDER_EVENTS.labels(self.provider, event).inc()

    def failed(self, error: str) -> None:
        self.errors[error] += 1
        metrics.PROVIDER_ERRORS.labels(self.provider, error).inc()

    def first_event(self, seconds: float) -> None:
        metrics.PROVIDER_FIRST_EVENT_SECONDS.labels(self.provider).observe(seconds)


class Gate:
    """Holds a local generation between two tokens while closed (thread-safe).

    The reader closes it, the generation thread calls :meth:`wait_open` after each token.
    Whoever closes a gate must open it again within a bounded time: the provider's idle
    timeout keeps running while the generation is held.
    """

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self.holds = 0  # times the generation actually stopped at the gate

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    def wait_open(self, timeout: float) -> bool:
        """Blocks (a generation thread) until the gate is open or ``timeout`` passed."""
        return self._open.wait(timeout)


class LLMProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities()
    retries_name: ClassVar[str] = "max_retries"
    retries_limit: ClassVar[int | None] = 5

    def __init__(
        self,
        *,
        model: str = "",
        timeouts: Timeouts | None = None,
        max_retries: int = 1,
        retry_backoff_s: float = 0.2,
        metrics: ProviderMetrics | None = None,
    ) -> None:
        super().__init__(retries=max_retries, backoff=Backoff(retry_backoff_s, jitter=(0.5, 1.0)))
        self.model = model
        self.timeouts = timeouts or Timeouts()
        self.retry_backoff_s = retry_backoff_s
        self.metrics = metrics or ProviderMetrics(self.name)

    @abstractmethod
    def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """One attempt: yields events; raises ProviderError; closes its resources."""

    async def start(self) -> None:
        """Prepares the provider (load a local model); called once before use."""

    async def warm_up(self, system: str) -> None:
        """Prepares for requests with this system prompt (a local model evaluates it once,
        so the first caller does not wait for it). Call at worker start, after start()."""

    async def aclose(self) -> None:
        """Releases clients and models."""

    def _attempt(
        self, request: ChatRequest, gate: Gate | None
    ) -> AsyncGenerator[StreamEvent, None]:
        """One attempt with a gate. Providers that generate on this machine override this
        to hold their generation while the gate is closed; the others just stream."""
        return self._stream(request)

    def stream(self, request: ChatRequest, *, gate: Gate | None = None) -> LLMStream:
        """Starts a reply; iterate the result, cancel it on barge-in."""
        return LLMStream(self._run(request, gate), self)

    async def _run(
        self, request: ChatRequest, gate: Gate | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        self.metrics.count("request")
        attempt = 0
        while True:
            attempt += 1
            self.metrics.count("attempt")
            emitted = False
            started = time.monotonic()
            agen = self._attempt(request, gate)
            try:
                while True:
                    limit = self.timeouts.idle_s if emitted else self.timeouts.first_event_s
                    try:
                        event = await self._within(
                            anext(agen), limit, partial(self._no_answer, emitted, limit)
                        )
                    except StopAsyncIteration:
                        break
                    if not emitted:
                        emitted = True
                        self.metrics.first_event(time.monotonic() - started)
                    yield event
                self.metrics.count("completed")
                return
            except ProviderError as e:
                self.metrics.failed(type(e).__name__)
                if emitted or self._gives_up(e, attempt):
                    raise
                await self._retry_after(attempt, e)
            except Exception as e:
                self.metrics.failed("unexpected")
                raise ProviderError(f"unexpected error: {e!r}", provider=self.name) from e
            finally:
                await agen.aclose()

    def _no_answer(self, emitted: bool, limit: float) -> ProviderTimeout:
        what = "between events" if emitted else "before the first event"
        return ProviderTimeout(f"no answer {what} within {limit:g} s", provider=self.name)

    def _count_retry(self) -> None:
        self.metrics.count("retry")


class _End:
    """The end of a reply's events (one instance, ``_END``)."""


_END = _End()


class LLMStream:
    """A running reply: async-iterate its events; ``cancel()`` stops it at once."""

    def __init__(self, agen: AsyncGenerator[StreamEvent, None], provider: LLMProvider) -> None:
        self._provider = provider
        self._queue: asyncio.Queue[StreamEvent | BaseException | _End] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._pump(agen))
        self.cancelled = False
        self._ended = False  # Done, an error or the end was handed to the reader

    async def _pump(self, agen: AsyncGenerator[StreamEvent, None]) -> None:
        try:
            async for event in agen:
                self._queue.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._queue.put_nowait(e)
        finally:
            self._queue.put_nowait(_END)
            await agen.aclose()

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            await self.cancel()
            raise
        if isinstance(item, _End):
            self._ended = True
            self._queue.put_nowait(_END)
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        if isinstance(item, Done):
            self._ended = True
        return item

    async def cancel(self) -> None:
        """Stops generation now (closes the vendor stream); idempotent."""
        if self._task.done():
            return
        if not self._ended:
            self.cancelled = True
            self._provider.metrics.count("cancelled")
        self._task.cancel()
        await asyncio.wait([self._task])
        self._queue.put_nowait(_END)

    async def __aenter__(self) -> LLMStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.cancel()
