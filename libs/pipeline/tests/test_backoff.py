"""The schedules of the project's retry loops, all on pipeline.backoff.Backoff."""

from __future__ import annotations

import random

import pytest
from pipeline.backoff import Backoff


def test_a_worker_reconnecting_to_redis_doubles_from_0_2_s_up_to_5_s() -> None:
    backoff = Backoff(first=0.2, cap=5.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_delay() == 0.2


def test_an_engine_waits_longer_by_the_same_step_after_each_failed_try() -> None:
    assert [Backoff(0.1, linear=True).delay(n) for n in range(3)] == pytest.approx([0.1, 0.2, 0.3])


def test_jitter_draws_evenly_between_its_ends() -> None:
    random.seed(7)
    delays = [Backoff(first=0.1, cap=2.0, jitter=(0.8, 1.2)).delay(n) for n in range(8)]
    bases = [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
    assert all(0.8 * b <= d <= 1.2 * b for d, b in zip(delays, bases, strict=True))
    assert len({round(d / b, 6) for d, b in zip(delays, bases, strict=True)}) == 8
    # The LLM providers' retries: half to all of first * 2**n, with no cap.
    llm = [Backoff(0.2, jitter=(0.5, 1.0)).delay(n) for n in range(10)]
    assert all(0.1 * 2**n <= d <= 0.2 * 2**n for n, d in enumerate(llm))
