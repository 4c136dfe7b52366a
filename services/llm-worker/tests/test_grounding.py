"""Grounded replies: times, prices and numbers read the same in digits and in words
(claims), and a reply that states one the facts do not hold never reaches the caller
(the grounding guard, in front of the action guard)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
from llm_worker.claims import claims, ends_in_number, grounds, unsupported
from llm_worker.events import ChatRequest, Done, Message, TextDelta, ToolCall
from llm_worker.facts import NO_INFO, parse_facts
from llm_worker.facts_store import load_facts
from llm_worker.grounding import checked_reply, ground_reply
from llm_worker.reply import ReplyAction, ReplySentence, reply
from llm_worker.splitter import SentenceSplitter
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.tools import CallAction

FACTS = load_facts(Path(__file__).resolve().parents[3] / "compose" / "agent" / "fatos.toml")
G = grounds(FACTS)
OFFER = "Se quiser, posso transferir para suporte, vendas ou atendimento."


def values(text: str) -> list[tuple[str, str]]:
    return [(c.kind, c.value) for c in claims(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("das 8h às 18h", [("time", "480"), ("time", "1080")]),
        ("das 08:00 às 18:00", [("time", "480"), ("time", "1080")]),
        ("das oito horas às dezoito horas", [("time", "480"), ("time", "1080")]),
        ("das oito da manhã às seis da tarde", [("time", "480"), ("time", "1080")]),
        ("abrimos às 8h30", [("time", "510")]),
        ("abrimos às oito e meia", [("time", "510")]),
        ("às nove horas e quinze minutos", [("time", "555")]),
        ("até o meio-dia", [("time", "720")]),
        ("R$ 129,90 por mês", [("price", "12990")]),
        ("129,90 reais", [("price", "12990")]),
        ("cento e vinte e nove reais e noventa centavos", [("price", "12990")]),
        ("oitenta reais", [("price", "8000")]),
        ("R$ 1.200,50", [("price", "120050")]),
        ("R$ 80", [("price", "8000")]),
        ("o plano de seiscentos megas", [("number", "600")]),
        ("em até três dias úteis", [("number", "3")]),
        ("o ramal mil e dois", [("number", "1002")]),
        ("dois mil e vinte e seis", [("number", "2026")]),
        ("três três três três", [("number", "3333")]),
        ("(19) 3333-4444", [("number", "19"), ("number", "3333"), ("number", "4444")]),
        ("na Rua das Flores", [("street", "flores")]),
        ("Um momento, por favor. Duas opções.", []),
        ("", []),
    ],
)
def test_claims_read_digits_and_words_alike(text: str, expected: list[tuple[str, str]]) -> None:
    assert values(text) == expected


def test_a_time_said_without_the_period_may_be_the_afternoon() -> None:
    (six,) = claims("fechamos às seis")
    assert six.ambiguous
    assert not unsupported("fechamos às seis", G)  # 18h is in the facts
    assert [str(c) for c in unsupported("fechamos às seis da manhã", G)] == ["time 'seis da manha'"]
    assert unsupported("fechamos às 06:00", G)  # digits say what they say


@pytest.mark.parametrize(
    "text",
    [
        "De segunda a sexta, das oito da manhã às seis da tarde.",
        "Aos sábados, das 8h às 12h.",
        "O plano de 600 megas custa R$ 129,90 por mês.",
        "O plano de trezentos megas custa noventa e nove reais e noventa centavos.",
        "A visita técnica fora da garantia custa oitenta reais.",
        "Ficamos na Rua das Flores, 123, Centro, Campinas.",
        "A instalação é feita em até três dias úteis.",
        "O telefone é (19) 3333-4444 e o WhatsApp, dezenove nove nove nove nove nove zero "
        "zero zero zero.",
        "O ramal do suporte é mil e dois.",
        "No dia 31 de dezembro abrimos das 8h ao meio-dia.",
    ],
)
def test_what_the_facts_hold_is_supported(text: str) -> None:
    assert unsupported(text, G) == []


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Funcionamos das 9h às 18h.", ["time"]),
        ("Atendemos 24 horas.", ["time"]),
        ("O plano custa R$ 150,00.", ["price"]),
        ("Custa cento e quarenta e nove reais.", ["price"]),
        ("Ficamos na Avenida Paulista, 1500.", ["street", "number"]),
        ("O plano de 1000 megas é o mais rápido.", ["number"]),
        ("A instalação leva quinze dias.", ["number"]),
    ],
)
def test_what_the_facts_do_not_hold_is_caught(text: str, kinds: list[str]) -> None:
    assert [c.kind for c in unsupported(text, G)] == kinds


def test_grounds_come_from_the_fields_too() -> None:
    facts = parse_facts('[empresa]\nnome = "X"\n[horario]\nsegunda = "07:30-11:45"\n')
    g = grounds(facts)
    assert {450, 705} <= g.times
    assert unsupported("abrimos às sete e meia", g) == []
    assert unsupported("abrimos às sete", g) != []


@pytest.mark.parametrize(
    ("text", "open_"),
    [
        ("O plano custa cento e", True),
        ("O plano custa R$", True),
        ("O preço é 129", True),
        ("Custa cento e vinte", True),
        ("O plano custa cento e vinte.", False),
        ("Funcionamos de segunda", False),
        ("", False),
    ],
)
def test_a_piece_cut_inside_a_number_is_open(text: str, open_: bool) -> None:
    assert ends_in_number(text) is open_


async def run(
    *events: TextDelta | ToolCall, splitter: SentenceSplitter | None = None, question: str = ""
) -> list[ReplySentence | ReplyAction]:
    provider = FakeProvider()
    provider.push([*events, Done("end_turn")])
    request = ChatRequest(system="s", messages=(Message("user", "oi"),))
    source = reply(provider, request, apology="Desculpe.", splitter=splitter)
    return [e async for e in checked_reply(source, FACTS, question=question)]


def texts(events: list[ReplySentence | ReplyAction]) -> list[str]:
    return [e.text for e in events if isinstance(e, ReplySentence)]


async def test_a_grounded_reply_passes_unchanged() -> None:
    out = await run(TextDelta("Abrimos às oito. O plano de 600 megas custa R$ 129,90."))
    assert texts(out) == ["Abrimos às oito.", "O plano de 600 megas custa R$ 129,90."]
    assert [e.index for e in out if isinstance(e, ReplySentence)] == [0, 1]


async def test_an_invented_hour_is_replaced_by_the_fallback_and_the_rest_dropped() -> None:
    out = await run(TextDelta("Claro! Funcionamos das 9h às 18h. Aos domingos, das 10h às 14h."))
    assert texts(out) == ["Claro!", NO_INFO, OFFER]


async def test_an_invented_price_in_words_is_caught() -> None:
    out = await run(TextDelta("O plano custa cento e quarenta e nove reais por mês."))
    assert texts(out) == [NO_INFO, OFFER]


async def test_a_number_cut_between_two_pieces_is_read_whole() -> None:
    # the first piece is released after six words, inside the price: "cento e vinte" alone
    # would be an invented 120
    split = SentenceSplitter(first_words_min=3, first_words_max=6)
    out = await run(
        TextDelta("O plano de seiscentos custa cento e vinte e nove reais e noventa centavos."),
        splitter=split,
    )
    assert " ".join(texts(out)) == (
        "O plano de seiscentos custa cento e vinte e nove reais e noventa centavos."
    )
    assert NO_INFO not in texts(out)


async def test_actions_pass_a_replaced_reply() -> None:
    out = await run(TextDelta("O técnico chega em 45 minutos."), ToolCall("hang_up", {}))
    assert texts(out) == [NO_INFO, OFFER]
    assert out[-1] == ReplyAction(CallAction("hangup"))


async def test_the_apology_is_never_checked() -> None:
    provider = FakeProvider()
    from llm_worker.errors import ProviderError

    provider.push(ProviderError("boom", retryable=False))
    request = ChatRequest(system="s", messages=(Message("user", "oi"),))
    out = [e async for e in ground_reply(reply(provider, request, apology="Erro 500."), FACTS)]
    assert out == [ReplySentence(0, "Erro 500.", apology=True)]


async def test_the_fallback_without_an_offer_gets_the_offer() -> None:
    out = await run(TextDelta("Não tenho essa informação."))
    assert texts(out) == [NO_INFO, OFFER]
    out = await run(TextDelta("Não tenho essa informação. Posso transferir para vendas?"))
    assert texts(out) == [NO_INFO, "Posso transferir para vendas?"]


async def test_the_fallback_cut_in_two_pieces_is_seen() -> None:
    split = SentenceSplitter(first_words_min=3, first_words_max=3)
    out = await run(TextDelta("Não tenho essa informação."), splitter=split)
    assert texts(out) == ["Não tenho essa", "informação.", OFFER]


async def test_no_offer_is_added_to_a_transfer() -> None:
    out = await run(
        TextDelta("Não tenho essa informação."), ToolCall("transfer_call", {"extension": "1001"})
    )
    assert texts(out) == [NO_INFO, "Transferindo para atendimento, um momento."]
    assert out[-1] == ReplyAction(CallAction("transfer", "1001"))


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Vocês têm plano de TV a cabo?", "Sim, temos plano de TV a cabo."),
        ("Vocês aceitam pagamento em bitcoin?", "Sim, aceitamos pagamento em Bitcoin."),
        ("Vocês vendem celular?", "Não vendemos celular."),
        (
            "Vocês fazem portabilidade do meu celular?",
            "Claro, posso ajudar com a portabilidade do seu celular.",
        ),
    ],
)
async def test_a_yes_or_no_about_what_the_facts_never_mention_is_the_fallback(
    question: str, answer: str
) -> None:
    # cut after three words, as the worker's splitter does: the sentence is held whole
    split = SentenceSplitter(first_words_min=3, first_words_max=3)
    out = await run(TextDelta(answer), splitter=split, question=question)
    assert texts(out) == [NO_INFO, OFFER]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Vocês têm WhatsApp?", "Sim, o WhatsApp é (19) 99999-0000."),
        ("Tem fidelidade?", "Não, os planos não têm fidelidade."),
        ("Qual é o telefone fixo?", "O telefone fixo é (19) 3333-4444."),
        ("Vocês têm plano de TV a cabo?", "Temos planos de 300 e 600 megas."),
    ],
)
async def test_answers_about_what_the_facts_hold_pass(question: str, answer: str) -> None:
    out = await run(TextDelta(answer), question=question)
    assert " ".join(texts(out)) == answer


async def test_a_yes_whose_topic_comes_in_the_second_sentence_is_the_fallback() -> None:
    out = await run(
        TextDelta("Claro, posso fazer isso. Por favor, me passe o número do seu celular."),
        question="Vocês fazem portabilidade do número do meu celular?",
    )
    assert texts(out) == [NO_INFO, OFFER]


async def test_a_yes_about_what_the_facts_hold_is_spoken_after_the_reply_ends() -> None:
    out = await run(
        TextDelta("Sim, temos WhatsApp. O número é (19) 99999-0000."),
        question="Vocês têm WhatsApp e fazem portabilidade?",
    )
    assert texts(out) == ["Sim, temos WhatsApp.", "O número é (19) 99999-0000."]


# The shipped splitter's early release (LLM_FIRST_WORDS_MIN=3, LLM_FIRST_WORDS_MAX=6,
# LLM_CLAUSE_MIN_CHARS=24): the first words of a sentence are a piece of their own.
EARLY = {"first_words_min": 3, "first_words_max": 6, "clause_min_chars": 24}


async def test_no_word_of_a_replaced_sentence_reaches_the_caller() -> None:
    """The first words go out before the number that gets the sentence replaced: the
    caller must hear the fallback alone, not "A velocidade de upload" and then it."""
    assert SentenceSplitter(**EARLY).feed("A velocidade de upload é de ") == [
        "A velocidade de upload"
    ]
    out = await run(
        TextDelta("A velocidade de upload é de 500 megas."), splitter=SentenceSplitter(**EARLY)
    )
    assert texts(out) == [NO_INFO, OFFER]


async def test_no_clause_of_a_replaced_sentence_reaches_the_caller() -> None:
    text = "Claro. O plano mais rápido vem com roteador Wi-Fi incluso, e a instalação custa R$ 150."
    split = SentenceSplitter(**EARLY)
    assert split.feed(text)[1] == "O plano mais rápido vem com roteador Wi-Fi incluso,"
    out = await run(TextDelta(text), splitter=SentenceSplitter(**EARLY))
    assert texts(out) == ["Claro.", NO_INFO, OFFER]


async def test_a_grounded_sentence_goes_on_in_the_pieces_it_was_cut_into() -> None:
    """Holding a sentence until it is checked keeps its cut: the TTS still gets the short
    first words on their own, and nothing is lost or added."""
    reply_text = "Nosso plano mais rápido custa R$ 129,90 por mês, com roteador Wi-Fi 6 incluso."
    split = SentenceSplitter(**EARLY)
    pieces = [*split.feed(reply_text), *split.flush()]
    assert pieces[0] == "Nosso plano mais rápido"
    out = await run(TextDelta(reply_text), splitter=SentenceSplitter(**EARLY))
    assert texts(out) == pieces


async def test_a_sentence_is_released_as_soon_as_it_ends() -> None:
    """The pieces of a sentence wait for its end, and not for anything after it."""
    pulled: list[str] = []
    pieces = ["O plano mais rápido", "custa R$ 129,90 por mês.", "O outro plano", "custa R$ 99,90."]

    async def source() -> AsyncGenerator[ReplySentence, None]:
        for i, text in enumerate(pieces):
            pulled.append(text)
            yield ReplySentence(i, text)

    released = [
        (e.text, len(pulled))
        async for e in ground_reply(source(), FACTS)
        if isinstance(e, ReplySentence)
    ]
    assert released == [(pieces[0], 2), (pieces[1], 2), (pieces[2], 4), (pieces[3], 4)]


async def test_a_transfer_promise_cut_early_is_never_heard_in_part() -> None:
    """The early words of a promise that no transfer follows ("Certo, eu vou") are not
    spoken before the action guard replaces the promise with the offer."""
    split = SentenceSplitter(first_words_min=2, first_words_max=3)
    assert split.feed("Certo, eu vou transferir ")[0] == "Certo, eu vou"
    out = await run(
        TextDelta("Certo, eu vou transferir você para o setor financeiro."),
        splitter=SentenceSplitter(first_words_min=2, first_words_max=3),
    )
    assert texts(out) == [OFFER]
