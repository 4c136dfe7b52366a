"""A phone answer: capped at whole sentences, never ending inside one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

from llm_worker.events import ChatRequest, Done, Message, StreamEvent, TextDelta, ToolCall
from llm_worker.reply import ReplyAction, ReplySentence, reply
from llm_worker.splitter import SentenceSplitter
from llm_worker.testing import FakeProvider
from llm_worker.tools import CallAction

REQ = ChatRequest(system="s", messages=(Message("user", "oi"),))


def texts(out: Sequence[object]) -> list[str]:
    return [e.text for e in out if isinstance(e, ReplySentence)]


async def test_the_reply_stops_after_max_sentences_and_frees_the_model() -> None:
    produced = 0
    closed = asyncio.Event()

    class Chatty(FakeProvider):
        async def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
            nonlocal produced
            try:
                for i in range(1000):
                    produced += 1
                    yield TextDelta(f"Frase número {i}. ")
                    await asyncio.sleep(0.001)
                yield Done("stop")
            finally:
                closed.set()

    p = Chatty()
    out = [e async for e in reply(p, REQ, apology="Desculpe.", max_sentences=2)]
    assert texts(out) == ["Frase número 0.", "Frase número 1."]
    assert closed.is_set()
    assert produced < 10  # stopped right after the next sentence began, not at 1000
    assert p.metrics.counts["cancelled"] == 1


async def test_clauses_do_not_count_as_sentences() -> None:
    p = FakeProvider()
    p.push(
        [
            TextDelta("Nosso horário começa às oito, de segunda a sexta. Aos sábados não. "),
            TextDelta("Algo mais?"),
            Done("stop"),
        ]
    )
    split = SentenceSplitter(first_words_min=3, clause_min_chars=5)
    out = [e async for e in reply(p, REQ, apology="x", splitter=split, max_sentences=2)]
    assert texts(out) == [
        "Nosso horário começa",
        "às oito,",
        "de segunda a sexta.",
        "Aos sábados não.",
    ]


async def test_a_tool_call_right_after_the_last_sentence_still_runs() -> None:
    p = FakeProvider()
    p.push(
        [
            TextDelta("Claro. Vou transferir, um momento. "),
            ToolCall("transfer_call", {"extension": "1002"}),
            Done("tool_use"),
        ]
    )
    out = [e async for e in reply(p, REQ, apology="x", max_sentences=2)]
    assert texts(out) == ["Claro.", "Vou transferir, um momento."]
    assert out[-1] == ReplyAction(CallAction("transfer", "1002"))


async def test_no_cap_by_default() -> None:
    p = FakeProvider()
    p.push([TextDelta("Um. Dois. Três. Quatro. Cinco."), Done("stop")])
    out = [e async for e in reply(p, REQ, apology="x")]
    assert texts(out) == ["Um.", "Dois.", "Três.", "Quatro.", "Cinco."]


async def test_a_reply_cut_by_the_token_limit_ends_on_its_last_whole_sentence() -> None:
    for reason in ("length", "max_tokens"):
        p = FakeProvider()
        p.push([TextDelta("Abrimos às oito. Fechamos às dezoito e aos sábados nós"), Done(reason)])
        out = [e async for e in reply(p, REQ, apology="x")]
        assert texts(out) == ["Abrimos às oito."], reason


async def test_an_unpunctuated_ending_is_spoken_when_the_model_simply_stopped() -> None:
    p = FakeProvider()
    p.push([TextDelta("Abrimos às oito. Até logo"), Done("stop")])
    assert texts([e async for e in reply(p, REQ, apology="x")]) == ["Abrimos às oito.", "Até logo"]


async def test_a_truncated_only_piece_is_spoken_rather_than_an_apology() -> None:
    p = FakeProvider()
    p.push([TextDelta("Nosso horário de atendimento é"), Done("length")])
    out = [e async for e in reply(p, REQ, apology="Desculpe.")]
    assert out == [ReplySentence(0, "Nosso horário de atendimento é")]
