"""The scripted part of the fake speech engines (``stt_worker.testing.FakeSTT``,
``tts_worker.testing.FakeTTS``): they go through the real provider base classes, and only
the engine's answer is made up here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from .engine import ProviderError

C = TypeVar("C")
R = TypeVar("R")


class ScriptedCalls(Generic[C]):
    """Records each call in ``calls``; the first ``failures`` calls raise a ProviderError
    (``retryable`` or not); the others take their answer, then ``delay_s``. Thread-safe."""

    def __init__(self, *, failures: int = 0, retryable: bool = True, delay_s: float = 0.0) -> None:
        self.calls: list[C] = []
        self.failures = failures
        self.retryable = retryable
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def run(self, call: C, answer: Callable[[], R]) -> R:
        """One call of the engine (blocking): ``answer()`` is taken under the lock, in the
        order of the calls."""
        with self._lock:
            self.calls.append(call)
            if self.failures > 0:
                self.failures -= 1
                raise ProviderError("scripted failure", retryable=self.retryable)
            result = answer()
        if self.delay_s:
            time.sleep(self.delay_s)
        return result


class ScriptedEngine(Generic[C]):
    """What the fake speech engines share, as the first of their bases (before the stage's
    provider base class): the name ``fake``, nothing to load, and their calls scripted by
    :attr:`scripted` (``failures``, ``retryable``, ``delay_s``: :class:`ScriptedCalls`) and
    recorded in :attr:`calls`; the other keywords go to the provider base class."""

    name: ClassVar[str] = "fake"

    def __init__(
        self, *, failures: int = 0, retryable: bool = True, delay_s: float = 0.0, **base: Any
    ) -> None:
        super().__init__(**base)
        self.scripted = ScriptedCalls[C](failures=failures, retryable=retryable, delay_s=delay_s)
        self.calls = self.scripted.calls

    def _load(self) -> None:
        pass
