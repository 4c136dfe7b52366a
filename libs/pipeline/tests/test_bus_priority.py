"""The bus's CPU-priority flag and live-turn marks on a real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asp import ASPError, ResponseText
from asp import streams as layout
from pipeline import Bus


async def test_the_tts_priority_flag_is_set_renewed_cleared_and_expires(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    other = str(uuid.uuid4())
    assert not await bus.has_tts_priority(sid)
    await bus.set_tts_priority(sid, 5000)
    assert await bus.has_tts_priority(sid)
    assert not await bus.has_tts_priority(other)  # per session
    assert 0 < await bus.redis.pttl(layout.tts_priority_key(sid)) <= 5000
    await bus.clear_tts_priority(sid)
    assert not await bus.has_tts_priority(sid)
    await bus.clear_tts_priority(sid)  # clearing twice is harmless
    await bus.set_tts_priority(sid, 150)
    await asyncio.sleep(0.3)
    assert not await bus.has_tts_priority(sid)  # a dead TTS replica holds nobody


async def test_the_flag_is_raised_with_the_publication_of_the_first_clause(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    text = ResponseText(session_id=sid, response_id="r-1", seq=0, text="Olá", is_final=False)
    await bus.publish(text, tts_priority_ms=1500)
    assert await bus.has_tts_priority(sid)
    assert 0 < await bus.redis.pttl(layout.tts_priority_key(sid)) <= 1500
    assert len(await bus.session_log(sid)) == 1


async def test_live_turns_are_counted_across_sessions_and_lapse(bus: Bus) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert await bus.live_turns() == 0
    await bus.begin_turn(a, "r-1", ttl_s=60)
    await bus.begin_turn(b, "r-1", ttl_s=60)
    await bus.begin_turn(b, "r-1", ttl_s=60)  # the same reply again: still one
    assert await bus.live_turns() == 2
    await bus.end_turn(a, "r-1")
    assert await bus.live_turns() == 1
    await bus.end_turn(a, "r-1")  # ending twice is harmless
    await bus.begin_turn(a, "r-2", ttl_s=0.2)  # its replica dies: the mark lapses
    await asyncio.sleep(0.3)
    assert await bus.live_turns() == 1
    await bus.end_turn(b, "r-1")
    assert await bus.live_turns() == 0


async def test_malformed_session_ids_are_refused(bus: Bus) -> None:
    with pytest.raises(ASPError):
        await bus.set_tts_priority("not-a-uuid", 100)
    with pytest.raises(ASPError):
        await bus.begin_turn("../../x", "r-1", ttl_s=1)
