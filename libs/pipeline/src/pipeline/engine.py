"""A blocking speech engine run from asyncio: loaded once, bounded concurrency, timeouts
and retries, and the metrics of its calls. The STT and TTS provider base classes build on
it; each names its own Prometheus metrics (:class:`pipeline.metrics.EngineMetrics`).

A call that passes its deadline (``timeout_s``) is given up by the caller, but its thread
cannot be stopped: it keeps its engine slot until the engine returns. Such a call is
*overdue*; an engine with an overdue call is not :meth:`BlockingEngine.healthy`, and the
worker's readiness says so (a stuck engine takes the replica out of service).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict, TypeVar, Unpack

from .backoff import Backoff
from .metrics import EngineMetrics
from .provider import Provider

log = logging.getLogger(__name__)

T = TypeVar("T")


class EngineError(Exception):
    """Base of the engine errors of every stage; ``retryable`` says whether to try again.

    EngineError              (retryable: bool)
     ├── AudioFormatError    malformed audio, rate or chunk size: never retried
     ├── ConfigError         bad settings, missing model files, unknown voice: never retried
     ├── ProviderError       the engine failed; ``retryable`` says whether to try again
     │    └── ProviderTimeout  the engine did not answer in time (retryable)
     └── a stage's own errors (``STTError``, ``TTSError``: bad language, bad text...)
    """

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class AudioFormatError(EngineError, ValueError):
    """Audio (or a rate, chunk size or PCM buffer) that the stage cannot handle."""


class ConfigError(EngineError):
    """Settings are invalid, the model files are missing or the voice is unknown."""


class ProviderError(EngineError):
    """The engine failed."""


class ProviderTimeout(ProviderError):
    """The engine did not finish within the configured timeout."""

    retryable = True


class BlockingEngine(Provider):
    """Runs an engine's blocking primitives in worker threads (a :class:`Provider`: its
    retries, backoff and timeout error are the base's).

    A subclass implements ``_load()`` and sets ``engine_metrics`` (its stage's metrics);
    ``_attempts`` runs one blocking call with the timeout and retries, ``_succeeded``
    records a call that succeeded.
    """

    error_type: ClassVar[type[EngineError]] = EngineError  # passed through as raised
    # wraps the engine's own exceptions (not retried)
    failed_type: ClassVar[type[EngineError]] = ProviderError
    timeout_type: ClassVar[type[EngineError]] = ProviderTimeout  # did not answer in time
    engine_metrics: ClassVar[EngineMetrics]

    def __init__(
        self, *, timeout_s: float, retries: int, retry_backoff_s: float, max_concurrency: int
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        super().__init__(retries=retries, backoff=Backoff(retry_backoff_s, linear=True))
        self.timeout_s = timeout_s
        self.retry_backoff_s = retry_backoff_s
        self._load_lock = threading.Lock()
        self._loaded = False
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._running: dict[int, float] = {}  # call number -> monotonic start
        self._calls = itertools.count()

    @abstractmethod
    def _load(self) -> None:
        """Load the model (blocking). Called once per provider instance."""

    @property
    def loaded(self) -> bool:
        return self._loaded

    def overdue_calls(self) -> int:
        """Calls still running in their thread after their deadline (abandoned by the
        caller, holding an engine slot)."""
        limit = time.monotonic() - self.timeout_s
        return sum(1 for started in list(self._running.values()) if started < limit)

    def healthy(self) -> bool:
        """Loaded, and no call past its deadline (readiness)."""
        return self._loaded and not self.overdue_calls()

    def _timed(self, run: Callable[..., T], *args: Any) -> T:
        """Runs in the worker thread: records the call while it runs."""
        call = next(self._calls)  # itertools.count: atomic under the GIL
        self._running[call] = time.monotonic()
        try:
            return run(*args)
        finally:
            del self._running[call]

    def load(self) -> None:
        """Load the model once; later calls return at once. Blocking."""
        with self._load_lock:
            if not self._loaded:
                started = time.perf_counter()
                self._load()
                self._loaded = True
                log.info("%s loaded in %.2f s", self.name, time.perf_counter() - started)

    async def _attempts(self, run: Callable[..., T], *args: Any) -> tuple[T, int]:
        """``run(*args)`` in a worker thread, retried while the error is retryable.

        Returns the result and the number of attempts; counts failures and retries. Once
        the retries are spent, raises ``timeout_type``, ``failed_type`` or the
        ``error_type`` raised.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._within(
                    asyncio.to_thread(self._timed, run, *args), self.timeout_s, self._timed_out
                )
            except (self.timeout_type, self.error_type) as e:
                error = e
            except Exception as e:  # the engine's own exceptions
                # Only the type: engine messages may quote the text being processed, and
                # what callers say (or hear) stays out of logs. The cause keeps the rest.
                error = self.failed_type(f"{self.name} failed: {type(e).__name__}", retryable=False)
                error.__cause__ = e
            else:
                return result, attempt
            if self._gives_up(error, attempt):
                self.engine_metrics.requests.labels(self.name, type(error).__name__).inc()
                raise error
            await self._retry_after(attempt, error)

    def _timed_out(self) -> EngineError:
        return self.timeout_type(f"{self.name} took longer than {self.timeout_s:g} s")

    def _count_retry(self) -> None:
        self.engine_metrics.retries.labels(self.name).inc()

    def _succeeded(self, elapsed_s: float, audio_s: float) -> None:
        """Counts a call that succeeded: its time (all attempts) and its seconds of audio."""
        m = self.engine_metrics
        m.requests.labels(self.name, "ok").inc()
        if m.seconds is not None:
            m.seconds.labels(self.name).observe(elapsed_s)
        if m.audio_seconds is not None:
            m.audio_seconds.labels(self.name).inc(audio_s)


@dataclass(frozen=True)
class EngineCapabilities:
    """What a speech provider can do."""

    max_concurrency: int = 1  # simultaneous calls inside one process
    languages: frozenset[str] | None = None  # None: anything the engine accepts


class EngineOptions(TypedDict, total=False):
    """The keyword arguments every speech provider takes (the defaults are
    :class:`SpeechEngine`'s; ``timeout_s`` is its stage's ``default_timeout_s``)."""

    language: str
    timeout_s: float
    retries: int
    retry_backoff_s: float


class SpeechEngine(BlockingEngine):
    """The base of the STT and TTS provider base classes: a :class:`BlockingEngine` whose
    concurrency its ``capabilities`` say, built from :class:`EngineOptions`."""

    capabilities: ClassVar[EngineCapabilities] = EngineCapabilities()
    default_timeout_s: ClassVar[float] = 15.0

    def __init__(self, **options: Unpack[EngineOptions]) -> None:
        super().__init__(
            timeout_s=options.get("timeout_s", self.default_timeout_s),
            retries=options.get("retries", 1),
            retry_backoff_s=options.get("retry_backoff_s", 0.1),
            max_concurrency=self.capabilities.max_concurrency,
        )
