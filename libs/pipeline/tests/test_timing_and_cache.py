"""The worker's turn.timing helper, its on_ready hook, and the bus's typed cache and turn
methods, on a real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asp import Stage, TurnTiming
from asp import streams as layout
from pipeline import Bus, Job, StreamWorker
from pipeline.bus import MAX_REGISTERED_PHRASES, PHRASE_REGISTRY, TurnAdvance
from prometheus_client import REGISTRY


class TimedSTT(StreamWorker):
    stage = Stage.STT

    def __init__(self, bus: Bus) -> None:
        super().__init__(bus, "stt-t")
        self.readied = 0

    async def on_ready(self) -> None:
        self.readied += 1
        await asyncio.sleep(0.05)
        assert not self.ready  # work is read only once this returns

    async def handle(self, job: Job) -> None:
        pass


def step_count(step: str) -> float:
    return REGISTRY.get_sample_value("asp_turn_step_seconds_count", {"step": step}) or 0.0


async def test_turn_timing_is_an_event_of_the_stage_and_a_histogram_sample(bus: Bus) -> None:
    worker = TimedSTT(bus)
    sid = str(uuid.uuid4())
    before = step_count("stt")
    timing = worker.turn_timing(sid, {"stt": 0.2104}, utterance_id="u3")
    assert timing == TurnTiming(
        session_id=sid, stage="stt", utterance_id="u3", stt_ms=210, timestamp=timing.timestamp
    )
    assert step_count("stt") == before + 1
    # A clock that went backwards never gives a negative step.
    assert worker.turn_timing(sid, {"llm_first_token": -0.5}).llm_first_token_ms == 0
    await bus.publish(timing)
    assert await bus.session_log(sid) == [timing]
    for stage in Stage:  # the session log only
        assert await bus.redis.xlen(layout.work_stream(stage)) == 0
    with pytest.raises(TypeError):
        worker.turn_timing(sid, {"no_such_step": 1.0})


async def test_on_ready_runs_before_work_is_read(bus: Bus) -> None:
    worker = TimedSTT(bus)
    task = asyncio.create_task(worker.run(grace_s=1))
    while not worker.ready:
        await asyncio.sleep(0.01)
    worker.stop()
    await asyncio.wait_for(task, 5)
    assert worker.readied == 1


async def test_cache_methods(bus: Bus) -> None:
    key = layout.cache_key("test", "k")
    assert await bus.cached(key, 100) is None
    await bus.cache(key, b"\x00\x01", 100)
    await bus.redis.expire(key, 5)
    assert await bus.cached(key, 100) == b"\x00\x01"
    assert await bus.redis.ttl(key) > 50  # a use renews the TTL
    assert await bus.refresh_cached([key, layout.cache_key("test", "absent")], 1000) == [
        True,
        False,
    ]
    assert await bus.redis.ttl(key) > 500
    assert await bus.refresh_cached([], 10) == []


async def test_phrase_registry_keeps_the_most_recent(bus: Bus) -> None:
    await bus.register_phrases("pt-BR", ["Olá.", "  ", "x" * 1000])
    assert await bus.registered_phrases() == [("pt-BR", "Olá.")]
    await bus.register_phrases("en", [])  # nothing to register: nothing written
    await bus.register_phrases("pt-BR", [f"Frase {i}." for i in range(MAX_REGISTERED_PHRASES)])
    assert await bus.redis.zcard(PHRASE_REGISTRY) == MAX_REGISTERED_PHRASES
    assert ("pt-BR", "Olá.") not in await bus.registered_phrases()  # the oldest went


async def test_turn_progress(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    assert await bus.turn_progress(sid, "r-1") == (0, 0)
    await bus.publish_many([], advance_turn=TurnAdvance(sid, "r-1", 1, 12, 60))
    assert await bus.turn_progress(sid, "r-1") == (1, 12)
    assert 0 < await bus.redis.ttl(layout.turn_key(sid, "r-1")) <= 60
    await bus.skip_sentence(sid, "r-1", 2, 60)
    assert await bus.turn_progress(sid, "r-1") == (2, 12)


async def test_a_response_cut_in_its_first_sentence_leaves_a_turn_key_that_expires(
    bus: Bus,
) -> None:
    # barge-in before any sentence went out: skip_sentence makes the key (found by the soak)
    sid = str(uuid.uuid4())
    await bus.skip_sentence(sid, "greeting", 1, 60)
    assert await bus.turn_progress(sid, "greeting") == (1, 0)
    assert 0 < await bus.redis.ttl(layout.turn_key(sid, "greeting")) <= 60
