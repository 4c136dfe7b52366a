"""The local provider with real packaged GGUF models through llama-cpp-python.

SmolLM2-135M (fast) checks the plumbing; the real default, Qwen2.5-Coder-1.5B, answers a
Portuguese question once. Both files are assembled by scripts/setup.d/45-llm.sh.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from llm_worker.events import ChatRequest, Done, Message, TextDelta
from llm_worker.facts import system_prompt
from llm_worker.facts_store import load_facts
from llm_worker.persona import load_persona
from llm_worker.providers.base import Timeouts
from llm_worker.providers.local import (
    SMALL_MODEL_FILE,
    LocalProvider,
    default_model_path,
    models_dir,
)
from llm_worker.reply import ReplyAction, ReplySentence, reply
from llm_worker.tools import CallAction

pytestmark = pytest.mark.integration  # the packaged GGUF models on llama.cpp

SMALL = models_dir() / SMALL_MODEL_FILE
PERSONA = load_persona()
ONE_SENTENCE = "You are a helpful assistant. Answer in one short sentence."


def require(path: Path) -> None:
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/setup.d/45-llm.sh (make bootstrap)")


def chat(user: str, max_tokens: int, system: str = "Be brief.") -> ChatRequest:
    """A request of one user message, without tools, at temperature 0 (repeatable)."""
    return ChatRequest(
        system=system,
        messages=(Message("user", user),),
        tools=False,
        max_tokens=max_tokens,
        temperature=0.0,
    )


@pytest.fixture(scope="module")
def small() -> LocalProvider:
    require(SMALL)
    return LocalProvider(
        model_path=SMALL, n_ctx=1024, timeouts=Timeouts(first_event_s=120.0, idle_s=60.0)
    )


async def test_small_model_answers_through_reply(small: LocalProvider) -> None:
    req = chat("What is the capital of France?", 24, system=ONE_SENTENCE)
    out = [e async for e in reply(small, req, apology="APOLOGY")]
    sentences = [e for e in out if isinstance(e, ReplySentence)]
    assert sentences
    assert not any(s.apology for s in sentences)
    assert [s.index for s in sentences] == list(range(len(sentences)))
    assert "Paris" in " ".join(s.text for s in sentences)


async def test_warm_up_loads_and_primes_the_model(small: LocalProvider) -> None:
    await small.start()
    await small.warm_up("Be brief.")
    assert small.metrics.counts["completed"] >= 1
    assert small.metrics.errors == {}


async def test_warm_up_is_not_bound_by_a_calls_first_event_timeout() -> None:
    # A prefill slower than a call's first-event bound (a busy host) must not fail the
    # warm-up, which would stop the worker at start.
    require(SMALL)
    p = LocalProvider(model_path=SMALL, n_ctx=1024, timeouts=Timeouts(first_event_s=0.001))
    await p.start()
    await p.warm_up("Be brief. Answer in Portuguese.")
    assert p.metrics.counts["completed"] == 1
    assert p.metrics.errors == {}
    assert p.timeouts.first_event_s == 0.001  # calls keep their own bound
    await p.aclose()


async def test_small_model_stream_ends_with_done(small: LocalProvider) -> None:
    req = chat("Say hello.", 8)
    async with small.stream(req) as stream:
        events = [e async for e in stream]
    assert any(isinstance(e, TextDelta) for e in events)
    assert isinstance(events[-1], Done)
    assert events[-1].stop_reason in ("stop", "length")


async def test_cancel_stops_local_generation_within_a_token(small: LocalProvider) -> None:
    req = chat("Tell me a very long story about a dragon.", 400, system="You are a storyteller.")
    stream = small.stream(req)
    assert isinstance(await anext(stream), TextDelta)
    await stream.cancel()
    thread = small.last_thread
    assert thread is not None
    await asyncio.to_thread(thread.join, 60)
    assert not thread.is_alive()
    # Generation stopped right after the cancel, far from the 400-token budget.
    assert small.last_chunks < 100
    # and the model is free for the next turn
    req2 = chat("Hi", 4)
    async with small.stream(req2) as s2:
        assert [e async for e in s2]


async def test_default_qwen_answers_a_portuguese_question() -> None:
    """The offline default with the packaged pt-BR persona and its tools."""
    require(default_model_path())
    # Generous first-token limit: a cold 550-token prompt on a busy 2-core CI machine.
    qwen = LocalProvider(n_ctx=2048, timeouts=Timeouts(first_event_s=240.0, idle_s=60.0))
    req = ChatRequest(
        system=system_prompt(PERSONA.system_prompt, load_facts()),  # as the worker does
        messages=(Message("user", "Bom dia! Qual é o ramal do suporte?"),),
        max_tokens=60,
        temperature=0.0,
    )
    out = [e async for e in reply(qwen, req, apology=PERSONA.apology)]
    sentences = [e.text for e in out if isinstance(e, ReplySentence)]
    actions = [e.action for e in out if isinstance(e, ReplyAction)]
    assert not any(e.apology for e in out if isinstance(e, ReplySentence)), out
    text = " ".join(sentences)
    # It knows the extension from the facts: says it, or transfers there.
    assert "1002" in text or CallAction("transfer", "1002") in actions, out
    assert "<tool_call>" not in text


async def _turn(p: LocalProvider, key: str, history: list[Message], text: str) -> str:
    history.append(Message("user", text))
    req = ChatRequest(
        system=ONE_SENTENCE,
        messages=tuple(history),
        tools=False,
        max_tokens=8,
        temperature=0.0,
        conversation_id=key,
    )
    out = [e async for e in reply(p, req, apology="APOLOGY")]
    said = " ".join(e.text for e in out if isinstance(e, ReplySentence))
    history.append(Message("assistant", said))
    return said


async def test_interleaved_calls_each_evaluate_only_their_new_tokens() -> None:
    """Two conversations alternate on one model: with the state cache each turn evaluates
    only what its history added; without it, everything after the system prompt."""
    require(SMALL)
    timeouts = Timeouts(first_event_s=120.0, idle_s=60.0)
    # Engines of their own (distinct n_ctx); one thread: no spinning barrier on a busy CI.
    kw = {"model_path": SMALL, "n_threads": 1, "timeouts": timeouts}
    cached = LocalProvider(n_ctx=1536, state_cache_mb=64, **kw)  # type: ignore[arg-type]
    plain = LocalProvider(n_ctx=1280, state_cache_mb=0, **kw)  # type: ignore[arg-type]
    questions = ["What is the capital of France?", "What is two plus two?"]
    follow = ["And of Italy?", "And three plus three?", "Thanks, and of Spain?"]
    for p in (cached, plain):
        convs: dict[str, list[Message]] = {"a": [], "b": []}
        for key, q in zip("ab", questions, strict=True):
            assert await _turn(p, key, convs[key], q)
        stats = []
        for i, q in enumerate(follow):
            key = "ab"[i % 2]
            assert await _turn(p, key, convs[key], q)
            assert p.last_prompt is not None
            stats.append(p.last_prompt)
        if p is cached:
            assert all(s.restored for s in stats), stats
            # the new question, the chat template around it and at most the previous
            # reply's tail: a few dozen tokens, not the history
            assert all(s.evaluated <= 40 for s in stats), stats
            with_cache = stats
        else:
            assert not any(s.restored for s in stats), stats
            assert all(
                s.evaluated > c.evaluated + 10 for s, c in zip(stats, with_cache, strict=True)
            ), (stats, with_cache)


async def test_rendered_prompt_is_what_llama_cpp_evaluates(small: LocalProvider) -> None:
    history: list[Message] = []
    await _turn(small, "render", history, "Say hello.")
    await _turn(small, "render", history, "Say goodbye.")
    engine = small.engine()
    assert engine.render is not None
    prompt = engine.render(
        [{"role": "system", "content": ONE_SENTENCE}]
        + [{"role": m.role, "content": m.content} for m in history[:-1]]
    )
    assert engine.llm.input_ids[: len(prompt)].tolist() == prompt
    assert small.last_prompt is not None
    assert small.last_prompt.tokens == len(prompt)
