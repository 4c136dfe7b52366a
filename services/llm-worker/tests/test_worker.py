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
