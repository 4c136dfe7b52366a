"""The session's lifecycle as one CallSession on a real Redis drives it (no SIP, a scripted
VAD): the edge is its one owner. Its session.start opens the session (the session.started
answer and the state the stages read written with it, so before the first utterance) and
its end is a session.ended with the call's statistics, which closes the session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from asp import streams as layout
from asp.messages import (
    Message,
    SessionEnd,
    SessionEnded,
    SessionStart,
    SessionStarted,
    TurnTiming,
    Utterance,
)
from pipeline.bus import Bus
from pipeline.testing import RedisServer
from sip_edge.testing import ScriptedCall
from sip_edge.vad import GatedClassifier, SileroPool


@pytest.fixture
async def bus(redis_server: RedisServer) -> AsyncIterator[Bus]:
    bus = Bus(aioredis.Redis.from_url(redis_server.url))
    yield bus
    await bus.close()


async def logged(bus: Bus, sid: str, check: Callable[[list[Message]], bool]) -> list[Message]:
    async with asyncio.timeout(10):
        while True:
            log = await bus.session_log(sid)
            if check(log):
                return log
            await asyncio.sleep(0.01)


def has(kind: type[Message]) -> Callable[[list[Message]], bool]:
    return lambda log: any(isinstance(m, kind) for m in log)


async def played(call: ScriptedCall, response_id: str, fill: int, frames: int) -> None:
    """The TTS sends ``frames`` frames of ``response_id``; the media clock plays them."""
    await call.send_audio(response_id, fill, frames)
    async with asyncio.timeout(10):
        while not (call.session.turns and call.session.turns.pacer.playing):
            await asyncio.sleep(0.01)
    assert call.step(frames) == [fill] * frames


async def test_the_state_is_written_with_the_start_before_any_utterance(bus: Bus) -> None:
    call = ScriptedCall.start(bus)
    try:
        log = await logged(bus, call.sid, has(SessionStart))
        # one transaction: whoever sees the start sees its answer, its state, the active set
        assert [m.TYPE for m in log] == ["session.start", "session.started"]
        started = log[1]
        assert isinstance(started, SessionStarted)
        assert started.status == "accepted"
        assert await bus.state(call.sid) == {
            "sample_rate": "8000",
            "encoding": "pcm_s16le",
            "language": call.session.settings.language,
        }
        assert await bus.is_active(call.sid)
        call.caller_says()
        log = await logged(bus, call.sid, has(Utterance))
        kinds = [m.TYPE for m in log]
        assert kinds.index("session.started") < kinds.index("utterance")
    finally:
        call.session.on_ended("test over")


async def test_a_call_ends_with_session_ended_and_its_statistics(
    bus: Bus, redis_server: RedisServer
) -> None:
    call = ScriptedCall.start(bus)
    sid = call.sid
    await logged(bus, sid, has(SessionStart))
    await played(call, "greeting", 0x11, 5)
    call.vad.speaking = True
    call.step(30)
    call.vad.speaking = False
    call.step(26)  # 500 ms of silence end the turn
    await logged(bus, sid, lambda log: any(isinstance(m, TurnTiming) for m in log))
    await played(call, "r-u1", 0x22, 5)
    log = await logged(
        bus, sid, lambda log: any(isinstance(m, TurnTiming) and m.edge_e2e_ms for m in log)
    )
    (e2e,) = [m.edge_e2e_ms for m in log if isinstance(m, TurnTiming) and m.edge_e2e_ms]
    assert e2e is not None
    call.session.on_ended("caller hung up")
    log = await logged(bus, sid, has(SessionEnded))
    assert [m.TYPE for m in log[-2:]] == ["session.end", "session.ended"]
    end, ended = log[-2:]
    assert isinstance(end, SessionEnd)
    assert end.reason == "call_hangup"
    assert isinstance(ended, SessionEnded)
    assert ended == call.session.ended_message()  # the one message, wherever it goes
    assert ended.duration_seconds is not None
    assert ended.duration_seconds > 0
    stats = ended.statistics
    assert stats is not None
    assert stats.audio_frames_received == 5 + 30 + 26 + 5  # every caller frame, 20 ms
    assert stats.audio_frames_sent == 10  # the greeting's and the answer's frames
    assert stats.vad_speech_events == 1
    assert stats.barge_in_count == 0
    assert stats.average_response_latency_ms == float(e2e)
    # the session.ended closed the session: out of the active set, its keys for a day
    assert not await bus.is_active(sid)
    raw = aioredis.Redis.from_url(redis_server.url)
    ttl = await raw.ttl(layout.session_stream(sid))
    await raw.aclose()
    assert layout.SESSION_IDLE_TTL_S < ttl <= layout.SESSION_ENDED_TTL_S
    assert sum(isinstance(m, SessionEnded) for m in await bus.session_log(sid)) == 1


async def test_the_end_of_a_call_gives_its_silero_model_back(bus: Bus) -> None:
    """The call's VAD model serves the next call as soon as the call ends (not whenever the
    garbage collector frees the session): one model per call at once, never one per call
    (issue 14: a model loaded per call grew sip-edge's memory without bound)."""
    pool = SileroPool()
    for n in range(3):
        call = ScriptedCall.start(bus, call_ref=n + 1)
        classifier = GatedClassifier(8000, pool=pool)
        call.session.classifier = classifier  # still referenced here after the call ends
        call.step(10)
        assert pool.free(8000) == 0
        call.session.on_ended("caller hung up")
        assert pool.free(8000) == 1
        assert classifier.probability(bytes(320)) == 0.0
        await logged(bus, call.sid, has(SessionEnded))
    assert pool.loaded == 1
