"""Sentence/clause splitting of streamed Portuguese text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_worker.splitter import SentenceSplitter, clean_for_speech


def split(text: str, step: int = 1, **kw: int) -> list[str]:
    s = SentenceSplitter(**kw)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += s.feed(text[i : i + step])
    return out + s.flush()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Olá! Tudo bem?", ["Olá!", "Tudo bem?"]),
        (
            "O Sr. João e a Dra. Ana chegam amanhã. Obrigado.",
            ["O Sr. João e a Dra. Ana chegam amanhã.", "Obrigado."],
        ),
        ("Custa R$ 1.000,50 à vista. Parcelamos.", ["Custa R$ 1.000,50 à vista.", "Parcelamos."]),
        ("Abrimos às 14:30. Fechamos às 18h.", ["Abrimos às 14:30.", "Fechamos às 18h."]),
        ("Bem... deixa eu ver. Certo... Achei!", ["Bem... deixa eu ver.", "Certo...", "Achei!"]),
        ("Espere… Pronto.", ["Espere…", "Pronto."]),
        ("Fica no 3º andar, sala 2ª. Pode subir.", ["Fica no 3º andar, sala 2ª.", "Pode subir."]),
        ("Fale com J. Silva amanhã.", ["Fale com J. Silva amanhã."]),
        ("Fica na Av. Paulista, nº. 1000. Até!", ["Fica na Av. Paulista, nº. 1000.", "Até!"]),
        ("1. Ligue amanhã. 2. Traga o RG.", ["1. Ligue amanhã.", "2. Traga o RG."]),
        ("Ele disse \"sim.\" Depois saiu.", ["Ele disse \"sim.\"", "Depois saiu."]),
        ("O valor é 3.5 mil, ok? Sim.", ["O valor é 3.5 mil, ok?", "Sim."]),
        ("Sério?! Que bom.", ["Sério?!", "Que bom."]),
        ("Linha um\nLinha dois", ["Linha um", "Linha dois"]),
        ("sem pontuação no fim", ["sem pontuação no fim"]),
        ("", []),
        ("   ", []),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    # Clause cutting off: this table is about sentence ends.
    assert split(text, first_clause_min_chars=200) == expected
    assert split(text, step=len(text) or 1, first_clause_min_chars=200) == expected


def test_first_clause_is_emitted_alone_and_only_the_first() -> None:
    text = "Posso ajudar com horários, endereço e preços, claro. Qual a dúvida, senhor?"
    assert split(text) == [
        "Posso ajudar com horários,",
        "endereço e preços, claro.",
        "Qual a dúvida, senhor?",
    ]


def test_short_first_clause_waits_for_more() -> None:
    assert split("Olá, tudo bem?") == ["Olá, tudo bem?"]
    assert split("Olá, tudo bem?", first_clause_min_chars=3) == ["Olá,", "tudo bem?"]


def test_first_clause_comes_out_before_the_rest_arrives() -> None:
    s = SentenceSplitter()
    assert s.feed("Claro, vou verificar") == []
    assert s.feed(" isso, ") == ["Claro, vou verificar isso,"]
    assert s.feed("um momento") == []
    assert s.flush() == ["um momento"]


def test_period_waits_for_the_next_word() -> None:
    s = SentenceSplitter()
    assert s.feed("Ligue amanhã. ") == []  # "amanhã. e" would not be an end
    assert s.feed("Obrigado") == ["Ligue amanhã."]
    assert s.pending.strip() == "Obrigado"


def test_question_mark_does_not_wait_for_the_next_word() -> None:
    s = SentenceSplitter()
    assert s.feed("Tudo bem? ") == ["Tudo bem?"]


def test_numbers_and_times_do_not_split_mid_token() -> None:
    s = SentenceSplitter()
    assert s.feed("São R$ 1.") == []
    assert s.feed("000,") == []
    assert s.feed("50 às 14:") == []
    assert s.feed("30. Ok") == ["São R$ 1.000,50 às 14:30."]


def test_long_sentence_is_cut_at_a_clause_mark() -> None:
    text = ("palavra " * 20).strip() + ", " + ("outra " * 40).strip() + "."
    out = split(text, max_chars=200, first_clause_min_chars=500)
    assert len(out) >= 2
    assert all(len(p) <= 200 for p in out)
    assert " ".join(out) == clean_for_speech(text)


def test_markdown_is_removed_for_speech() -> None:
    assert split("- **Importante**: chegue `cedo`.") == ["Importante: chegue cedo."]
    assert clean_for_speech("  # Título   com  espaços ") == "Título com espaços"


def test_a_number_alone_is_still_spoken() -> None:
    assert split("Qual o ramal? 1002.") == ["Qual o ramal?", "1002."]
    assert split("Ok! ... ") == ["Ok!"]  # punctuation alone is not spoken


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="first_clause_min_chars"):
        SentenceSplitter(first_clause_min_chars=0)
    with pytest.raises(ValueError, match="max_chars"):
        SentenceSplitter(max_chars=5)


REPLIES = [
    "Olá, aqui é a recepção. O Sr. Paulo atende às 14:30, na Av. Brasil, nº 100.",
    "Custa R$ 1.250,90... Quer parcelar? Posso transferir para o ramal 1002!",
    "Bem... deixa eu ver. A Dra. Ana está no 2º andar. Obrigado!\nAté logo.",
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(REPLIES), st.lists(st.integers(1, 7), min_size=1, max_size=30))
def test_chunking_never_changes_the_result(text: str, steps: list[int]) -> None:
    """However the stream is cut into deltas, the sentences are the same."""
    whole = split(text, step=len(text))
    s = SentenceSplitter()
    out: list[str] = []
    i = 0
    k = 0
    while i < len(text):
        n = steps[k % len(steps)]
        out += s.feed(text[i : i + n])
        i += n
        k += 1
    out += s.flush()
    assert out == whole
    assert clean_for_speech(" ".join(out)) == clean_for_speech(text)


@given(st.text(max_size=300))
def test_arbitrary_text_never_loses_words(text: str) -> None:
    out = split(text, step=3)
    spoken = " ".join(out).split()
    original = clean_for_speech(text).split()
    # Only fragments with no letter or digit may be dropped; order is kept.
    assert spoken == [w for w in original if w in spoken]
    assert [w for w in original if any(c.isalnum() for c in w)] == [
        w for w in spoken if any(c.isalnum() for c in w)
    ]
