"""Speculative start (ASP 1.2) end to end, without SIP: the sip-edge's CallSession fed
caller frames by hand (a VAD that calls any non-zero frame speech, 20 ms a frame), on a real
Redis, with the real STT, LLM and TTS workers in-process on their packages' fake engines.

What is checked is what the caller would hear (the chunks the call hands to its playback),
the session log and the conversation history in Redis, by ids and events, not by timing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
from asp import (
    ASPError,
    ErrorCode,
    Message,
    ResponseAudio,
    ResponseCancel,
    Stage,
    TurnTiming,
    Utterance,
    UtteranceCancel,
    UtteranceConfirm,
    to_entry,
)
from asp import provisional as states
from asp import streams as layout
from llm_worker.persona import load_persona
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.worker import LLMWorker
from pipeline import Bus, StreamWorker, speculation
from pipeline import metrics as worker_metrics
from sip_edge.calls import CallSession, wait_sessions_closed
from sip_edge.metrics import Metrics
from sip_edge.settings import Settings
from sip_edge.sip import CallInfo
from sip_edge.testing import LoudIsSpeech, NoHandle
from stt_worker.testing import FakeSTT
from stt_worker.worker import STTWorker
from tts_worker.router import TTSRouter
from tts_worker.testing import FakeTTS
from tts_worker.worker import TTSWorker

FB = 320  # one 20 ms frame of 8 kHz PCM16
VOICE = b"\x00\x10" * (FB // 2)
QUIET = bytes(FB)
FIRST_HALF = "Eu queria saber"
WHOLE = "Eu queria saber as formas de pagamento"
ANSWER = "Aceitamos boleto e cartão de crédito."


@dataclass
class Pipeline:
    bus: Bus
    stt: FakeSTT
    llm: FakeProvider
    workers: list[StreamWorker]


@pytest.fixture
async def pipeline(bus: Bus) -> AsyncIterator[Pipeline]:
    stt = FakeSTT([FIRST_HALF, WHOLE], default=WHOLE)
    llm = FakeProvider(default_text=ANSWER)
    workers: list[StreamWorker] = [
        STTWorker(bus, "stt-0", stt),
        LLMWorker(bus, "llm-0", llm, load_persona()),
        TTSWorker(bus, "tts-0", TTSRouter(FakeTTS())),
    ]
    tasks = [asyncio.create_task(w.run(grace_s=2)) for w in workers]
    await until(lambda: all(w.ready for w in workers))
    yield Pipeline(bus, stt, llm, workers)
    for w in workers:
        w.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), 15)


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


class Caller:
    """One call: the CallSession, and every chunk it handed to playback, in order."""

    def __init__(self, bus: Bus, pause_ms: int = 200) -> None:
        settings = Settings(speculative_pause_ms=pause_ms)
        info = CallInfo(1, "sip-call-id", "1001", "sip:1001@127.0.0.1")
        self.session = CallSession(info, NoHandle(), settings, Metrics(), bus, lambda _s: None)
        self.session.on_media(8000, "PCMU/8000")
        self.session.classifier = LoudIsSpeech()
        self.heard: list[str] = []  # response id of each chunk accepted for playback
        self.complete: set[str] = set()  # responses whose last chunk was accepted
        turns = self.session.turns
        assert turns is not None
        push = turns.push_audio

        def recorded(response_id: str, seq: int, audio: bytes, is_final: bool) -> bool:
            accepted = push(response_id, seq, audio, is_final)
            if accepted:
                self.heard.append(response_id)
                if is_final:
                    self.complete.add(response_id)
            return accepted

        turns.push_audio = recorded  # type: ignore[method-assign]
        self.bus = bus
        self.sid = self.session.session_id

    def say(self, frames: list[bytes]) -> None:
        for f in frames:
            self.session.on_frame(f)

    async def log(self) -> list[Message]:
        return await self.bus.session_log(self.sid)

    async def history(self) -> list[dict[str, str]]:
        raw = await self.bus.redis.get(layout.history_key(self.sid))
        return json.loads(raw)["messages"] if raw else []

    async def user_turns(self) -> list[str]:
        return [m["content"] for m in await self.history() if m["role"] == "user"]

    async def end(self) -> None:
        self.session.on_ended("test")
        assert await wait_sessions_closed(10)


async def greeted(caller: Caller) -> None:
    """The greeting arrived and was played out (so the caller's speech is no barge-in)."""
    await until(lambda: "greeting" in caller.complete)
    turns = caller.session.turns
    assert turns is not None
    while turns.playing:
        caller.session.next_playout_frame()
    for _ in range(20):  # and the line went quiet for longer than the echo guard's tail
        caller.session.next_playout_frame()


def held_final(caller: Caller, response_id: str) -> bool:
    held = caller.session.speculative._held
    return any(m.response_id == response_id and m.is_final for m in held)


M = TypeVar("M", bound=Message)


def of_type(log: list[Message], kind: type[M]) -> list[M]:
    return [m for m in log if isinstance(m, kind)]


async def test_a_pause_mid_sentence_gets_one_answer_to_the_whole_sentence(
    pipeline: Pipeline,
) -> None:
    caller = Caller(pipeline.bus)
    await greeted(caller)
    # "Eu queria saber" ... 300 ms ... : provisional at 200 ms; the pipeline answers it
    caller.say([VOICE] * 30 + [QUIET] * 15)
    await until(lambda: held_final(caller, "r-u1"))  # its whole answer is ready, held
    assert "r-u1" not in caller.heard
    # "... as formas de pagamento", then silence: the turn ends
    caller.say([VOICE] * 40 + [QUIET] * 25)
    await until(lambda: "r-u2" in caller.heard)

    async def answered() -> bool:
        log = await caller.log()
        return any(
            isinstance(m, ResponseAudio) and m.response_id == "r-u2" and m.is_final for m in log
        )

    await until(answered)
    log = await caller.log()
    assert "r-u1" not in caller.heard  # nothing of the provisional turn was played
    assert set(caller.heard) == {"greeting", "r-u2"}
    utterances = of_type(log, Utterance)
    assert [(u.utterance_id, u.provisional) for u in utterances] == [("u1", True), ("u2", True)]
    first, whole = utterances
    assert whole.audio.startswith(first.audio[: (15 + 30 + 10) * FB])  # from the turn's start
    assert whole.duration_ms > first.duration_ms + 700
    cancels = of_type(log, UtteranceCancel)
    assert [(c.utterance_id, c.reason) for c in cancels] == [("u1", "caller_resumed")]
    cut = [m for m in of_type(log, ResponseCancel) if m.response_id == "r-u1"]
    assert cut
    assert all(m.reason == states.CANCEL_REASON for m in cut)
    assert [c.utterance_id for c in of_type(log, UtteranceConfirm)] == ["u2"]
    # The LLM answered the whole sentence; the history has one user turn, recorded once.
    assert pipeline.llm.requests[-1].messages[-1].content == WHOLE
    await until(lambda: _has_user_turn(caller))
    assert await caller.user_turns() == [WHOLE]
    history = await caller.history()
    assert [m["role"] for m in history] == ["user", "assistant"]  # starts on a user turn
    assert history[-1]["content"] == ANSWER

    # Wasted work: the STT and the LLM each report what they spent on u1.
    async def wasted_reported() -> bool:
        timings = of_type(await caller.log(), TurnTiming)
        stages = {t.stage for t in timings if t.wasted_ms is not None}
        return stages == {"stt", "llm"}

    await until(wasted_reported)
    wasted = [t for t in of_type(await caller.log(), TurnTiming) if t.wasted_ms is not None]
    assert {t.utterance_id for t in wasted} == {"u1"}
    edge = [
        t for t in of_type(log, TurnTiming) if t.stage == "edge" and t.end_of_turn_ms is not None
    ]
    assert [(t.utterance_id, t.provisional_cancelled) for t in edge] == [("u2", 1)]
    m = caller.session.metrics.provisional_turns
    assert m.labels("published")._value.get() == 2
    assert m.labels("cancelled")._value.get() == 1
    assert m.labels("confirmed")._value.get() == 1
    await caller.end()


async def _has_user_turn(caller: Caller) -> bool:
    return bool(await caller.user_turns())


async def test_a_caller_who_stops_hears_the_answer_of_the_confirmed_provisional_turn(
    pipeline: Pipeline,
) -> None:
    caller = Caller(pipeline.bus)
    await greeted(caller)
    caller.say([VOICE] * 30 + [QUIET] * 10)  # the pause: provisional u1
    await until(lambda: held_final(caller, "r-u1"))
    assert "r-u1" not in caller.heard
    assert await caller.user_turns() == []  # nothing recorded before the confirmation
    state = await speculation.state(pipeline.bus.redis, caller.sid, "u1")
    assert state == states.PROVISIONAL
    caller.say([QUIET] * 15)  # 500 ms of silence: the turn ends, u1 is confirmed
    assert "r-u1" in caller.heard  # the held answer went to playback at once
    await until(lambda: _has_user_turn(caller))
    assert await caller.user_turns() == [FIRST_HALF]
    log = await caller.log()
    assert [u.utterance_id for u in of_type(log, Utterance)] == ["u1"]
    assert [c.utterance_id for c in of_type(log, UtteranceConfirm)] == ["u1"]
    assert of_type(log, UtteranceCancel) == []
    assert not [m for m in of_type(log, ResponseCancel)]
    state = await speculation.state(pipeline.bus.redis, caller.sid, "u1")
    assert state == states.RECORDED
    await caller.end()


def provisional(sid: str, utterance_id: str) -> Utterance:
    return Utterance(
        session_id=sid,
        utterance_id=utterance_id,
        sample_rate=8000,
        encoding="pcm_s16le",
        duration_ms=1000,
        audio=VOICE * 50,
        provisional=True,
    )


async def staged(bus: Bus, sid: str, utterance_id: str) -> bool:
    key = layout.provisional_key(sid)
    return bool(await bus.redis.hexists(key, f"{utterance_id}:history"))  # type: ignore[misc]


async def test_stale_and_malformed_confirms_and_cancels_are_rejected_and_lose_nothing(
    pipeline: Pipeline,
) -> None:
    bus = pipeline.bus
    caller = Caller(bus, pause_ms=0)  # the session (greeting, history); turns by hand
    sid = caller.sid
    await greeted(caller)
    entries = len(await caller.log())

    # A confirm of an utterance that was never provisional: refused, nothing written.
    with pytest.raises(ASPError) as err:
        await bus.publish(UtteranceConfirm(session_id=sid, utterance_id="u9"))
    assert err.value.code is ErrorCode.INVALID_MESSAGE_TYPE
    assert "'u9' is not a provisional utterance" in err.value.error.message
    assert len(await caller.log()) == entries

    # A malformed confirm in the LLM's work stream: dead-lettered with the reason.
    bad = to_entry(UtteranceConfirm(session_id=sid, utterance_id="u1"))
    bad["data"] = b"\x81\xa3foo\x01"  # msgpack {"foo": 1}: no session_id, no utterance_id
    await bus.redis.xadd(layout.work_stream(Stage.LLM), bad)  # type: ignore[arg-type]

    async def dead() -> bool:
        entries = await bus.redis.xrange(layout.dead_letter_stream(Stage.LLM))
        return any(b"malformed" in v for _, f in entries for v in f.values())

    await until(dead)

    # A provisional turn whose reply is ready; a confirm that never went through the bus
    # (the state was not moved) reaches the LLM: rejected, nothing recorded.
    await bus.publish(provisional(sid, "u1"))
    await until(lambda: staged(bus, sid, "u1"))
    rejected = worker_metrics.SPECULATIVE_REJECTED.labels("llm", "utterance.confirm")
    before = rejected._value.get()
    unresolved = to_entry(UtteranceConfirm(session_id=sid, utterance_id="u1"))
    await bus.redis.xadd(layout.work_stream(Stage.LLM), unresolved)  # type: ignore[arg-type]
    await until(lambda: rejected._value.get() == before + 1)
    assert await caller.user_turns() == []
    assert await speculation.state(bus.redis, sid, "u1") == states.PROVISIONAL

    # The real confirm records it once; a second confirm and a late cancel are refused.
    await bus.publish(UtteranceConfirm(session_id=sid, utterance_id="u1"))
    await until(lambda: _has_user_turn(caller))
    for late in (
        UtteranceConfirm(session_id=sid, utterance_id="u1"),
        UtteranceCancel(session_id=sid, utterance_id="u1", reason="caller_resumed"),
    ):
        with pytest.raises(ASPError, match=r"'u1' is already (confirmed|recorded)"):
            await bus.publish(late)
    assert await caller.user_turns() == [FIRST_HALF]

    # Cancelled, then confirmed (stale): refused; the cancelled turn is never recorded.
    await bus.publish(provisional(sid, "u2"))
    await until(lambda: staged(bus, sid, "u2"))
    await bus.publish(UtteranceCancel(session_id=sid, utterance_id="u2", reason="caller_resumed"))
    with pytest.raises(ASPError, match="'u2' is already cancelled"):
        await bus.publish(UtteranceConfirm(session_id=sid, utterance_id="u2"))
    await asyncio.sleep(0.3)  # a confirm that slipped through would be recorded by now
    assert await caller.user_turns() == [FIRST_HALF]
    assert await speculation.state(bus.redis, sid, "u2") == states.CANCELLED
    await caller.end()
