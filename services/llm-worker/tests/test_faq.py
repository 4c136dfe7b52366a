"""FAQ entries and contacts answered from the facts without the model: a topic only one
FAQ entry holds picks it; a word the facts use in several places picks nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_worker.claims import grounds, unsupported
from llm_worker.facts import parse_facts
from llm_worker.facts_store import load_facts
from llm_worker.faq import faq_answer
from llm_worker.intent import plan_without_model
from llm_worker.tools import CallAction

FACTS = load_facts(Path(__file__).resolve().parents[3] / "compose" / "agent" / "fatos.toml")
NO_LOYALTY = "Não, os planos não têm fidelidade nem multa de cancelamento."
WHATSAPP = "O WhatsApp é dezenove, nove nove nove nove nove, zero zero zero zero."
INSTALL = "A instalação é feita em até três dias úteis depois da contratação."


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Tem fidelidade?", NO_LOYALTY),
        ("Um, se eu cancelar, eu pago multa.", NO_LOYALTY),
        ("Quanto tempo demora a instalação?", INSTALL),
        # a phone number read out digit by digit (the TTS reads "99999-0000" as one number)
        ("Vocês têm WhatsApp?", WHATSAPP),
        ("Qual é o site da empresa?", "O site é exemplotelecom.com.br."),
    ],
)
def test_what_one_fact_holds_is_answered_as_written(question: str, answer: str) -> None:
    assert faq_answer(question, FACTS) == (answer,)
    assert unsupported(answer, grounds(FACTS)) == []


@pytest.mark.parametrize(
    "question",
    [
        "Quero cancelar meu plano.",  # "cancelamento" is the FAQ's and the menu's
        "Quais planos vocês têm?",
        "Quanto tempo demora o técnico?",
        "Qual é o telefone do suporte?",
        "Vocês vendem celular?",
        "Onde fica a loja?",
        "Vocês têm site e WhatsApp?",  # two contacts: the model answers
        "",
    ],
)
def test_other_questions_are_left_to_the_model(question: str) -> None:
    assert faq_answer(question, FACTS) is None


def test_a_contact_the_facts_lack_is_left_to_the_model() -> None:
    facts = parse_facts('[empresa]\nnome = "X"\n')
    assert faq_answer("Vocês têm WhatsApp?", facts) is None


def test_the_step_before_the_model_in_order() -> None:
    goodbye = "Até logo!"

    def plan(text: str) -> tuple[tuple[str, ...], CallAction | None] | None:
        p = plan_without_model(text, FACTS, goodbye=goodbye)
        return None if p is None else (p.sentences, p.action)

    assert plan("Quero falar com o suporte.") == (
        ("Transferindo para suporte, um momento.",),
        CallAction("transfer", "1002"),
    )
    assert plan("Era só isso, tchau.") == ((goodbye,), CallAction("hangup"))
    assert plan("Vocês abrem no domingo?") == (("No domingo, estamos fechados.",), None)
    assert plan("Tem fidelidade?") == ((NO_LOYALTY,), None)
    assert plan("Vocês vendem celular?") is None
