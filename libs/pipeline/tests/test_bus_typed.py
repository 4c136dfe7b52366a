"""The bus's typed methods on a real Redis: what the services once did with the raw client
or with command tuples (active sessions, history, post-call record, speculative turns,
turn order, work done), each write that went with a publication or an acknowledgement
still in the same MULTI/EXEC (seen with MONITOR)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from asp import (
    ASPError,
    AudioConfig,
    Capabilities,
    ProtocolCapabilities,
    ResponseAudio,
    SessionEnded,
    SessionStart,
    SessionStarted,
    SessionStatus,
    Stage,
    Statistics,
    UtteranceConfirm,
)
from asp import provisional as states
from asp import streams as layout
from asp.testing import utterance as sample_utterance
from pipeline import Bus
from pipeline.bus import TurnAdvance
from pipeline.health import Health
from pipeline.redis_client import awaitable


async def transaction_of(bus: Bus, op: Callable[[], Coroutine[Any, Any, object]]) -> list[str]:
    """The commands (upper-cased name, then the first argument) ``op`` ran between MULTI
    and EXEC, as MONITOR saw them; AssertionError when it ran no transaction."""
    seen: list[str] = []
    async with bus.redis.monitor() as monitor:
        task = asyncio.create_task(op())
        async with asyncio.timeout(5):
            async for event in monitor.listen():
                words = str(event["command"]).split()
                seen.append(" ".join([words[0].upper(), *words[1:2]]))
                if words[0].upper() == "EXEC":
                    break
        await task
    assert "MULTI" in seen, seen
    return seen[seen.index("MULTI") + 1 : -1]


def start(sid: str) -> SessionStart:
    return SessionStart(session_id=sid)


async def test_a_session_is_activated_with_its_start_in_one_transaction(bus: Bus) -> None:
    sid, other = str(uuid.uuid4()), str(uuid.uuid4())
    before = time.time()
    inside = await transaction_of(bus, lambda: bus.publish(start(sid), activate_session=True))
    assert inside[0] == f"XADD {layout.session_stream(sid)}"
    assert f"ZADD {layout.ACTIVE_SESSIONS}" in inside
    await bus.publish(start(other))  # not asked: not activated
    assert await bus.is_active(sid)
    assert not await bus.is_active(other)
    ((active, since),) = await bus.active_sessions()
    assert active == sid
    assert before <= since <= time.time()
    await bus.activate_session(other)
    assert {s for s, _ in await bus.active_sessions()} == {sid, other}
    await bus.deactivate_session(sid)
    await bus.deactivate_session(sid)  # twice is harmless
    assert not await bus.is_active(sid)
    assert [s for s, _ in await bus.active_sessions()] == [other]


async def test_a_start_opens_the_session_in_its_own_transaction(bus: Bus) -> None:
    """The state the stages read exists as soon as the session.start does (so before any
    utterance), with the session.started answer: one writer, no ordering through Redis."""
    sid = str(uuid.uuid4())
    request = SessionStart(
        session_id=sid, audio=AudioConfig(sample_rate=16000), metadata={"language": "pt-BR"}
    )
    inside = await transaction_of(bus, lambda: bus.publish(request, activate_session=True))
    assert inside == [
        f"XADD {layout.session_stream(sid)}",
        f"EXPIRE {layout.session_stream(sid)}",
        f"XADD {layout.session_stream(sid)}",
        f"HSET {layout.session_state_key(sid)}",
        f"EXPIRE {layout.session_state_key(sid)}",
        f"XADD {layout.work_stream(Stage.LLM)}",
        f"ZADD {layout.ACTIVE_SESSIONS}",
    ]
    assert await bus.state(sid) == {
        "sample_rate": "16000",
        "encoding": "pcm_s16le",
        "language": "pt-BR",
    }
    log = await bus.session_log(sid)
    assert [m.TYPE for m in log] == ["session.start", "session.started"]
    started = log[1]
    assert isinstance(started, SessionStarted)
    assert started.status == SessionStatus.ACCEPTED
    assert started.negotiated is not None
    assert started.negotiated.audio.sample_rate == 16000
    assert await bus.is_active(sid)


async def test_a_rejected_start_has_no_state_reaches_no_stage_and_is_not_active(
    bus: Bus,
) -> None:
    sid = str(uuid.uuid4())
    request = SessionStart(session_id=sid, audio=AudioConfig(sample_rate=11025))
    await bus.publish(request, activate_session=True)
    log = await bus.session_log(sid)
    assert [m.TYPE for m in log] == ["session.start", "session.started"]
    assert isinstance(log[1], SessionStarted)
    assert log[1].status == SessionStatus.REJECTED
    assert await bus.state(sid) == {}
    assert not await bus.is_active(sid)
    assert await bus.redis.xlen(layout.work_stream(Stage.LLM)) == 0


async def test_session_ended_closes_the_session(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(SessionStart(session_id=sid), activate_session=True)
    await bus.save_history(sid, "[]")
    ended = SessionEnded(
        session_id=sid,
        duration_seconds=3.5,
        statistics=Statistics(audio_frames_received=175, audio_frames_sent=90),
    )
    await bus.publish(ended)
    assert not await bus.is_active(sid)
    assert (await bus.session_log(sid))[-1] == ended
    for key in (layout.session_stream(sid), layout.session_state_key(sid), layout.history_key(sid)):
        assert layout.SESSION_IDLE_TTL_S < await bus.redis.ttl(key) <= layout.SESSION_ENDED_TTL_S


async def test_a_message_without_a_session_cannot_activate_nor_prioritize(bus: Bus) -> None:
    caps = ProtocolCapabilities(
        version="1.2",
        capabilities=Capabilities(
            version="1.2",
            supported_sample_rates=(8000,),
            supported_encodings=("pcm_s16le",),
            vad_configurable=False,
        ),
    )
    with pytest.raises(ValueError, match="no session"):
        await bus.publish(caps, activate_session=True)
    with pytest.raises(ValueError, match="no session"):
        await bus.publish(caps, tts_priority_ms=100)
    assert await bus.redis.dbsize() == 0  # nothing written


async def test_the_priority_flag_goes_up_in_the_publications_transaction(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    inside = await transaction_of(bus, lambda: bus.publish(start(sid), tts_priority_ms=1000))
    assert f"PSETEX {layout.tts_priority_key(sid)}" in inside
    assert await bus.has_tts_priority(sid)


async def test_a_sentence_advances_its_turn_with_its_last_chunks(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    chunks = [
        ResponseAudio(session_id=sid, response_id="r-1", seq=i, audio=bytes(8), is_final=False)
        for i in range(3)
    ]
    await bus.publish_many(chunks[:1])  # without: the turn does not move
    assert await bus.turn_progress(sid, "r-1") == (0, 0)
    advance = TurnAdvance(sid, "r-1", next_sentence=1, next_chunk=3, ttl_s=60)
    inside = await transaction_of(bus, lambda: bus.publish_many(chunks[1:], advance_turn=advance))
    assert inside.count(f"HSET {layout.turn_key(sid, 'r-1')}") == 2
    assert inside[-1] == f"EXPIRE {layout.turn_key(sid, 'r-1')}"
    assert await bus.turn_progress(sid, "r-1") == (1, 3)
    assert 0 < await bus.redis.ttl(layout.turn_key(sid, "r-1")) <= 60
    log = await bus.session_log(sid)
    assert [m.seq for m in log if isinstance(m, ResponseAudio)] == [0, 1, 2]
    assert len(log) == 3


async def test_ack_done_records_the_work_and_frees_its_lock_with_the_ack(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.ensure_group(Stage.STT)
    await bus.publish(sample_utterance(sid, "u1", bytes(320), ms=20))
    ((entry_id, _),) = await bus.read_work(Stage.STT, "c1", count=10, block_ms=100)
    assert await bus.lock_work(Stage.STT, sid, "w1", 60_000)
    assert not await bus.is_done(Stage.STT, sid, "w1")
    inside = await transaction_of(bus, lambda: bus.ack_done(Stage.STT, entry_id, sid, "w1"))
    assert inside[:3] == [
        f"SADD {layout.processed_key(Stage.STT, sid)}",
        f"EXPIRE {layout.processed_key(Stage.STT, sid)}",
        f"DEL {layout.work_lock_key(Stage.STT, sid, 'w1')}",
    ]
    assert await bus.is_done(Stage.STT, sid, "w1")
    assert await bus.redis.ttl(layout.processed_key(Stage.STT, sid)) > 0
    assert await bus.lock_work(Stage.STT, sid, "w1", 60_000)  # the lock was released
    assert await bus.redis.xlen(layout.work_stream(Stage.STT)) == 0  # acked and deleted
    assert not await bus.is_done(Stage.STT, sid, "w2")


async def test_history_round_trips_and_expires_with_the_session(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    assert await bus.history(sid) is None
    document = json.dumps({"v": 1, "messages": [{"role": "user", "content": "Olá"}]})
    await bus.save_history(sid, document)
    assert await bus.history(sid) == document.encode()
    await bus.save_history(sid, "{}")  # replaced, not appended
    assert await bus.history(sid) == b"{}"
    assert 0 < await bus.redis.ttl(layout.history_key(sid)) <= layout.SESSION_IDLE_TTL_S
    with pytest.raises(ASPError):
        await bus.history("../x")


async def test_the_summary_is_stored_for_a_day(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    transcript = json.dumps([{"role": "caller", "text": "Oi"}])
    summary = "O cliente ligou às 10h e pediu a 2ª via."
    await bus.store_summary(sid, transcript, summary)
    stored = await awaitable(bus.redis.hgetall(layout.summary_key(sid)))
    assert stored == {b"transcript": transcript.encode(), b"summary": summary.encode()}
    ttl = await bus.redis.ttl(layout.summary_key(sid))
    assert layout.SESSION_ENDED_TTL_S - 5 < ttl <= layout.SESSION_ENDED_TTL_S


async def test_a_session_log_exists_while_the_session_does(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    assert not await bus.has_session_log(sid)
    await bus.publish(start(sid))
    assert await bus.has_session_log(sid)
    with pytest.raises(ASPError):
        await bus.has_session_log("not a session")


async def test_a_provisional_turn_through_the_bus(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    utterance = dataclasses.replace(
        sample_utterance(sid, "u1", bytes(320), ms=20), provisional=True
    )
    assert await bus.provisional_state(sid, "u1") is None
    inside = await transaction_of(bus, lambda: bus.publish(utterance))
    assert f"HSETNX {layout.provisional_key(sid)}" in inside
    assert await bus.provisional_state(sid, "u1") == states.PROVISIONAL
    assert not await bus.spend_on_provisional(Stage.LLM, sid, "u1", 0.5)
    reply = json.dumps({"v": 1, "messages": []})
    assert await bus.record_reply(sid, "u1", reply, [{"action": "hangup"}]) is None  # waits
    assert await bus.history(sid) is None
    await bus.publish(UtteranceConfirm(session_id=sid, utterance_id="u1"))
    assert await bus.provisional_state(sid, "u1") == states.CONFIRMED
    assert await bus.record_if_confirmed(sid, "u1") == [{"action": "hangup"}]
    assert await bus.record_if_confirmed(sid, "u1") is None  # once
    assert await bus.history(sid) == reply.encode()
    assert await bus.take_spent(Stage.LLM, sid, "u1") == pytest.approx(0.5)
    assert await bus.take_spent(Stage.LLM, sid, "u1") == 0.0  # taken once


async def test_the_readiness_probe_pings_through_the_bus(bus: Bus) -> None:
    assert await bus.ping()
    assert await Health(bus).ping()
    dead = Bus.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        assert not await Health(dead, ping_timeout_s=1).ping()
    finally:
        await dead.close()
