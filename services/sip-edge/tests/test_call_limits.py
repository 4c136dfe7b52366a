"""One CallSession on a real Redis, a scripted VAD and the media clock driven by the test
(no SIP): the no-answer apology and what it publishes, a response the pipeline closes,
and the maximum call length (goodbye, then hang-up)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from asp.messages import (
    Message,
    ResponseCancel,
    ResponseEnd,
    SessionStart,
    Transcript,
)
from pipeline.bus import Bus
from pipeline.testing import RedisServer
from sip_edge.testing import ScriptedCall

APOLOGY = b"\x11\x11" * 4000  # 0.5 s
GOODBYE = b"\x66\x66" * 4000


class Call(ScriptedCall):
    async def log(self) -> list[Message]:
        return await self.bus.session_log(self.sid)

    async def until_logged(self, check, what: str) -> list[Message]:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(10):
            while True:
                log = await self.log()
                if check(log):
                    return log
                await asyncio.sleep(0.01)
        raise AssertionError(what)  # pragma: no cover

    async def until_queued(self) -> None:
        async with asyncio.timeout(10):
            while not (self.session.turns and self.session.turns.pacer.playing):
                await asyncio.sleep(0.01)


@pytest.fixture
async def make_call(redis_server: RedisServer) -> AsyncIterator:  # type: ignore[type-arg]
    made: list[Call] = []
    bus = Bus(aioredis.Redis.from_url(redis_server.url))

    async def make(**settings: Any) -> Call:
        call = Call.start(bus, apologies={8000: APOLOGY}, goodbyes={8000: GOODBYE}, **settings)
        made.append(call)
        await call.until_logged(lambda log: any(isinstance(m, SessionStart) for m in log), "start")
        return call

    yield make
    for call in made:
        call.session.on_ended("test over")
    await asyncio.sleep(0.1)
    await bus.close()


def speak(call: Call) -> None:
    call.vad.speaking = True
    call.step(30)
    call.vad.speaking = False
    call.step(26)  # 500 ms of silence ends the turn


async def test_no_answer_plays_the_edge_apology_and_cancels_the_stuck_response(make_call) -> None:  # type: ignore[no-untyped-def]
    call = await make_call(no_answer_s=2.0)
    speak(call)
    await call.send_audio("r-u1", 0x22, 10, is_final=False)
    await call.until_queued()
    heard = call.step(10)  # the first sentence, then the replica died
    assert heard == [0x22] * 10
    assert set(call.step(99)) == {0}  # 1.98 s of silence: within the bound
    heard = call.step(3)  # the bound is reached: the edge's own apology starts
    assert 0x11 in heard
    assert call.metrics.no_answers._value.get() == 1
    log = await call.until_logged(
        lambda log: any(isinstance(m, ResponseCancel) for m in log), "the cancel"
    )
    (cancel,) = [m for m in log if isinstance(m, ResponseCancel)]
    assert (cancel.response_id, cancel.reason) == ("r-u1", "no_audio")
    # The apology plays to its end; late chunks of the cut response are dropped.
    await call.send_audio("r-u1", 0x22, 1, seq=1)
    await asyncio.sleep(0.3)
    heard = call.step(40)
    assert 0x22 not in heard
    assert 0x11 in heard
    assert set(call.step(300)) == {0}  # once: no apology loop


async def test_an_empty_transcript_of_the_turn_means_no_apology(make_call) -> None:  # type: ignore[no-untyped-def]
    """The STT heard nothing in the turn (a cough, line noise): the LLM will not answer,
    and the edge does not apologise for it; a later turn is owed again."""
    call = await make_call(no_answer_s=1.0)
    speak(call)
    await call.bus.publish(
        Transcript(session_id=call.sid, utterance_id="u1", text=" ", language="pt",
                   confidence=0.0)
    )  # fmt: skip
    async with asyncio.timeout(5):
        while call.session.turns is not None and call.session.turns.owed:
            call.step(1)
            await asyncio.sleep(0.01)
    assert set(call.step(150)) == {0}
    assert call.metrics.no_answers._value.get() == 0
    speak(call)  # the next turn (u2): a transcript of u1 does not excuse it
    await call.bus.publish(
        Transcript(session_id=call.sid, utterance_id="u1", text="", language="pt",
                   confidence=0.0)
    )  # fmt: skip
    await asyncio.sleep(0.3)
    assert 0x11 in call.step(60)
    assert call.metrics.no_answers._value.get() == 1


async def test_a_closed_response_plays_what_arrived_then_the_next(make_call) -> None:  # type: ignore[no-untyped-def]
    """The LLM replica died after the first sentence; the retried turn (r-u1-2) closes
    r-u1 (``superseded``) and plays next, not waiting for r-u1's last chunk."""
    call = await make_call()
    speak(call)
    await call.send_audio("r-u1", 0x22, 5, is_final=False)
    await call.until_queued()
    call.step(2)
    await call.bus.publish(
        ResponseCancel(session_id=call.sid, response_id="r-u1", reason="superseded")
    )
    await call.send_audio("r-u1-2", 0x33, 4)
    await asyncio.sleep(0.3)  # the bridge reads both
    assert call.step(10) == [0x22] * 3 + [0x33] * 4 + [0] * 3


async def test_response_end_interrupted_closes_the_response(make_call) -> None:  # type: ignore[no-untyped-def]
    call = await make_call()
    speak(call)
    await call.send_audio("r-u1", 0x22, 2, is_final=False)
    await call.bus.publish(
        ResponseEnd(session_id=call.sid, response_id="r-u1", interrupted=True), stages=()
    )
    await call.send_audio("apology-1", 0x44, 2)
    await asyncio.sleep(0.3)
    assert call.step(5) == [0x22, 0x22, 0x44, 0x44, 0]


async def test_the_maximum_call_length_says_goodbye_then_hangs_up(make_call) -> None:  # type: ignore[no-untyped-def]
    call = await make_call(max_call_s=0.5)
    await call.send_audio("r-u1", 0x22, 500, is_final=False)
    await call.until_queued()
    call.step(5)
    await asyncio.sleep(0.6)  # the limit passes while the agent speaks
    heard = call.step(25)  # the agent is cut, the goodbye plays (0.5 s)
    assert heard[0] == 0x66
    assert 0x22 not in heard
    assert call.handle.asked == []  # not before the goodbye was heard
    call.vad.speaking = True  # the caller talks over it: no new turn, no barge-in
    call.step(30)
    call.vad.speaking = False
    async with asyncio.timeout(5):
        while call.handle.asked != ["hangup"]:
            call.step(1)
            await asyncio.sleep(0.02)
    assert call.metrics.max_call_hangups._value.get() == 1
    log = await call.log()
    assert ("r-u1", "max_call_duration") in [
        (m.response_id, m.reason) for m in log if isinstance(m, ResponseCancel)
    ]
    assert call.metrics.barge_ins._value.get() == 0
