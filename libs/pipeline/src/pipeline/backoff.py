"""How long to wait before the next try of something retried: the one implementation of
backoff for every retry loop (the edge's Redis writer and reader, the workers' Redis
reconnection, the speech engines' and the LLM providers' retries); each loop sets its own
schedule.

The delay before try ``n + 1`` (``n`` from 0, the tries already failed less one) is
``first * factor**n`` (``first * (n + 1)`` when ``linear``), at most ``cap``, times a
random factor drawn evenly from ``jitter`` (none when its ends are equal), so that many
clients that failed together do not retry together.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class Backoff:
    first: float
    cap: float = math.inf
    factor: float = 2.0
    linear: bool = False
    jitter: tuple[float, float] = (1.0, 1.0)
    attempt: int = 0
    """How many delays :meth:`next_delay` gave since the last :meth:`reset`."""

    def delay(self, n: int) -> float:
        """The delay after ``n + 1`` failed tries in a row (``n`` from 0)."""
        base = self.first * (n + 1) if self.linear else self.first * self.factor**n
        low, high = self.jitter
        spread = 1.0 if low == high else low + (high - low) * random.random()
        return min(self.cap, base) * spread

    def next_delay(self) -> float:
        """The next delay of a loop that keeps the count here; one more try counted."""
        delay = self.delay(self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """The try succeeded: the next failure waits ``first`` again."""
        self.attempt = 0
