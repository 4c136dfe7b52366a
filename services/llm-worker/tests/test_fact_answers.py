"""The company's address and phone, and a named service's price and contents, answered from
the facts without the model; anything ambiguous, unknown or asking for something else is
left to the model; the transfer intents come first as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_worker.claims import claims, grounds, unsupported
from llm_worker.company import company_answer, company_answers
from llm_worker.facts import NO_INFO, parse_facts
from llm_worker.facts_store import load_facts
from llm_worker.intent import plan_without_model
from llm_worker.menu import offer
from llm_worker.prices import service_answer, service_answers
from llm_worker.splitter import SentenceSplitter, split_known
from llm_worker.spoken import say_number, say_phone, say_price
from llm_worker.tools import CallAction

FACTS = load_facts(Path(__file__).resolve().parents[3] / "compose" / "agent" / "fatos.toml")
ADDRESS = "O nosso endereço é Rua das Flores, 123, Centro, Campinas, São Paulo."
PHONE = "O telefone é dezenove, três três três três, quatro quatro quatro quatro."
P300 = "O Plano 300 megas custa noventa e nove reais e noventa centavos por mês."
P600 = (
    "O Plano 600 megas custa cento e vinte e nove reais e noventa centavos por mês, "
    "com roteador Wi-Fi 6 incluso."
)
WHATSAPP = "O WhatsApp é dezenove, nove nove nove nove nove, zero zero zero zero."
VISIT = "A Visita técnica fora da garantia custa oitenta reais."


def plan(text: str) -> tuple[tuple[str, ...], CallAction | None] | None:
    p = plan_without_model(text, FACTS, goodbye="Até logo!")
    return None if p is None else (p.sentences, p.action)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        # address
        ("Onde fica a empresa?", ADDRESS),
        ("onde fica a empresa", ADDRESS),
        ("Qual é o endereço de vocês?", ADDRESS),
        ("Onde fica a loja?", ADDRESS),
        ("Eh... eu queria saber onde vocês ficam, qual a rua?", ADDRESS),
        ("me passa o endereço", ADDRESS),
        ("Onde é que fica a empresa de vocês?", ADDRESS),
        # phone (read out digit by digit)
        ("Qual é o telefone fixo de vocês?", PHONE),
        ("qual o telefone", PHONE),
        ("qual o número do telefone de vocês", PHONE),
        # the other contacts (llm_worker.faq), still answered
        ("Vocês têm WhatsApp?", WHATSAPP),
        ("qual o endereço do site", "O site é exemplotelecom.com.br."),
        # a service's price, by its number in digits or in words, "mega" or "megas"
        ("Quanto custa o plano de 300 megas?", P300),
        ("quanto custa o plano de 300 megas", P300),
        ("Qual o preço do plano de trezentos megas?", P300),
        ("qual o valor da mensalidade do plano de 300 megas", P300),
        ("quanto tá o de 300", P300),
        ("Quanto custa o plano de seiscentos megas?", P600),
        ("quanto é o 600 Mega", P600),
        ("Quanto fica uma visita técnica fora da garantia?", VISIT),
        ("quanto custa a visita técnica", VISIT),
        # what a service includes
        ("O plano de 600 megas vem com roteador?", P600),
        ("o plano de 600 Mega vem com roteador", P600),
        ("O plano de seiscentos megas vem com roteador?", P600),
        ("o plano seiscentos mega tem roteador", P600),
        ("o que vem no plano de 600", P600),
        ("tem plano de 600 megas?", P600),
    ],
)  # fmt: skip
def test_a_plain_question_is_answered_from_the_facts(question: str, answer: str) -> None:
    assert plan(question) == ((answer,), None)
    assert unsupported(answer, grounds(FACTS)) == []  # it states only what the facts hold


@pytest.mark.parametrize(
    "question",
    [
        # not the company's address or phone, or not only
        "Onde fica o roteador?",
        "onde eu pago o boleto",
        "vocês atendem no meu endereço",
        "Qual é o telefone do suporte?",
        "o meu telefone não funciona",
        "Qual o telefone e o endereço de vocês?",
        # ambiguous: no service, or two
        "Quanto custa o plano?",
        "quanto custa o plano de 300 ou o de 600",
        "quanto custa a visita",  # one distinctive word of four: not enough
        "Quais planos de internet vocês têm?",
        # a service the facts do not have
        "quanto custa o plano de 500 megas",
        "Quanto custa o plano de 1 giga?",
        "eu tenho 300 reais, tem como?",  # a price, not the plan's number
        # one service, but asking what its facts do not say
        "o plano de 300 megas vem com roteador",
        "quanto custa pra contratar o plano de 600",
        "o plano de 600 megas tem desconto?",
        # not a price or contents question
        "quero contratar o plano de 600 megas",
        "o plano de 600 megas é bom?",
    ],
)
def test_other_questions_are_left_to_the_model(question: str) -> None:
    assert plan(question) is None


def test_transfers_and_the_faq_come_first() -> None:
    """A transfer request naming a service transfers; an FAQ topic wins over a price."""
    assert plan("me passa para vendas, quero o plano de 600") == (
        ("Transferindo para vendas, um momento.",),
        CallAction("transfer", "1003"),
    )
    assert plan("Quero falar com o suporte sobre o roteador do plano de 600 megas.") == (
        ("Transferindo para suporte, um momento.",),
        CallAction("transfer", "1002"),
    )
    assert plan("O plano de 600 megas tem fidelidade?") == (
        ("Não, os planos não têm fidelidade nem multa de cancelamento.",),
        None,
    )


def test_facts_without_the_field_answer_the_fallback() -> None:
    facts = parse_facts(
        '[empresa]\nnome = "X"\n[[menu]]\nsetor = "suporte"\nramal = "1002"\n'
        '[[servico]]\nnome = "Plano 100 megas"\n'
    )
    fallback = (NO_INFO, offer(facts))
    assert company_answer("Onde fica a empresa?", facts) == fallback
    assert company_answer("qual o telefone?", facts) == fallback
    assert service_answer("quanto custa o plano de 100 megas?", facts) == fallback


def test_a_service_answer_follows_what_the_facts_hold() -> None:
    facts = parse_facts(
        '[empresa]\nnome = "X"\n'
        '[[servico]]\nnome = "Instalação expressa"\npreco = 1234.5\n'
        '[[servico]]\nnome = "Plano 1 giga"\ndescricao = "com roteador Wi-Fi 7"\n'
        '[[servico]]\nnome = "Combo TV"\npreco = "R$ 1,00 por mês"\n'
        'descricao = "Inclui 100 canais."\n'
    )
    assert service_answer("quanto custa a instalação expressa?", facts) == (
        "A Instalação expressa custa mil duzentos e trinta e quatro reais e cinquenta centavos.",
    )
    assert service_answer("o plano de 1 giga vem com roteador?", facts) == (
        "O Plano 1 giga vem com roteador Wi-Fi 7.",
    )
    # a price the facts do not have is not made up
    assert service_answer("quanto custa o plano de 1 giga?", facts) == (NO_INFO, offer(facts))
    assert service_answer("quanto custa o combo tv?", facts) == (
        "O Combo TV custa um real por mês.",
        "Inclui 100 canais.",
    )


def test_every_answer_is_listed_for_the_phrase_cache() -> None:
    listed = {*company_answers(FACTS), *service_answers(FACTS)}
    assert {(ADDRESS,), (PHONE,), (P300,), (P600,), (VISIT,)} <= listed
    for question in ("Onde fica a empresa?", "quanto custa o de 600?", "qual o telefone?"):
        p = plan(question)
        assert p is not None
        assert p[0] in listed


def test_the_first_clause_of_an_answer_is_cut_as_a_reply_is() -> None:
    """Spoken through the same splitter as any fixed answer: the first clause goes first."""
    split = SentenceSplitter(first_clause_min_chars=12)
    assert split_known([P600], split) == [
        "O Plano 600 megas custa cento e vinte e nove reais e noventa centavos por mês,",
        "com roteador Wi-Fi 6 incluso.",
    ]
    assert split_known([ADDRESS], SentenceSplitter())[0] == "O nosso endereço é Rua das Flores,"


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (16, "dezesseis"),
        (80, "oitenta"),
        (100, "cem"),
        (129, "cento e vinte e nove"),
        (1000, "mil"),
        (1100, "mil e cem"),
        (1234, "mil duzentos e trinta e quatro"),
        (2020, "dois mil e vinte"),
        (999_999, "novecentos e noventa e nove mil novecentos e noventa e nove"),
    ],
)
def test_numbers_in_words_read_back_as_the_same_number(n: int, words: str) -> None:
    assert say_number(n) == words
    if n >= 3:
        assert [c.value for c in claims(words) if c.kind == "number"] == [str(n)]


@pytest.mark.parametrize(
    ("price", "said", "cents"),
    [
        ("R$ 99,90 por mês", "noventa e nove reais e noventa centavos por mês", 9990),
        ("R$ 1,00", "um real", 100),
        ("R$ 0,50", "cinquenta centavos", 50),
        ("R$ 1.200,5", "mil e duzentos reais e cinquenta centavos", 120050),
        ("a partir de R$80 mensais", "a partir de oitenta reais mensais", 8000),
    ],
)
def test_prices_are_said_in_words_that_read_back_as_the_price(
    price: str, said: str, cents: int
) -> None:
    assert say_price(price) == said
    assert [c.value for c in claims(said) if c.kind == "price"] == [str(cents)]


def test_phones_are_read_out() -> None:
    assert say_phone("(19) 3333-4444") == PHONE.removeprefix("O telefone é ").rstrip(".")
    assert say_phone("0800 606 0000") == "zero oito zero zero, seis zero seis, zero zero zero zero"
    assert say_phone("contato@exemplo.com.br") == "contato@exemplo.com.br"
    with pytest.raises(ValueError, match="out of range"):
        say_number(1_000_000)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Qual é o horário de vocês?", "hours"),
        ("Tem fidelidade?", "faq"),
        ("Onde fica a empresa?", "company"),
        ("Quanto custa o plano de 300 mega?", "price"),
    ],
)
def test_a_fixed_answer_names_what_answered_it(question: str, kind: str) -> None:
    """The kind the worker logs ("answered without the model (company)"), not "hours" for
    every fixed answer."""
    p = plan_without_model(question, FACTS, goodbye="Até logo!")
    assert p is not None
    assert p.action is None
    assert p.kind == kind
