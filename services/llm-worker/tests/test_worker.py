"""The LLM stage on a real Redis with the in-process fake provider: the persona's fixed
phrases are registered for the TTS phrase cache, each reply appends its turn.timing, and a
reply that only hangs up says the goodbye first."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from asp import (
    CallAction,
    Message,
    ResponseText,
    SessionEnd,
    SessionStart,
    SessionStarted,
    Transcript,
    TurnTiming,
)
from asp import streams as layout
from asp.messages import CallActionKind
from llm_worker.events import Done, TextDelta, ToolCall
from llm_worker.persona import load_persona
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.testing.session_log import greeted_session
from llm_worker.worker import LLMWorker
from pipeline import Bus
from pipeline.testing import running as running_worker
from prometheus_client import REGISTRY
from redis.asyncio import Redis

PERSONA = load_persona()


@pytest.fixture
async def running(bus: Bus) -> AsyncIterator[tuple[LLMWorker, FakeProvider]]:
    provider = FakeProvider(delay_s=0.02)
    worker = LLMWorker(bus, "llm-t", provider, PERSONA)
    async with running_worker(worker):
        yield worker, provider


async def log_until(bus: Bus, sid: str, kind: type[Message], n: int = 1) -> list[Message]:
    async with asyncio.timeout(20):
        while True:
            log = await bus.session_log(sid)
            if sum(isinstance(m, kind) for m in log) >= n:
                return log
            await asyncio.sleep(0.01)


def transcript(sid: str, text: str, utterance_id: str = "u1") -> Transcript:
    return Transcript(
        session_id=sid, utterance_id=utterance_id, text=text, language="pt", confidence=0.9
    )


async def test_the_llm_greets_a_session_it_neither_opens_nor_activates_nor_ends(
    bus: Bus, running: tuple[LLMWorker, FakeProvider], raw_redis: Redis
) -> None:
    """The session has one owner, the ingress that publishes its start and its end: the
    LLM answers no session.started of its own, never writes the active set, and leaves the
    end of the session (its keys' TTL, the active set) to the ingress's session.ended."""
    worker, _ = running
    ended: list[str] = []

    async def after_call(session_id: str) -> None:
        ended.append(session_id)

    worker.after_call = after_call
    sid = await greeted_session(bus, {"language": "pt-BR"})  # published without activation
    log = await bus.session_log(sid)
    assert sum(isinstance(m, SessionStarted) for m in log) == 1  # the bus's, with the start
    assert not await bus.is_active(sid)
    state = await bus.state(sid)
    assert state["language"] == "pt-BR"
    assert state["sample_rate"] == "8000"
    assert "date" in state  # the LLM's own field of the state: the call's date
    live = str(uuid.uuid4())
    await bus.publish(SessionStart(session_id=live), activate_session=True)
    await log_until(bus, live, ResponseText)  # greeted
    await bus.publish(SessionEnd(session_id=live, reason="call_hangup"))
    async with asyncio.timeout(20):
        while live not in ended:
            await asyncio.sleep(0.01)
    assert await bus.is_active(live)  # the post-call job is queued; the session is not ended
    assert await raw_redis.ttl(layout.session_stream(live)) <= layout.SESSION_IDLE_TTL_S


async def test_the_persona_phrases_are_registered_for_the_phrase_cache(
    bus: Bus, running: tuple[LLMWorker, FakeProvider], raw_redis: Redis
) -> None:
    fixed = {PERSONA.greeting, PERSONA.apology, PERSONA.goodbye}
    # the menu's phrases of the (packaged) facts too: transfer announcements, keypad menu
    fixed |= {
        "Transferindo para suporte, um momento.",
        "Tecle 1 para suporte, 2 para vendas ou 0 para atendimento.",
    }
    fixed |= set(running[0].fixed_phrases)
    assert len(fixed) == 8
    # with the pieces of the facts' fixed answers ("Não tenho essa informação." for the
    # hours the packaged facts lack, the keys outside the menu), after the fixed phrases
    every = running[0].cache_phrases()
    assert set(every[: len(fixed)]) == fixed
    assert "Não tenho essa informação." in every
    # Registered as soon as the worker is up, before any call, in that order ...
    assert [t for _, t in await bus.registered_phrases()] == list(every)
    assert {lang for lang, _ in await bus.registered_phrases()} == {"pt-BR"}
    # ... and again at each session start (the registry keeps the most recent ones).
    await raw_redis.delete("asp:cache:tts:phrases")
    await greeted_session(bus, {"language": "pt-BR"})
    assert [t for _, t in await bus.registered_phrases()] == list(every)


async def test_each_reply_appends_its_timing(
    bus: Bus, running: tuple[LLMWorker, FakeProvider]
) -> None:
    _, provider = running
    sid = await greeted_session(bus, {"language": "pt-BR"})
    before = (
        REGISTRY.get_sample_value("asp_turn_step_seconds_count", {"step": "llm_first_clause"})
        or 0.0
    )
    provider.push([TextDelta("Claro. "), TextDelta("Pode pagar no boleto."), Done("end_turn")])
    await bus.publish(transcript(sid, "Como eu pago a conta?", "u4"))
    log = await log_until(bus, sid, TurnTiming)
    (timing,) = [m for m in log if isinstance(m, TurnTiming)]
    assert (timing.stage, timing.utterance_id, timing.response_id) == ("llm", "u4", "r-u4")
    assert timing.llm_first_token_ms is not None
    assert timing.llm_first_clause_ms is not None
    assert 20 <= timing.llm_first_token_ms <= timing.llm_first_clause_ms  # 20 ms per event
    texts = [m.text for m in log if isinstance(m, ResponseText) and m.response_id == "r-u4"]
    assert texts == ["Claro.", "Pode pagar no boleto.", ""]
    after = REGISTRY.get_sample_value("asp_turn_step_seconds_count", {"step": "llm_first_clause"})
    assert after == before + 1


async def test_a_reply_that_only_hangs_up_says_the_goodbye_first(
    bus: Bus, running: tuple[LLMWorker, FakeProvider]
) -> None:
    _, provider = running
    sid = await greeted_session(bus, {"language": "pt-BR"})
    provider.push([ToolCall("hang_up", {}), Done("tool_use")])
    # (a plain goodbye is decided before the model: see test_facts_worker.py)
    await bus.publish(transcript(sid, "Obrigado pela ajuda."))
    log = await log_until(bus, sid, TurnTiming)
    said = [
        (i, m) for i, m in enumerate(log) if isinstance(m, ResponseText) and m.response_id == "r-u1"
    ]
    assert [m.text for _, m in said] == [PERSONA.goodbye, ""]
    (hangup_at,) = [i for i, m in enumerate(log) if isinstance(m, CallAction)]
    assert log[hangup_at].action is CallActionKind.HANGUP  # type: ignore[attr-defined]
    assert said[0][0] < hangup_at  # the goodbye is on its way before the hang-up


async def test_a_reply_that_speaks_before_hanging_up_is_left_alone(
    bus: Bus, running: tuple[LLMWorker, FakeProvider]
) -> None:
    _, provider = running
    sid = await greeted_session(bus, {"language": "pt-BR"})
    provider.push(
        [TextDelta("Tchau, tenha um bom dia!"), ToolCall("hang_up", {}), Done("tool_use")]
    )
    await bus.publish(transcript(sid, "Obrigado."))
    log = await log_until(bus, sid, TurnTiming)
    texts = [m.text for m in log if isinstance(m, ResponseText) and m.response_id == "r-u1"]
    assert texts == ["Tchau, tenha um bom dia!", ""]


async def test_a_retried_turn_closes_the_response_a_dead_replica_half_sent(
    bus: Bus, running: tuple[LLMWorker, FakeProvider]
) -> None:
    """The third delivery of a turn (two replicas died in the middle of its reply): the
    responses of the first two attempts are closed (``superseded``) before the new one
    starts, so the edge never waits for their last chunk; the history is left alone."""
    from asp import ResponseCancel, ResponseStart
    from pipeline import Job

    worker, provider = running
    sid = await greeted_session(bus, {"language": "pt-BR"})
    history_before = await bus.history(sid)
    jobs_before = worker.jobs_done
    provider.push([TextDelta("Claro, pode pagar no boleto."), Done("end_turn")])
    await worker.handle(Job("1-0", transcript(sid, "Como eu pago a conta?", "u3"), 3))
    log = await log_until(bus, sid, TurnTiming)
    cancels = [(i, m) for i, m in enumerate(log) if isinstance(m, ResponseCancel)]
    assert [(m.response_id, m.reason) for _, m in cancels] == [
        ("r-u3", "superseded"),
        ("r-u3-2", "superseded"),
    ]
    (start_at,) = [
        i for i, m in enumerate(log) if isinstance(m, ResponseStart) and m.response_id == "r-u3-3"
    ]
    assert all(i < start_at for i, _ in cancels)
    texts = [m.text for m in log if isinstance(m, ResponseText) and m.response_id == "r-u3-3"]
    assert texts == ["Claro, pode pagar no boleto.", ""]
    # The worker's own copy of the cancels does not trim the history as a barge-in would.
    from llm_worker.history import History

    async with asyncio.timeout(10):
        while worker.jobs_done < jobs_before + 2:  # its two response.cancel entries
            await asyncio.sleep(0.02)
    raw = await bus.history(sid)
    assert raw is not None
    assert raw != history_before
    last = History.from_json(raw, max_turns=8).messages[-1]
    assert (last.role, last.content) == ("assistant", "Claro, pode pagar no boleto.")


async def history_pairs(bus: Bus, sid: str) -> list[tuple[str, str]]:
    from llm_worker.history import History

    raw = await bus.history(sid)
    assert raw is not None
    return [(m.role, m.content) for m in History.from_json(raw, max_turns=8).messages]


async def test_a_turn_answered_in_full_by_a_replica_that_died_before_acking_is_not_answered_again(
    bus: Bus, running: tuple[LLMWorker, FakeProvider]
) -> None:
    """The kill-llm drill: the killed replica had published the whole reply (every
    sentence and its end) but neither acknowledged the entry nor saved the history. The
    replica that reclaims the entry answers nothing (no superseding cancel, no second
    response: the caller would hear it twice) and records the published reply, once."""
    from asp import ResponseCancel, ResponseStart
    from pipeline import Job

    worker, provider = running
    sid = await greeted_session(bus, {"language": "pt-BR"})
    question, reply = "Como eu pago a conta?", ["Pode pagar no boleto.", "Ou no cartão."]
    # What the dead replica published before it was killed (response of delivery 1).
    await bus.publish(
        ResponseStart(session_id=sid, response_id="r-u5", utterance_id="u5"), stages=()
    )
    for seq, text in enumerate([*reply, ""]):
        await bus.publish(
            ResponseText(
                session_id=sid, response_id="r-u5", seq=seq, text=text, is_final=text == ""
            ),
            stages=(),
        )
    provider.push([TextDelta("Uma segunda resposta."), Done("end_turn")])
    await worker.handle(Job("1-0", transcript(sid, question, "u5"), 2))
    log = await bus.session_log(sid)
    assert not [m for m in log if isinstance(m, ResponseCancel)]
    assert not [
        m for m in log if isinstance(m, ResponseStart | ResponseText) and m.response_id == "r-u5-2"
    ]
    assert provider.requests == []
    pairs = await history_pairs(bus, sid)
    assert pairs[-2:] == [("user", question), ("assistant", " ".join(reply))]
    assert sum(p == ("assistant", " ".join(reply)) for p in pairs) == 1
    # Redelivered once more (the entry was reclaimed twice): still nothing new, and the
    # history keeps the reply once.
    await worker.handle(Job("1-0", transcript(sid, question, "u5"), 3))
    log = await bus.session_log(sid)
    assert not [m for m in log if isinstance(m, ResponseCancel)]
    assert await history_pairs(bus, sid) == pairs


@pytest.mark.parametrize(
    ("question", "script"),
    [
        ("Onde fica a empresa?", None),  # a fixed answer (the facts' address): in pieces
        ("Como eu pago a conta?", [TextDelta("Pode pagar no boleto."), Done("end_turn")]),
    ],
    ids=["fixed-answer", "model"],
)
async def test_a_turn_answered_and_recorded_before_the_replica_died_is_acknowledged_as_is(
    bus: Bus,
    running: tuple[LLMWorker, FakeProvider],
    question: str,
    script: list[TextDelta | Done] | None,
) -> None:
    """The replica died after saving the history too (only the acknowledgement was
    lost): the redelivered turn publishes nothing and the history is left as it was."""
    from asp import ResponseCancel, ResponseStart
    from pipeline import Job

    worker, provider = running
    sid = await greeted_session(bus, {"language": "pt-BR"})
    if script is not None:
        provider.push(script)
    await worker.handle(Job("1-0", transcript(sid, question, "u7"), 1))
    if script is None:  # decided without the model, sent in pieces, recorded whole
        assert provider.requests == []
        log = await bus.session_log(sid)
        pieces = [m for m in log if isinstance(m, ResponseText) and m.response_id == "r-u7"]
        assert len(pieces) >= 3, pieces
    before = await history_pairs(bus, sid)
    assert [role for role, _ in before[-2:]] == ["user", "assistant"]
    assert before[-2][1] == question
    requests = len(provider.requests)
    await worker.handle(Job("1-0", transcript(sid, question, "u7"), 2))
    log = await bus.session_log(sid)
    assert not [m for m in log if isinstance(m, ResponseCancel)]
    assert not [
        m for m in log if isinstance(m, ResponseStart | ResponseText) and m.response_id == "r-u7-2"
    ]
    assert len(provider.requests) == requests
    assert await history_pairs(bus, sid) == before


async def test_a_turn_a_dead_replica_answered_in_part_is_still_superseded_and_answered(
    bus: Bus, running: tuple[LLMWorker, FakeProvider]
) -> None:
    """A reply without its end (the replica died mid-way), or one that was cancelled
    after its end (a barge-in), is not an answer: the retry supersedes it and answers."""
    from asp import ResponseCancel
    from pipeline import Job

    worker, provider = running
    sid = await greeted_session(bus, {"language": "pt-BR"})
    await bus.publish(
        ResponseText(session_id=sid, response_id="r-u8", seq=0, text="Pode pagar", is_final=False),
        stages=(),
    )
    for seq, text in enumerate(["Sim.", ""]):
        await bus.publish(
            ResponseText(
                session_id=sid, response_id="r-u9", seq=seq, text=text, is_final=text == ""
            ),
            stages=(),
        )
    await bus.publish(
        ResponseCancel(session_id=sid, response_id="r-u9", reason="barge_in"), stages=()
    )
    for uid in ("u8", "u9"):
        provider.push([TextDelta("Pode pagar no boleto."), Done("end_turn")])
        await worker.handle(Job("1-0", transcript(sid, "Como eu pago a conta?", uid), 2))
    log = await bus.session_log(sid)
    assert ("r-u8", "superseded") in [
        (m.response_id, m.reason) for m in log if isinstance(m, ResponseCancel)
    ]
    for rid in ("r-u8-2", "r-u9-2"):
        texts = [m.text for m in log if isinstance(m, ResponseText) and m.response_id == rid]
        assert texts == ["Pode pagar no boleto.", ""]
