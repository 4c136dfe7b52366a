"""Where a turn's time went, as the edge measures it: one CallSession on a real Redis, with
a scripted VAD and the media clock driven by the test (no SIP, no sleeps for the clock).

The caller speaks 30 voiced frames, then 25 silent ones close the turn (500 ms). The edge
must write ``turn.timing`` with ``end_of_turn_ms`` (last voiced frame -> utterance in Redis,
the closing silence included) and, once the answer's first frame is played,
``edge_e2e_ms`` (last voiced frame -> that frame), and count both in its histograms.
"""

from __future__ import annotations

import asyncio
import functools

import redis.asyncio as aioredis
from asp import streams as layout
from asp.messages import Message, ResponseAudio, SessionStart, TurnTiming, Utterance
from pipeline.bus import Bus
from pipeline.testing import RedisServer
from pipeline.testing import until as poll_until
from sip_edge.calls import CallSession, wait_sessions_closed
from sip_edge.testing import SCRIPTED_FRAME as FRAME
from sip_edge.testing import ScriptedCall

until = functools.partial(poll_until, interval=0.01)


async def queued(session: CallSession, ms: int = 1) -> bool:
    """At least ``ms`` of agent audio waits in the call's playback buffer."""
    return session.turns is not None and session.turns.pacer.buffered_ms >= ms


def timings(log: list[Message]) -> list[TurnTiming]:
    return [m for m in log if isinstance(m, TurnTiming)]


async def test_end_of_turn_and_edge_e2e_land_on_the_session_log(
    redis_server: RedisServer, raw_redis: aioredis.Redis
) -> None:
    bus = Bus(aioredis.Redis.from_url(redis_server.url))
    call = ScriptedCall.start(bus, remote_uri="sip:1001@x")
    session, metrics, sid = call.session, call.metrics, call.sid
    try:

        async def logged(kind: type[Message]) -> bool:
            return any(isinstance(m, kind) for m in await bus.session_log(sid))

        async def turn_timings(n: int) -> bool:
            return len(timings(await bus.session_log(sid))) >= n

        await until(lambda: logged(SessionStart), "session.start")  # the edge reads from it on
        # The greeting plays first: its first frame is no turn's answer.
        await bus.publish(
            ResponseAudio(
                session_id=sid,
                response_id="greeting",
                seq=0,
                audio=b"\x11" * FRAME * 3,
                is_final=True,
            )
        )
        await until(lambda: queued(session), "the greeting queued")
        for _ in range(4):
            session.next_playout_frame()
        await asyncio.sleep(0.05)

        call.caller_says(30, 25)
        await until(lambda: turn_timings(1), "the end-of-turn timing")
        assert await logged(Utterance)

        await bus.publish(
            ResponseAudio(
                session_id=sid, response_id="r-u1", seq=0, audio=b"\x22" * FRAME * 5, is_final=True
            )
        )
        await until(lambda: queued(session), "the answer queued")
        session.next_playout_frame()  # the answer's first frame goes to the phone
        await until(lambda: turn_timings(2), "the edge e2e timing")
        for _ in range(5):
            session.next_playout_frame()
        await asyncio.sleep(0.05)

        log = await bus.session_log(sid)
        eot, e2e = timings(log)
        assert (eot.stage, eot.utterance_id, eot.response_id) == ("edge", "u1", None)
        assert eot.end_of_turn_ms is not None
        assert eot.end_of_turn_ms >= 500  # the closing silence, at least
        assert (e2e.stage, e2e.utterance_id, e2e.response_id) == ("edge", "u1", "r-u1")
        assert e2e.edge_e2e_ms is not None
        assert e2e.edge_e2e_ms >= eot.end_of_turn_ms
        assert log.index(eot) > next(i for i, m in enumerate(log) if isinstance(m, Utterance))
        assert metrics.end_of_turn._sum.get() >= 0.5
        assert metrics.speech_end_to_first_frame._sum.get() >= 0.5
        assert b"sip_edge_end_of_turn_seconds_count 1.0" in metrics.render()
        assert b"sip_edge_speech_end_to_first_frame_seconds_count 1.0" in metrics.render()

        # redis-cli XRANGE shows the steps as plain fields.
        raw = await raw_redis.xrange(layout.session_stream(sid))
        fields = [f for _, f in raw if f[b"type"] == b"turn.timing"]
        assert fields[0][b"end_of_turn_ms"] == str(eot.end_of_turn_ms).encode()
        assert fields[1][b"edge_e2e_ms"] == str(e2e.edge_e2e_ms).encode()
        assert fields[1][b"stage"] == b"edge"
    finally:
        session.on_ended("test over")
        assert await wait_sessions_closed(10)
        await bus.close()


async def test_the_greeting_is_never_a_turns_answer(redis_server: RedisServer) -> None:
    """The call's first response is the greeting, even when the caller spoke before it
    played; the response after it is the answer. A response with no turn waiting (a second
    one to the same turn) is not timed."""
    bus = Bus(aioredis.Redis.from_url(redis_server.url))
    call = ScriptedCall.start(bus, call_ref=2, remote_uri="sip:1001@x")
    session, metrics, sid = call.session, call.metrics, call.sid
    try:

        async def logged(n: int) -> bool:
            return len(timings(await bus.session_log(sid))) >= n

        async def started() -> bool:
            return any(isinstance(m, SessionStart) for m in await bus.session_log(sid))

        await until(started, "session.start")
        call.caller_says(30, 25)
        await until(lambda: logged(1), "the end-of-turn timing")

        for rid in ("greeting", "r-u1", "r-extra"):
            await bus.publish(
                ResponseAudio(
                    session_id=sid, response_id=rid, seq=0, audio=b"\x11" * FRAME, is_final=True
                )
            )
        await until(lambda: queued(session, 60), "the three responses queued")
        for _ in range(4):
            session.next_playout_frame()
        await until(lambda: logged(2), "the answer's timing")
        await asyncio.sleep(0.1)
        eot, e2e = timings(await bus.session_log(sid))
        assert eot.end_of_turn_ms is not None
        assert (e2e.utterance_id, e2e.response_id) == ("u1", "r-u1")
        assert b"sip_edge_speech_end_to_first_frame_seconds_count 1.0" in metrics.render()
    finally:
        session.on_ended("test over")
        assert await wait_sessions_closed(10)
        await bus.close()
