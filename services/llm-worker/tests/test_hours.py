"""Questions about opening hours answered from the facts, without the model: which
questions count, and answers that say the facts' hours (and pass the grounding check)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from llm_worker.claims import grounds, unsupported
from llm_worker.facts import NO_INFO, parse_facts
from llm_worker.facts_store import load_facts
from llm_worker.hours import hours_answer, say_intervals, say_time

FACTS = load_facts(Path(__file__).resolve().parents[3] / "compose" / "agent" / "fatos.toml")
OFFER = "Se quiser, posso transferir para suporte, vendas ou atendimento."
WEEK = (
    "Nosso horário de atendimento: de segunda a sexta, das oito às dezoito horas; sábado, "
    "das oito ao meio-dia; domingo, fechado."
)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Qual é o horário de funcionamento de vocês?", (WEEK,)),
        ("A loja está aberta agora?", (WEEK,)),
        ("E qual horário de sábado?", ("No sábado, atendemos das oito ao meio-dia.",)),
        ("Vocês abrem no domingo!", ("No domingo, estamos fechados.",)),
        (
            "Até que horas vocês ficam abertos na sexta-feira.",
            ("Na sexta-feira, atendemos das oito às dezoito horas.",),
        ),
        (
            "Vocês abrem no fim de semana?",
            ("No sábado, atendemos das oito ao meio-dia.", "No domingo, estamos fechados."),
        ),
        ("Vocês funcionam no dia de Natal.", ("No dia 25 de dezembro, Natal, estamos fechados.",)),
        (
            "e no dia trinta e um de dezembro vocês abrem?",
            ("No dia 31 de dezembro, véspera de Ano-Novo, atendemos das oito ao meio-dia.",),
        ),
        (  # Whisper wrote "trinta e um" as digits
            "1. E no dia 30 e 1 de dezembro, vocês abrem.",
            ("No dia 31 de dezembro, véspera de Ano-Novo, atendemos das oito ao meio-dia.",),
        ),
        (
            "Abre no dia 31/12?",
            ("No dia 31 de dezembro, véspera de Ano-Novo, atendemos das oito ao meio-dia.",),
        ),
        (
            "Vocês abrem feriado?",
            (
                "Nos feriados: dia 25 de dezembro, Natal, fechado; dia 31 de dezembro, "
                "véspera de Ano-Novo, das oito ao meio-dia.",
            ),
        ),
    ],
)
def test_a_question_about_hours_is_answered_from_the_facts(
    question: str, answer: tuple[str, ...]
) -> None:
    said = hours_answer(question, FACTS)
    assert said == answer
    assert unsupported(" ".join(said), grounds(FACTS)) == []  # it says only the facts


@pytest.mark.parametrize(
    "question",
    [
        "Como funciona a instalação?",
        "A minha fatura não abre.",
        "O suporte atende pelo WhatsApp?",
        "Qual é o endereço de vocês?",
        "Quero falar com o atendimento.",
        "Quanto custa o plano de seiscentos megas?",
        "",
    ],
)
def test_other_questions_are_left_to_the_model(question: str) -> None:
    assert hours_answer(question, FACTS) is None


def test_facts_without_hours_answer_the_fallback() -> None:
    facts = parse_facts('[empresa]\nnome = "X"\n[[menu]]\nsetor = "suporte"\nramal = "1002"\n')
    assert hours_answer("Qual é o horário de vocês?", facts) == (
        NO_INFO,
        "Se quiser, posso transferir para suporte.",
    )
    assert hours_answer("Vocês abrem feriado?", facts) == (
        NO_INFO,
        "Se quiser, posso transferir para suporte.",
    )


def test_a_day_missing_from_the_facts_is_not_guessed() -> None:
    facts = parse_facts('[empresa]\nnome = "X"\n[horario]\nsegunda = "09:00-17:00"\n')
    assert hours_answer("Vocês abrem no sábado?", facts) == (
        "No sábado, não tenho essa informação.",
        "Não consigo transferir a ligação agora.",
    )


@pytest.mark.parametrize(
    ("hhmm", "words"),
    [
        ("08:00", "oito"),
        ("12:00", "meio-dia"),
        ("00:00", "meia-noite"),
        ("13:30", "treze e meia"),
        ("18:45", "dezoito e quarenta e cinco"),
        ("21:00", "vinte e uma"),
    ],
)
def test_times_are_said_in_words(hhmm: str, words: str) -> None:
    assert say_time(hhmm) == words


def test_split_hours_are_said_in_order() -> None:
    facts = parse_facts('[empresa]\nnome = "X"\n[horario]\nsegunda = "08:00-12:00, 13:30-18:00"\n')
    (hours,) = [h for _, h in facts.hours]
    assert say_intervals(hours) == "das oito ao meio-dia e das treze e meia às dezoito horas"
    (answer,) = hours_answer("Abrem na segunda?", facts) or ()
    assert unsupported(answer, grounds(facts)) == []


@pytest.mark.parametrize(
    ("question", "today", "answer"),
    [
        (
            "Vocês abrem hoje?",
            dt.date(2026, 12, 7),  # a Monday
            ("Hoje, segunda-feira, atendemos das oito às dezoito horas.",),
        ),
        ("Vocês estão abertos hoje?", dt.date(2026, 12, 13), ("Hoje, domingo, estamos fechados.",)),
        (
            "E amanhã vocês abrem?",
            dt.date(2026, 12, 11),  # a Friday: tomorrow is Saturday
            ("Amanhã, sábado, atendemos das oito ao meio-dia.",),
        ),
        # a holiday of the facts on that date wins over its weekday (a Friday)
        ("Vocês abrem hoje?", dt.date(2026, 12, 25), ("Hoje, Natal, estamos fechados.",)),
        (
            "Amanhã vocês atendem?",
            dt.date(2026, 12, 30),
            ("Amanhã, véspera de Ano-Novo, atendemos das oito ao meio-dia.",),
        ),
        # a day named outright wins over "hoje"; "agora" is not resolved
        (
            "Hoje é sábado, vocês abrem?",
            dt.date(2026, 12, 7),
            ("No sábado, atendemos das oito ao meio-dia.",),
        ),
        ("A loja está aberta agora?", dt.date(2026, 12, 7), (WEEK,)),
    ],
)
def test_today_and_tomorrow_are_the_calls_date(
    question: str, today: dt.date, answer: tuple[str, ...]
) -> None:
    got = hours_answer(question, FACTS, today)
    assert got == answer
    assert unsupported(" ".join(got), grounds(FACTS)) == []


def test_without_the_calls_date_today_gets_the_week() -> None:
    assert hours_answer("Vocês abrem hoje?", FACTS) == (WEEK,)
