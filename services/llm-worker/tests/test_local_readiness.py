"""Readiness of the local provider (issue 14 item 3): a generation still running in the
engine well after its stream was closed (a stuck engine, holding the model's lock) takes the
replica out of service until it returns. The fake engine makes a token every ``token_s`` in
the provider's real generation thread, and checks the stop flag after each, as llama.cpp
does."""

from __future__ import annotations

import asyncio
import time

import pytest
from llm_worker.errors import ProviderTimeout
from llm_worker.events import ChatRequest, Message, TextDelta
from llm_worker.providers.base import Timeouts
from llm_worker.testing import FakeEngineProvider

REQUEST = ChatRequest(system="s", messages=(Message("user", "Olá"),), max_tokens=10)


async def close_after_first_token(provider: FakeEngineProvider) -> None:
    async with provider.stream(REQUEST) as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                break  # the caller stops reading: the stream is closed, generation told to stop


async def test_not_ready_until_started() -> None:
    provider = FakeEngineProvider(["a"], token_s=0.01)
    assert not provider.healthy()
    await provider.start()
    assert provider.healthy()


async def test_a_generation_stuck_past_its_deadline_fails_readiness_until_it_returns() -> None:
    # The first token takes 1.5 s, its deadline is 0.3 s: the stream gives up (a timeout)
    # while the engine is still computing it.
    provider = FakeEngineProvider(
        ["a ", "b ", "c "], token_s=1.5, timeouts=Timeouts(first_event_s=0.3, idle_s=5.0)
    )
    await provider.start()
    with pytest.raises(ProviderTimeout):
        await close_after_first_token(provider)
    thread = provider.last_thread
    assert thread is not None
    assert thread.is_alive()  # still in the engine
    assert provider.healthy()  # told to stop just now: not stuck yet
    await asyncio.sleep(0.5)
    assert provider.stuck_generations() == 1
    assert not provider.healthy()
    deadline = time.monotonic() + 5
    while thread.is_alive() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not thread.is_alive()  # it stopped after that token
    assert provider.healthy()


async def test_a_generation_that_stops_within_its_deadline_never_fails_readiness() -> None:
    provider = FakeEngineProvider(
        ["a ", "b ", "c "], token_s=0.05, timeouts=Timeouts(first_event_s=2.0, idle_s=5.0)
    )
    await provider.start()
    await close_after_first_token(provider)
    for _ in range(10):
        assert provider.healthy()
        await asyncio.sleep(0.05)
    assert provider.stuck_generations() == 0
