"""The one base of the providers of every stage: the speech-to-text and text-to-speech
engines (:class:`pipeline.engine.BlockingEngine`, through :class:`~pipeline.engine.SpeechEngine`)
and the LLM vendors (``llm_worker.providers.base.LLMProvider``).

What it owns, the same for all of them:

* a name (the ``provider`` label of the stage's metrics, the prefix of its log lines);
* timeouts: :meth:`Provider._within` bounds one wait and raises the provider's own timeout
  error (each stage says what it waits for: a blocking engine call, a stream's next event);
* bounded retries: ``retries`` (at most ``retries_limit`` where one is set) more attempts
  of an error that says it is ``retryable``, :meth:`Provider._gives_up`; between two, the
  provider's :class:`~pipeline.backoff.Backoff` delay, :meth:`Provider._retry_after`;
* metrics: every retry is counted through :meth:`Provider._count_retry`, in the stage's
  own metrics (Prometheus counters for the engines, in-process counters for the LLM);
* readiness: :meth:`Provider.healthy`.

How an attempt runs (a blocking call in a thread, or a streamed reply that must not be
retried once it has spoken) stays with each stage's base.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import ClassVar, Protocol, TypeVar

from .backoff import Backoff

log = logging.getLogger(__name__)

T = TypeVar("T")


class RetryableError(Protocol):
    """What a provider's errors say: whether the same request may succeed if sent again."""

    retryable: bool


class Provider(ABC):
    name: ClassVar[str] = "base"
    retries_name: ClassVar[str] = "retries"  # the constructor's argument, in its error
    retries_limit: ClassVar[int | None] = None  # the most retries allowed (None: no bound)

    def __init__(self, *, retries: int, backoff: Backoff) -> None:
        limit = self.retries_limit
        if retries < 0 or (limit is not None and retries > limit):
            bound = ">= 0" if limit is None else f"between 0 and {limit}"
            raise ValueError(f"{self.retries_name} must be {bound}")
        self.retries = retries
        self.backoff = backoff

    def healthy(self) -> bool:
        """Ready to answer (the worker's readiness; called from the probe's thread: keep it
        a read)."""
        return True

    @abstractmethod
    def _count_retry(self) -> None:
        """Counts one retry in the stage's metrics."""

    def _gives_up(self, error: RetryableError, attempt: int) -> bool:
        """Whether attempt ``attempt`` (from 1), failed with ``error``, is the last one."""
        return not error.retryable or attempt > self.retries

    async def _retry_after(self, attempt: int, error: BaseException) -> None:
        """Counts the retry, logs it and waits the backoff's delay before attempt
        ``attempt + 1``."""
        self._count_retry()
        delay = self.backoff.delay(attempt - 1)
        log.warning("%s attempt %d failed (%s); retry in %.2f s", self.name, attempt, error, delay)
        await asyncio.sleep(delay)

    @staticmethod
    async def _within(
        waited: Awaitable[T], limit: float, timed_out: Callable[[], BaseException]
    ) -> T:
        """``await waited``, for at most ``limit`` seconds; then raises ``timed_out()``
        (the provider's timeout error, caused by the TimeoutError)."""
        try:
            async with asyncio.timeout(limit):
                return await waited
        except TimeoutError as e:
            raise timed_out() from e
