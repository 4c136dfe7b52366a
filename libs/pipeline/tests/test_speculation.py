"""pipeline.speculation on a real Redis: a provisional utterance's state moves once, its
reply is recorded exactly once whichever of the reply and the confirmation comes last, and
the work spent on it is counted as wasted exactly once whichever of the work and the cancel
comes last."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from asp import ASPError, Stage, Utterance, UtteranceCancel, UtteranceConfirm
from asp import provisional as states
from asp import streams as layout
from asp.testing import utterance as sample_utterance
from pipeline import Bus, speculation


def provisional(sid: str, utterance_id: str = "u1") -> Utterance:
    return dataclasses.replace(
        sample_utterance(sid, utterance_id, bytes(320), ms=20), provisional=True
    )


def history(text: str) -> str:
    return json.dumps({"v": 1, "messages": [{"role": "user", "content": text}]})


async def recorded(bus: Bus, sid: str) -> str | None:
    raw = await bus.redis.get(layout.history_key(sid))
    return raw.decode() if raw else None


async def test_publishing_a_provisional_utterance_marks_it_and_a_final_one_does_not(
    bus: Bus,
) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(provisional(sid))
    assert await speculation.state(bus.redis, sid, "u1") == states.PROVISIONAL
    final = sample_utterance(sid, "u2", bytes(320), ms=20)
    await bus.publish(final)
    assert await speculation.state(bus.redis, sid, "u2") is None


async def test_confirm_moves_the_state_and_publishes_once(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(provisional(sid))
    await bus.publish(UtteranceConfirm(session_id=sid, utterance_id="u1"))
    assert await speculation.state(bus.redis, sid, "u1") == states.CONFIRMED
    types = [m.TYPE for m in await bus.session_log(sid)]
    assert types == ["utterance", "utterance.confirm"]
    work = await bus.redis.xrange(layout.work_stream(Stage.LLM))
    assert [f[b"type"] for _, f in work].count(b"utterance.confirm") == 1
    with pytest.raises(ASPError, match="already confirmed"):
        await bus.publish(UtteranceCancel(session_id=sid, utterance_id="u1", reason="x"))
    assert [m.TYPE for m in await bus.session_log(sid)] == types  # nothing written
    assert await speculation.state(bus.redis, sid, "u1") == states.CONFIRMED


async def test_a_cancel_reaches_the_stt_and_the_llm(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(provisional(sid))
    await bus.publish(UtteranceCancel(session_id=sid, utterance_id="u1", reason="caller_resumed"))
    for stage in (Stage.STT, Stage.LLM):
        work = await bus.redis.xrange(layout.work_stream(stage))
        assert b"utterance.cancel" in [f[b"type"] for _, f in work]


async def test_the_reply_is_recorded_once_when_it_comes_before_the_confirmation(
    bus: Bus,
) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(provisional(sid))
    kept = await speculation.record_reply(bus.redis, sid, "u1", history("a"), [{"action": "x"}])
    assert kept is None  # not confirmed yet: kept
    assert await recorded(bus, sid) is None
    await bus.publish(UtteranceConfirm(session_id=sid, utterance_id="u1"))
    assert await speculation.record_if_confirmed(bus.redis, sid, "u1") == [{"action": "x"}]
    assert await recorded(bus, sid) == history("a")
    assert await speculation.record_if_confirmed(bus.redis, sid, "u1") is None  # once
    assert await speculation.state(bus.redis, sid, "u1") == states.RECORDED


async def test_the_reply_is_recorded_once_when_it_comes_after_the_confirmation(
    bus: Bus,
) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(provisional(sid))
    await bus.publish(UtteranceConfirm(session_id=sid, utterance_id="u1"))
    assert await speculation.record_if_confirmed(bus.redis, sid, "u1") is None  # no reply yet
    assert await speculation.record_reply(bus.redis, sid, "u1", history("b"), []) == []
    assert await recorded(bus, sid) == history("b")
    again = await speculation.record_reply(bus.redis, sid, "u1", history("c"), [])
    assert again is None  # a redelivered reply does not record twice
    assert await recorded(bus, sid) == history("b")


async def test_a_cancelled_reply_is_never_recorded(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(provisional(sid))
    await speculation.record_reply(bus.redis, sid, "u1", history("d"), [])
    await bus.publish(UtteranceCancel(session_id=sid, utterance_id="u1", reason="caller_resumed"))
    with pytest.raises(ASPError, match="already cancelled"):
        await bus.publish(UtteranceConfirm(session_id=sid, utterance_id="u1"))
    assert await speculation.record_if_confirmed(bus.redis, sid, "u1") is None
    assert await recorded(bus, sid) is None


async def test_work_before_the_cancel_is_taken_once(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(provisional(sid))
    assert not await speculation.spend(bus.redis, Stage.STT, sid, "u1", 0.25)
    assert not await speculation.spend(bus.redis, Stage.STT, sid, "u1", 0.5)
    await bus.publish(UtteranceCancel(session_id=sid, utterance_id="u1", reason="caller_resumed"))
    assert await speculation.take_spent(bus.redis, Stage.STT, sid, "u1") == pytest.approx(0.75)
    assert await speculation.take_spent(bus.redis, Stage.STT, sid, "u1") == 0.0
    assert await speculation.take_spent(bus.redis, Stage.LLM, sid, "u1") == 0.0


async def test_work_after_the_cancel_is_wasted_at_once_and_not_kept(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(provisional(sid))
    await bus.publish(UtteranceCancel(session_id=sid, utterance_id="u1", reason="caller_resumed"))
    assert await speculation.spend(bus.redis, Stage.LLM, sid, "u1", 1.5)
    assert await speculation.take_spent(bus.redis, Stage.LLM, sid, "u1") == 0.0
