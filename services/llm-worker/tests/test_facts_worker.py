"""The facts through the LLM stage on a real Redis: plain transfer requests and keys
pressed on the phone become call.action transfer to the menu's extension (announced first),
the model's transfers outside the menu and its empty promises never reach the caller, the
history records what happened, a reloaded facts file changes the next turn, the prompt
carries the call's date, fixed at the call's start, and a fixed answer reaches the TTS first
clause first while a cached phrase in it stays whole."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypedDict, Unpack

import pytest
from asp import (
    CallAction,
    CallDtmf,
    Message,
    ResponseText,
    Transcript,
)
from asp.messages import CallActionKind
from llm_worker.events import Done, StreamEvent, TextDelta, ToolCall
from llm_worker.facts_store import FactsStore
from llm_worker.history import History
from llm_worker.hours import hours_answer
from llm_worker.persona import load_persona
from llm_worker.settings import Settings
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.testing.session_log import final_texts, greeted_session
from llm_worker.worker import LLMWorker
from pipeline import Bus
from pipeline.testing import running as running_worker

PERSONA = load_persona()
EXAMPLE = Path(__file__).resolve().parents[3] / "compose" / "agent" / "fatos.toml"
OFFER = "Se quiser, posso transferir para suporte, vendas ou atendimento."


@pytest.fixture
def facts_file(tmp_path: Path) -> Path:
    path = tmp_path / "fatos.toml"
    path.write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    return path


class Calendar:
    """Today's date as the test sets it (the worker's ``today``)."""

    def __init__(self, day: dt.date) -> None:
        self.day = day

    def __call__(self) -> dt.date:
        return self.day


@pytest.fixture
def calendar() -> Calendar:
    return Calendar(dt.date(2026, 12, 7))  # a Monday


@asynccontextmanager
async def worker_running(
    bus: Bus, facts_file: Path, calendar: Calendar, **kw: Unpack[Splitter]
) -> AsyncIterator[tuple[LLMWorker, FakeProvider, FactsStore]]:
    provider = FakeProvider(delay_s=0.01)
    store = FactsStore(facts_file, reload_s=0)
    worker = LLMWorker(bus, "llm-f", provider, PERSONA, facts=store, today=calendar, **kw)
    async with running_worker(worker):
        yield worker, provider, store


final_of = functools.partial(final_texts, prefix=True)


@pytest.fixture
async def running(
    bus: Bus, facts_file: Path, calendar: Calendar
) -> AsyncIterator[tuple[LLMWorker, FakeProvider, FactsStore]]:
    async with worker_running(bus, facts_file, calendar) as running:
        yield running


SHIPPED = Settings()


class Splitter(TypedDict, total=False):
    """The LLMWorker keyword arguments of its sentence splitter."""

    first_clause_min_chars: int
    first_words_min: int
    first_words_max: int
    clause_min_chars: int


# The splitter as shipped (LLM_FIRST_WORDS_MIN=3, LLM_CLAUSE_MIN_CHARS=24...): its cuts.
SHIPPED_SPLITTER: Splitter = {
    "first_clause_min_chars": SHIPPED.first_clause_min_chars,
    "first_words_min": SHIPPED.first_words_min,
    "first_words_max": SHIPPED.first_words_max,
    "clause_min_chars": SHIPPED.clause_min_chars,
}


def said(log: list[Message], response_id: str) -> list[str]:
    return [
        m.text
        for m in log
        if isinstance(m, ResponseText) and m.response_id == response_id and m.text
    ]


def dtmf_responses(log: list[Message]) -> set[str]:
    return {
        m.response_id
        for m in log
        if isinstance(m, ResponseText) and m.response_id.startswith("dtmf-")
    }


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text("utf-8").replace(old, new) if old else new, "utf-8")


def transfers(log: list[Message]) -> list[str | None]:
    return [m.target for m in log if isinstance(m, CallAction)]


async def history(bus: Bus, sid: str) -> list[tuple[str, str]]:
    """The call's history once its first turn is recorded: the worker records a turn right
    after publishing the response's end, so reading it at once races on a busy host."""
    async with asyncio.timeout(10):
        while True:
            raw = await bus.history(sid)
            assert raw is not None
            messages = [(m.role, m.content) for m in History.from_json(raw).messages]
            if any(role == "user" for role, _ in messages):
                return messages
            await asyncio.sleep(0.01)


def transcript(sid: str, text: str, utterance_id: str) -> Transcript:
    return Transcript(
        session_id=sid, utterance_id=utterance_id, text=text, language="pt", confidence=0.9
    )


async def ask(bus: Bus, sid: str, text: str, utterance_id: str) -> list[Message]:
    """The caller says ``text``: the session's log once the worker's reply to it ended."""
    await bus.publish(transcript(sid, text, utterance_id))
    return await final_of(bus, sid, f"r-{utterance_id}")


async def ask_the_facts(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore], question: str
) -> tuple[str, list[Message]]:
    """A new session whose caller asks ``question`` first, answered from the facts without
    the model: the session, and its log once the reply ended."""
    _, provider, _ = running
    sid = await greeted_session(bus)
    log = await ask(bus, sid, question, "u1")
    assert provider.requests == []  # decided without the model
    return sid, log


async def ask_the_model(
    bus: Bus,
    running: tuple[LLMWorker, FakeProvider, FactsStore],
    question: str,
    *reply: StreamEvent,
) -> tuple[str, list[Message]]:
    """A new session whose caller asks ``question`` first, the model answering ``reply``:
    the session, and its log once the reply ended."""
    _, provider, _ = running
    sid = await greeted_session(bus)
    provider.push(reply)
    log = await ask(bus, sid, question, "u1")
    return sid, log


async def test_quero_falar_com_o_suporte_transfers_to_1002(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore]
) -> None:
    sid, log = await ask_the_facts(bus, running, "Quero falar com o suporte.")
    assert said(log, "r-u1") == ["Transferindo para suporte, um momento."]
    (action,) = [m for m in log if isinstance(m, CallAction)]
    assert action.action is CallActionKind.TRANSFER
    assert action.target == "1002"
    announced = next(
        i for i, m in enumerate(log) if isinstance(m, ResponseText) and m.response_id == "r-u1"
    )
    assert announced < log.index(action)  # the sip-edge plays it before transferring
    assert (await history(bus, sid))[-2:] == [
        ("user", "Quero falar com o suporte."),
        ("assistant", "Transferindo para suporte, um momento."),
    ]


async def test_the_model_gets_the_facts_and_the_menu(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore]
) -> None:
    _, provider, _ = running
    # a question the facts do not answer (the address is answered without the model)
    question = "Vocês aceitam cartão de crédito?"
    await ask_the_model(bus, running, question, TextDelta("Não tenho essa informação."), Done())
    (request,) = provider.requests
    assert request.system.startswith(PERSONA.system_prompt)
    assert "segunda a sexta, das 8h às 18h" in request.system
    assert "Rua das Flores, 123" in request.system
    assert request.transfer_targets == ("1002", "1003", "1001")


@pytest.mark.parametrize(
    ("model_says", "extension", "question", "spoken", "transferred"),
    [
        (
            "Claro! Vou transferir você para a sala 8000.",
            "8000",
            "Me coloca na sala de reunião oito mil.",
            ["Claro!", OFFER],
            [],
        ),
        (
            "Vou passar você para vendas.",
            "1003",
            "Quanto custa para empresas?",
            ["Transferindo para vendas, um momento."],
            ["1003"],
        ),
    ],
    ids=["outside-the-menu-is-refused", "a-menu-extension-is-announced"],
)
async def test_a_transfer_the_model_asks_for(
    bus: Bus,
    running: tuple[LLMWorker, FakeProvider, FactsStore],
    model_says: str,
    extension: str,
    question: str,
    spoken: list[str],
    transferred: list[str],
) -> None:
    call = ToolCall("transfer_call", {"extension": extension})
    _, log = await ask_the_model(
        bus, running, question, TextDelta(model_says), call, Done("tool_use")
    )
    assert said(log, "r-u1") == spoken
    assert transfers(log) == transferred


@pytest.mark.parametrize(
    ("model_says", "question", "spoken"),
    [
        # a promise of a transfer without the tool is not spoken
        (
            "Entendi. Vou transferir sua ligação, um momento.",
            "Minha internet caiu de novo.",
            ["Entendi.", OFFER],
        ),
        # an invented price never reaches the caller
        (
            "O plano de mil megas custa cento e cinquenta reais.",
            "Tem plano de mil megas?",
            ["Não tenho essa informação.", OFFER],
        ),
    ],
    ids=["a-promise-without-the-tool", "an-invented-price"],
)
async def test_what_the_guards_replace_ends_with_the_offer(
    bus: Bus,
    running: tuple[LLMWorker, FakeProvider, FactsStore],
    model_says: str,
    question: str,
    spoken: list[str],
) -> None:
    sid, log = await ask_the_model(bus, running, question, TextDelta(model_says), Done())
    assert transfers(log) == []
    assert said(log, "r-u1") == spoken
    assert (await history(bus, sid))[-1] == ("assistant", " ".join(spoken))


async def test_a_menu_key_transfers_and_the_history_records_it(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore]
) -> None:
    _, provider, _ = running
    sid = await greeted_session(bus)
    await bus.publish(CallDtmf(session_id=sid, digit="1"))
    log = await final_of(bus, sid, "dtmf-")
    (rid,) = {
        m.response_id for m in log if isinstance(m, ResponseText) and m.response_id != "greeting"
    }
    assert said(log, rid) == ["Transferindo para suporte, um momento."]
    assert transfers(log) == ["1002"]
    assert provider.requests == []
    assert (await history(bus, sid))[-2:] == [
        ("user", "(O chamador apertou a tecla 1 no telefone.)"),
        ("assistant", "Transferindo para suporte, um momento."),
    ]
    # the next turn's request carries it: the agent knows what happened
    await ask(bus, sid, "Alô? Ainda está aí?", "u2")
    (request,) = provider.requests
    assert "(O chamador apertou a tecla 1 no telefone.)" in request.messages[-3].content


async def test_an_unknown_key_gets_the_spoken_menu(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore]
) -> None:
    sid = await greeted_session(bus)
    await bus.publish(CallDtmf(session_id=sid, digit="7"))
    log = await final_of(bus, sid, "dtmf-")
    rid = next(
        m.response_id for m in log if isinstance(m, ResponseText) and m.response_id != "greeting"
    )
    assert said(log, rid) == [
        "A tecla 7 não está no menu.",
        "Tecle 1 para suporte, 2 para vendas ou 0 para atendimento.",
    ]
    assert transfers(log) == []
    assert (await history(bus, sid))[-1][0] == "assistant"


async def test_a_reloaded_facts_file_changes_the_next_turn(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore], facts_file: Path
) -> None:
    _, _, store = running
    sid = await greeted_session(bus)
    edit(facts_file, 'ramal = "1002"', 'ramal = "1005"')
    store.request_reload()  # what SIGHUP does
    await bus.publish(CallDtmf(session_id=sid, digit="1"))
    log = await final_of(bus, sid, "dtmf-")
    assert transfers(log) == ["1005"]
    # a broken file keeps the facts in use
    edit(facts_file, "", "[empresa\n")
    store.request_reload()
    log = await ask(bus, sid, "Quero falar com o suporte.", "u1")
    assert transfers(log) == ["1005", "1005"]
    assert store.last_error is not None


async def test_the_prompt_carries_the_date_of_the_calls_start(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore], calendar: Calendar
) -> None:
    """The day and its hours end the system prompt; a call that crosses midnight keeps its
    start date (every turn sends the same prompt: the local model's saved state of the
    conversation keeps matching); a call started the next day gets that day."""
    _, provider, _ = running
    opens = 'Se perguntarem se abrimos hoje: "Sim, hoje abrimos das 8h às 18h."'
    monday = f"Hoje é segunda-feira, 7 de dezembro de 2026. {opens}"
    sid = await greeted_session(bus)
    await ask(bus, sid, "Quais planos vocês têm?", "u1")
    calendar.day = dt.date(2026, 12, 8)  # midnight passes during the call
    # (a question the facts do not answer: it goes to the model; the address would not)
    await ask(bus, sid, "E vocês aceitam cartão de crédito?", "u2")
    first, second = provider.requests
    assert first.system.endswith(f"\n\n{monday}")
    assert second.system == first.system
    later = await greeted_session(bus)
    await ask(bus, later, "Quais planos vocês têm?", "u3")
    tuesday = provider.requests[-1].system
    assert tuesday.endswith(f"\n\nHoje é terça-feira, 8 de dezembro de 2026. {opens}")
    # only the date line differs: the persona and the facts stay a shared prefix
    assert tuesday.rsplit("\n\n", 1)[0] == first.system.rsplit("\n\n", 1)[0]
    assert first.system.rsplit("\n\n", 1)[0].startswith(PERSONA.system_prompt)


async def test_a_question_about_hours_is_answered_from_the_facts(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore]
) -> None:
    sid, log = await ask_the_facts(bus, running, "Vocês abrem no domingo?")
    assert said(log, "r-u1") == ["No domingo, estamos fechados."]
    assert (await history(bus, sid))[-1] == ("assistant", "No domingo, estamos fechados.")


async def test_open_today_is_answered_for_the_day_the_call_started(
    bus: Bus, running: tuple[LLMWorker, FakeProvider, FactsStore], calendar: Calendar
) -> None:
    """ "Vocês abrem hoje?" gets that day's hours from the facts, without the model, for the
    date the call started (midnight passing during the call changes nothing)."""
    _, provider, _ = running
    calendar.day = dt.date(2026, 12, 13)  # a Sunday
    sid = await greeted_session(bus)
    calendar.day = dt.date(2026, 12, 14)
    log = await ask(bus, sid, "Vocês abrem hoje?", "u1")
    assert " ".join(said(log, "r-u1")) == "Hoje, domingo, estamos fechados."
    assert provider.requests == []


def texts(log: list[Message], response_id: str) -> list[ResponseText]:
    return [m for m in log if isinstance(m, ResponseText) and m.response_id == response_id]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (
            "Onde fica a empresa?",
            "O nosso endereço é Rua das Flores, 123, Centro, Campinas, São Paulo.",
        ),
        (
            "o plano de 600 Mega vem com roteador",
            "O Plano 600 megas custa cento e vinte e nove reais e noventa centavos por mês, "
            "com roteador Wi-Fi 6 incluso.",
        ),
    ],
)  # fmt: skip
async def test_the_address_and_a_services_price_are_answered_from_the_facts(
    bus: Bus, facts_file: Path, calendar: Calendar, question: str, answer: str
) -> None:
    """Without the model, cut by the shipped splitter (the first piece on its own), whole
    in the history."""
    async with worker_running(bus, facts_file, calendar, **SHIPPED_SPLITTER) as running:
        sid, log = await ask_the_facts(bus, running, question)
        pieces = said(log, "r-u1")
        assert len(pieces) >= 2, pieces  # the first clause goes to the TTS first
        assert " ".join(pieces) == answer  # nothing lost, nothing added
        assert (await history(bus, sid))[-1] == ("assistant", answer)


@pytest.mark.parametrize("splitter", [{}, SHIPPED_SPLITTER], ids=["defaults", "shipped"])
async def test_a_long_fixed_answer_reaches_the_tts_first_clause_first(
    bus: Bus, facts_file: Path, calendar: Calendar, splitter: Splitter
) -> None:
    """The week's hours, answered without the model, go to the TTS as the reply's
    splitter cuts a streamed reply: a short first clause on its own (synthesized and heard
    first), then the rest, in seq order, and the response ends once, after them."""
    question = "Qual é o horário de vocês?"
    async with worker_running(bus, facts_file, calendar, **splitter) as (_, provider, store):
        answered = hours_answer(question, store.current(), calendar.day)
        assert answered is not None
        (answer,) = answered
        sid = await greeted_session(bus)
        log = await ask(bus, sid, question, "u1")
    assert answer.startswith("Nosso horário de atendimento: ")
    assert len(answer) > 80
    assert provider.requests == []  # a fixed answer
    sent = texts(log, "r-u1")
    pieces = [m.text for m in sent if m.text]
    assert len(pieces) >= 2, pieces
    assert pieces[0] == "Nosso horário de atendimento:"  # a clause, not the whole answer
    assert " ".join(pieces) == answer  # nothing lost, nothing added
    assert [m.seq for m in sent] == list(range(len(pieces) + 1))
    assert [m.is_final for m in sent] == [False] * len(pieces) + [True]
    assert sent[-1].text == ""
    assert (await history(bus, sid))[-1] == ("assistant", answer)


async def test_a_cached_phrase_in_a_fixed_answer_is_sent_whole(
    bus: Bus, facts_file: Path, calendar: Calendar
) -> None:
    """With the shipped splitter, which cuts hardest: the transfer announcement, the
    two-sentence goodbye and the keypad menu (phrases registered for the TTS phrase cache,
    looked up by their exact text) are each one response.text, the registered text; the
    keypad answer's sentence that is not a phrase is cut."""
    async with worker_running(bus, facts_file, calendar, **SHIPPED_SPLITTER) as (w, _, _):
        sid = await greeted_session(bus)
        log = await ask(bus, sid, "Quero falar com o suporte.", "u1")
        log = await ask(bus, sid, "Era só isso, tchau.", "u2")
        await bus.publish(CallDtmf(session_id=sid, digit="7"))
        log = await final_of(bus, sid, "dtmf-")
        fixed = w.fixed_phrases
    registered = {text for _, text in await bus.registered_phrases()}
    announcement = "Transferindo para suporte, um momento."
    menu = "Tecle 1 para suporte, 2 para vendas ou 0 para atendimento."
    assert {announcement, PERSONA.goodbye, menu} <= registered & set(fixed)
    assert said(log, "r-u1") == [announcement]
    assert said(log, "r-u2") == [PERSONA.goodbye]
    (rid,) = dtmf_responses(log)
    keypad = said(log, rid)
    assert keypad[-1] == menu
    assert len(keypad) > 2  # the sentence that is not a phrase is cut
    assert " ".join(keypad[:-1]) == "A tecla 7 não está no menu."


async def test_every_piece_of_a_fixed_answer_is_registered_for_the_phrase_cache(
    bus: Bus, facts_file: Path, calendar: Calendar
) -> None:
    """What the worker sends to the TTS for a fixed answer (the shipped splitter's pieces)
    is registered for the TTS phrase cache before the call, so the TTS serves it from Redis;
    after the facts file changes, the new answer's pieces are registered at the next turn."""
    questions = (
        "Qual é o horário de funcionamento?",
        "Vocês abrem no sábado?",
        "Tem fidelidade?",
        "Quanto tempo leva a instalação?",
        "Vocês abrem hoje?",
        "Qual é o WhatsApp de vocês?",
    )
    async with worker_running(bus, facts_file, calendar, **SHIPPED_SPLITTER) as (w, p, store):
        before = {text for _, text in await bus.registered_phrases()}  # at start, no call yet
        sid = await greeted_session(bus)
        for i, question in enumerate(questions):
            await bus.publish(transcript(sid, question, f"q{i}"))
            log = await final_of(bus, sid, f"r-q{i}")
        assert p.requests == []  # all answered from the facts
        registered = {text for _, text in await bus.registered_phrases()}
        for i, question in enumerate(questions):
            sent = said(log, f"r-q{i}")
            assert sent, question
            assert set(sent) <= registered, (question, set(sent) - registered)
            if question != "Vocês abrem hoje?":  # the call's date: registered at its start
                assert set(sent) <= before, question
        assert "Nosso horário de atendimento:" in registered
        assert len(registered) == len(w.cache_phrases(calendar.day))

        edit(facts_file, "em até três dias úteis", "no mesmo dia")
        store.request_reload()
        await bus.publish(transcript(sid, "Quanto tempo leva a instalação?", "q9"))
        log = await final_of(bus, sid, "r-q9")
        sent = said(log, "r-q9")
        assert " ".join(sent) == "A instalação é feita no mesmo dia depois da contratação."
        assert set(sent) <= {text for _, text in await bus.registered_phrases()}


async def test_no_word_of_a_sentence_the_guard_replaces_reaches_the_tts(
    bus: Bus, facts_file: Path, calendar: Calendar
) -> None:
    """With the shipped splitter the model's first words are a piece of their own; when
    the rest of their sentence states a number the facts do not hold, the TTS gets the
    fallback alone (the caller never hears "A velocidade de upload" and then it), while a
    grounded reply still reaches it in its early pieces."""
    async with worker_running(bus, facts_file, calendar, **SHIPPED_SPLITTER) as (_, p, _):
        sid = await greeted_session(bus)
        p.push(
            [
                TextDelta("A velocidade "),
                TextDelta("de upload "),
                TextDelta("é de "),
                TextDelta("500 megas."),
                Done(),
            ]
        )
        log = await ask(bus, sid, "Qual a velocidade de upload?", "u1")
        assert said(log, "r-u1") == ["Não tenho essa informação.", OFFER]

        p.push([TextDelta("Nosso plano mais rápido custa R$ 129,90 por mês."), Done()])
        log = await ask(bus, sid, "E o plano mais rápido?", "u2")
        assert said(log, "r-u2") == ["Nosso plano mais rápido", "custa R$ 129,90 por mês."]
