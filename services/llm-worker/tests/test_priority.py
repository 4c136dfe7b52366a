"""CPU priority on a real Redis with a fake llama.cpp engine: the first clause's speech
synthesis holds the rest of the local generation (bounded), and replies are marked live."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from asp import ResponseText, Transcript
from llm_worker.facts_store import FactsStore
from llm_worker.persona import load_persona
from llm_worker.providers.base import LLMProvider
from llm_worker.testing import FakeEngineProvider, FakeProvider
from llm_worker.worker import LLMWorker
from pipeline import Bus

PERSONA = load_persona()
EXAMPLE = Path(__file__).resolve().parents[3] / "compose" / "agent" / "fatos.toml"
TOKENS = ["Nosso", " horário", " começa", " às", " oito", " da", " manhã", ".",
          " Aos", " sábados", " não", " abrimos", "."]  # fmt: skip
TOKEN_S = 0.03


def make_worker(bus: Bus, provider: LLMProvider, tts_priority_max_wait_s: float) -> LLMWorker:
    # The example facts: the replies below state its hours (the grounding guard checks them).
    return LLMWorker(
        bus, "llm-t", provider, PERSONA,
        first_words_min=3, first_words_max=6, max_sentences=3, facts=FactsStore(EXAMPLE),
        tts_priority_max_wait_s=tts_priority_max_wait_s,
    )  # fmt: skip


Run = Callable[[LLMProvider, float], LLMWorker]


@pytest.fixture
def sid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def running(bus: Bus) -> AsyncIterator[Run]:
    """Starts a worker (make_worker's) on a provider with a TTS priority bound; stopped at
    the test's end."""
    tasks: list[tuple[LLMWorker, asyncio.Task[None]]] = []

    def start(provider: LLMProvider, tts_priority_max_wait_s: float) -> LLMWorker:
        worker = make_worker(bus, provider, tts_priority_max_wait_s)
        tasks.append((worker, asyncio.create_task(worker.run(grace_s=1))))
        return worker

    yield start
    for worker, task in tasks:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def texts(bus: Bus, sid: str) -> list[ResponseText]:
    return [m for m in await bus.session_log(sid) if isinstance(m, ResponseText)]


# Not a plain question about hours (those are answered without the model: llm_worker.hours).
async def ask(bus: Bus, sid: str, text: str = "Quando começa o atendimento?") -> None:
    await bus.publish(
        Transcript(session_id=sid, utterance_id="u-1", text=text, language="pt", confidence=1.0)
    )


async def until_final(bus: Bus, sid: str, timeout: float = 20.0) -> list[ResponseText]:
    async with asyncio.timeout(timeout):
        while True:
            out = await texts(bus, sid)
            if any(t.is_final for t in out):
                return out
            await asyncio.sleep(0.01)


async def fake_tts(bus: Bus, sid: str, synth_s: float, renew: bool = False) -> tuple[float, float]:
    """Plays the tts-worker's part: once the first clause is published, holds the
    session's priority flag for ``synth_s`` (renewing it: forever), then clears it."""
    while not any(t.seq == 0 for t in await texts(bus, sid)):
        await asyncio.sleep(0.005)
    began = time.monotonic()
    await bus.set_tts_priority(sid, 2000)
    if renew:
        while True:
            await asyncio.sleep(0.1)
            await bus.set_tts_priority(sid, 2000)
    await asyncio.sleep(synth_s)
    await bus.clear_tts_priority(sid)
    return began, time.monotonic()


def gaps(provider: FakeEngineProvider) -> list[float]:
    times = [t for t, _ in provider.produced]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_the_rest_of_the_reply_waits_for_the_first_clause_synthesis(
    bus: Bus, sid: str, running: Run
) -> None:
    engine = FakeEngineProvider(TOKENS, token_s=TOKEN_S)
    worker = running(engine, 2.0)
    tts = asyncio.create_task(fake_tts(bus, sid, synth_s=0.5))
    await ask(bus, sid)
    out = await until_final(bus, sid)
    began, cleared = await tts
    assert [t.text for t in out if t.text] == [
        "Nosso horário começa",
        "às oito da manhã.",
        "Aos sábados não abrimos.",
    ]
    # While the TTS held the flag, at most the token already being computed came out.
    during = [t for t, _ in engine.produced if began < t < cleared]
    assert len(during) <= 1, (began, cleared, engine.produced)
    # ... and generation went on as soon as it was cleared, not at the 2 s bound.
    after = [t for t, _ in engine.produced if t >= cleared]
    assert after, engine.produced
    assert after[0] - cleared < 0.3
    assert max(gaps(engine)) >= 0.4
    assert 0.4 <= worker.held_s < 1.5
    assert not await bus.has_tts_priority(sid)


async def test_the_hold_is_bounded_when_the_tts_never_clears(
    bus: Bus, sid: str, running: Run
) -> None:
    engine = FakeEngineProvider(TOKENS, token_s=TOKEN_S)
    worker = running(engine, 0.4)
    tts = asyncio.create_task(fake_tts(bus, sid, synth_s=0, renew=True))
    try:
        await ask(bus, sid)
        out = await until_final(bus, sid)
    finally:
        tts.cancel()
    assert len([t for t in out if t.text]) == 3
    assert 0.35 <= max(gaps(engine)) < 1.2
    assert 0.35 <= worker.held_s < 1.0


async def test_without_a_tts_the_flag_set_at_hand_over_lapses(
    bus: Bus, sid: str, running: Run
) -> None:
    """No TTS replica picks the clause up: the LLM's own flag expires with its bound."""
    engine = FakeEngineProvider(TOKENS, token_s=TOKEN_S)
    worker = running(engine, 0.3)
    await ask(bus, sid)
    await until_final(bus, sid)
    assert 0.25 <= worker.held_s < 0.9
    await asyncio.sleep(0.05)
    assert not await bus.has_tts_priority(sid)


async def test_remote_providers_are_never_held(bus: Bus, sid: str, running: Run) -> None:
    worker = running(FakeProvider(default_text="Nosso horário começa às oito."), 1.0)
    assert worker.tts_priority_max_wait_s == 0  # Claude's CPU is not ours
    await ask(bus, sid)
    await until_final(bus, sid)
    assert worker.held_s == 0
    assert not await bus.has_tts_priority(sid)


async def test_a_reply_is_marked_live_while_it_is_generated(
    bus: Bus, sid: str, running: Run
) -> None:
    engine = FakeEngineProvider(TOKENS, token_s=0.05)
    worker = running(engine, 0.0)
    assert await bus.live_turns() == 0
    await ask(bus, sid)
    async with asyncio.timeout(10):
        while not engine.produced:
            await asyncio.sleep(0.005)
    assert await bus.live_turns() == 1
    await until_final(bus, sid)
    async with asyncio.timeout(5):
        while await bus.live_turns():
            await asyncio.sleep(0.01)
    assert worker.held_s == 0


async def test_a_barge_in_during_the_hold_stops_the_generation(
    bus: Bus, sid: str, running: Run
) -> None:
    from asp import ResponseCancel

    engine = FakeEngineProvider(TOKENS * 5, token_s=TOKEN_S)
    running(engine, 0.5)
    tts = asyncio.create_task(fake_tts(bus, sid, synth_s=0, renew=True))
    try:
        await ask(bus, sid)
        async with asyncio.timeout(10):
            while not (out := await texts(bus, sid)):
                await asyncio.sleep(0.005)
        await bus.publish(ResponseCancel(session_id=sid, response_id=out[0].response_id,
                                         reason="barge_in"))  # fmt: skip
        thread = engine.last_thread
        assert thread is not None
        await asyncio.to_thread(thread.join, 5)
        assert not thread.is_alive()
    finally:
        tts.cancel()
    assert len(engine.produced) < 20  # stopped long before the 65 tokens
    async with asyncio.timeout(5):
        while await bus.live_turns():
            await asyncio.sleep(0.01)
