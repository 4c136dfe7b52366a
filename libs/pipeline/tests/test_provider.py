"""pipeline.provider.Provider, the base of the STT, TTS and LLM providers: the bound of
its retries, when it gives up, the pause and count of a retry, the timeout of one wait."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import pytest
from pipeline.backoff import Backoff
from pipeline.provider import Provider


@dataclass
class Failure(Exception):
    retryable: bool


class Counting(Provider):
    name: ClassVar[str] = "counting"

    def __init__(self, retries: int, first_s: float = 0.0) -> None:
        super().__init__(retries=retries, backoff=Backoff(first_s, linear=True))
        self.counted = 0

    def _count_retry(self) -> None:
        self.counted += 1


class Bounded(Counting):
    retries_name: ClassVar[str] = "max_retries"
    retries_limit: ClassVar[int | None] = 2


def test_retries_are_bounded_as_each_provider_says() -> None:
    with pytest.raises(ValueError, match="retries must be >= 0"):
        Counting(-1)
    assert Counting(50).retries == 50  # no upper bound unless the provider sets one
    with pytest.raises(ValueError, match="max_retries must be between 0 and 2"):
        Bounded(3)
    with pytest.raises(ValueError, match="max_retries must be between 0 and 2"):
        Bounded(-1)
    assert Bounded(2).retries == 2


def test_a_retryable_error_is_retried_until_the_retries_are_spent() -> None:
    provider = Counting(2)
    retryable, final = Failure(retryable=True), Failure(retryable=False)
    assert [provider._gives_up(retryable, attempt) for attempt in (1, 2, 3)] == [
        False,
        False,
        True,
    ]
    assert provider._gives_up(final, 1)
    assert Counting(0)._gives_up(retryable, 1)


async def test_a_retry_is_counted_and_waits_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    provider = Counting(3, first_s=0.1)
    await provider._retry_after(1, Failure(retryable=True))
    await provider._retry_after(2, Failure(retryable=True))
    assert provider.counted == 2
    assert slept == pytest.approx([0.1, 0.2])


async def test_a_wait_past_its_limit_raises_the_providers_timeout() -> None:
    class Late(Exception):
        pass

    assert await Provider._within(asyncio.sleep(0, "on time"), 1.0, Late) == "on time"
    with pytest.raises(Late) as caught:
        await Provider._within(asyncio.sleep(5), 0.01, Late)
    assert isinstance(caught.value.__cause__, TimeoutError)
