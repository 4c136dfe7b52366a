"""The pieces of the facts' fixed answers registered for the TTS phrase cache are exactly
what the worker sends to the TTS for them (same splitter path), first pieces first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from llm_worker.cached_answers import answer_pieces, fixed_answers
from llm_worker.facts import Facts
from llm_worker.facts_store import load_facts
from llm_worker.intent import plan_without_model
from llm_worker.menu import KEYPAD, menu_phrases, plan_for_digit
from llm_worker.persona import load_persona
from llm_worker.settings import Settings
from llm_worker.splitter import SentenceSplitter, split_known

EXAMPLE = Path(__file__).resolve().parents[3] / "compose" / "agent" / "fatos.toml"
PERSONA = load_persona()
SHIPPED = Settings()
MONDAY = dt.date(2026, 12, 7)

# Questions the step before the model answers from the example facts (the first five are
# the voice-to-voice bench's, docs/perf/voice-to-voice.md).
FACT_QUESTIONS = (
    "Qual é o horário de funcionamento?",
    "Vocês abrem no sábado?",
    "Eu queria saber o horário de sábado.",
    "Tem fidelidade?",
    "Quanto tempo leva a instalação?",
    "Vocês abrem hoje?",
    "E amanhã, vocês abrem?",
    "Vocês funcionam no domingo?",
    "Qual o horário na quarta-feira?",
    "Vocês abrem no fim de semana?",
    "Vocês abrem nos feriados?",
    "Vocês abrem no Natal?",
    "Qual o horário no dia 31 de dezembro?",
    "Vocês atendem agora?",
    "Qual é o WhatsApp de vocês?",
    "Qual o site?",
    "Tem multa?",
    "Onde fica a empresa?",
    "Qual é o telefone de vocês?",
    "Quanto custa o plano de 300 megas?",
    "O plano de 600 Mega vem com roteador?",
    "Quanto fica uma visita técnica fora da garantia?",
)


def shipped_splitter() -> SentenceSplitter:
    return SentenceSplitter(
        first_clause_min_chars=SHIPPED.first_clause_min_chars,
        first_words_min=SHIPPED.first_words_min,
        first_words_max=SHIPPED.first_words_max,
        clause_min_chars=SHIPPED.clause_min_chars,
    )


def whole(facts: Facts) -> tuple[str, ...]:
    """The worker's fixed phrases (``LLMWorker.fixed_phrases``): sent whole."""
    return (PERSONA.greeting, PERSONA.apology, PERSONA.goodbye, *menu_phrases(facts))


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load_facts(EXAMPLE)


@pytest.fixture(scope="module")
def registered(facts: Facts) -> list[str]:
    return answer_pieces(fixed_answers(facts, MONDAY), shipped_splitter, whole=whole(facts))


@pytest.mark.parametrize("question", FACT_QUESTIONS)
def test_every_piece_of_a_fact_answer_is_registered(
    question: str, facts: Facts, registered: list[str]
) -> None:
    plan = plan_without_model(question, facts, goodbye=PERSONA.goodbye, today=MONDAY)
    assert plan is not None, question  # answered from the facts
    assert plan.action is None, question
    # what LLMWorker._perform sends to the TTS, piece by piece
    sent = split_known(plan.sentences, shipped_splitter(), whole=whole(facts))
    assert len(sent) >= 1
    assert set(sent) <= set(registered) | set(whole(facts)), (question, sent)


def test_the_first_piece_of_an_answer_naming_several_days_is_registered(
    facts: Facts, registered: list[str]
) -> None:
    plan = plan_without_model(
        "Vocês abrem na segunda e no sábado?", facts, goodbye=PERSONA.goodbye, today=MONDAY
    )
    assert plan is not None
    assert len(plan.sentences) == 2
    sent = split_known(plan.sentences, shipped_splitter(), whole=whole(facts))
    assert sent[0] == "Na segunda-feira,"
    assert sent[0] in registered


def test_every_key_outside_the_menu_is_registered(facts: Facts, registered: list[str]) -> None:
    for digit in KEYPAD:
        plan = plan_for_digit(facts, digit)
        sent = split_known(plan.sentences, shipped_splitter(), whole=whole(facts))
        assert set(sent) <= set(registered) | set(whole(facts)), (digit, sent)


def test_first_pieces_come_first_without_repeats_and_phrases_apart(
    facts: Facts, registered: list[str]
) -> None:
    answers = fixed_answers(facts, MONDAY)
    firsts = [split_known(a, shipped_splitter(), whole=whole(facts))[0] for a in answers]
    firsts = [f for f in dict.fromkeys(firsts) if f not in whole(facts)]
    assert registered[: len(firsts)] == firsts
    assert registered[0] == "Nosso horário de atendimento:"  # the week's hours: asked most
    assert len(registered) == len(set(registered))
    assert not set(registered) & set(whole(facts))  # registered as they are, once


def test_the_date_only_changes_what_today_and_tomorrow_get(facts: Facts) -> None:
    monday = answer_pieces(fixed_answers(facts, MONDAY), shipped_splitter)
    christmas_eve = answer_pieces(fixed_answers(facts, dt.date(2026, 12, 24)), shipped_splitter)
    assert "Hoje, segunda-feira," in monday
    assert "Amanhã, Natal," in christmas_eve
    undated = set(answer_pieces(fixed_answers(facts), shipped_splitter))
    assert not any(p.startswith(("Hoje", "Amanhã")) for p in undated)
    assert undated <= set(monday) & set(christmas_eve)


def test_without_hours_the_fallback_is_registered() -> None:
    facts = load_facts(None)  # the packaged default: no hours, no FAQ
    pieces = answer_pieces(fixed_answers(facts, MONDAY), shipped_splitter, whole=whole(facts))
    plan = plan_without_model("Qual o horário?", facts, goodbye=PERSONA.goodbye, today=MONDAY)
    assert plan is not None
    sent = split_known(plan.sentences, shipped_splitter(), whole=whole(facts))
    assert set(sent) <= set(pieces) | set(whole(facts))
