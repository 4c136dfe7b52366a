"""Sentence/clause splitting of streamed Portuguese text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_worker.splitter import SentenceSplitter, clean_for_speech, ends_sentence, split_known


def split(text: str, step: int = 1, **kw: int) -> list[str]:
    s = SentenceSplitter(**kw)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += s.feed(text[i : i + step])
    return out + s.flush()


def assert_chunking_keeps_the_result(text: str, steps: list[int], **kw: int) -> None:
    """Fed in deltas of the sizes ``steps`` (cycled), the splitter gives the sentences it
    gives for the whole text at once, and loses no word."""
    whole = split(text, step=len(text), **kw)
    s = SentenceSplitter(**kw)
    out: list[str] = []
    i = k = 0
    while i < len(text):
        n = steps[k % len(steps)]
        out += s.feed(text[i : i + n])
        i += n
        k += 1
    out += s.flush()
    assert out == whole
    assert clean_for_speech(" ".join(out)) == clean_for_speech(text)


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
        ('Ele disse "sim." Depois saiu.', ['Ele disse "sim."', "Depois saiu."]),
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
    assert_chunking_keeps_the_result(text, steps)


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


# -- the first words at once, then clauses (LLM_FIRST_WORDS_MIN/MAX, LLM_CLAUSE_MIN_CHARS) --

WORDS = {"first_words_min": 3, "first_words_max": 6}


@pytest.mark.parametrize(
    ("text", "first"),
    [
        # 3 words, the 3rd can end a phrase: out without any punctuation
        ("Nosso horário começa às oito da manhã.", "Nosso horário começa"),
        # "de"/"que"/"a" cannot end a phrase: wait for the next word
        ("Eu posso verificar isso para você agora mesmo.", "Eu posso verificar"),
        ("Vou transferir a sua ligação para o atendimento.", "Vou transferir a sua ligação"),
        # a clause mark among the first words ends the piece there
        ("Claro, vou verificar isso agora mesmo para você.", "Claro, vou verificar"),
        ("Posso ajudar com horários, endereço e preços.", "Posso ajudar com horários,"),
        # the word after a clause mark opens a clause: not cut right after it
        ("Bom dia, tudo bem com você hoje?", "Bom dia, tudo bem"),
        # a sentence end comes first
        ("Olá! Em que posso ajudar hoje?", "Olá!"),
        # six words at most, even if each is weak
        ("de que a o em um para com sem mais", "de que a o em um"),
        # never after an abbreviation or an initial
        ("O Sr. João Silva atende amanhã cedo.", "O Sr. João"),
        ("Fale com J. Silva amanhã de manhã.", "Fale com J. Silva"),
        # numbers and times are words: never cut inside
        ("Custa R$ 1.000,50 à vista, ok?", "Custa R$ 1.000,50"),
        # too short for three words: the whole reply
        ("Sim, claro.", "Sim, claro."),
    ],
)
def test_first_words_go_out_before_any_punctuation(text: str, first: str) -> None:
    out = split(text, **WORDS)
    assert out[0] == first
    assert " ".join(out) == clean_for_speech(text)  # nothing lost, no word cut
    assert all(w in text.split() for piece in out for w in piece.split())


def test_first_words_come_out_as_soon_as_the_next_word_starts() -> None:
    s = SentenceSplitter(**WORDS)
    assert s.feed("Nosso horário começa") == []  # "começa" may still grow: "começamos"
    assert s.feed(" ") == ["Nosso horário começa"]
    assert s.feed("às oito, e fecha") == []  # later pieces: sentences only by default
    assert s.flush() == ["às oito, e fecha"]


def test_only_the_first_piece_is_cut_by_words() -> None:
    text = "Nosso horário começa às oito. Depois disso o atendimento segue normal até tarde."
    assert split(text, **WORDS) == [
        "Nosso horário começa",
        "às oito.",
        "Depois disso o atendimento segue normal até tarde.",
    ]


def test_later_clauses_need_clause_min_chars() -> None:
    text = "Claro. Posso ajudar com horários, endereço e preços da loja, mas não com reservas."
    assert split(text, clause_min_chars=30) == [
        "Claro.",
        "Posso ajudar com horários, endereço e preços da loja,",
        "mas não com reservas.",
    ]
    assert split(text) == [  # 0: later pieces end at sentence ends only
        "Claro.",
        "Posso ajudar com horários, endereço e preços da loja, mas não com reservas.",
    ]
    assert split(text, clause_min_chars=24)[1] == "Posso ajudar com horários,"
    assert split("Claro. Sim, sim, sim, sim.", clause_min_chars=24) == [
        "Claro.",
        "Sim, sim, sim, sim.",
    ]


def test_words_off_by_default_and_parameters_checked() -> None:
    text = "Nosso horário começa às oito da manhã."
    assert split(text) == [text]
    with pytest.raises(ValueError, match="first_words"):
        SentenceSplitter(first_words_min=-1)
    with pytest.raises(ValueError, match="first_words"):
        SentenceSplitter(first_words_min=5, first_words_max=4)
    with pytest.raises(ValueError, match="clause_min_chars"):
        SentenceSplitter(clause_min_chars=-1)


@pytest.mark.parametrize(
    ("piece", "ends"),
    [
        ("Olá!", True),
        ("às oito.", True),
        ('Ele disse "sim."', True),
        ("Tudo bem?)", True),
        ("Nosso horário começa", False),
        ("Claro,", False),
        ("Bem…", True),
        ("1.000,50", False),
    ],
)
def test_ends_sentence(piece: str, ends: bool) -> None:
    assert ends_sentence(piece) is ends


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([*REPLIES, "Nosso horário começa às oito, e fecha às dezoito horas."]),
    st.lists(st.integers(1, 7), min_size=1, max_size=30),
)
def test_word_mode_chunking_never_changes_the_result(text: str, steps: list[int]) -> None:
    assert_chunking_keeps_the_result(text, steps, **WORDS, clause_min_chars=24)


@given(st.text(max_size=300))
def test_word_mode_never_loses_or_cuts_words(text: str) -> None:
    out = split(text, step=3, **WORDS, clause_min_chars=10)
    original = clean_for_speech(text).split()
    spoken = " ".join(out).split()
    assert [w for w in original if any(c.isalnum() for c in w)] == [
        w for w in spoken if any(c.isalnum() for c in w)
    ]


def test_a_text_known_in_full_is_cut_as_if_streamed_but_its_phrases_stay_whole() -> None:
    """A fixed answer's sentences: the first clause alone, the rest by sentences; a phrase
    of the TTS cache (matched with its white space collapsed) is one piece, as written."""
    address = "Ficamos na Rua das Flores, 123, Centro, Campinas, São Paulo."
    goodbye = "Obrigado pela ligação. Até logo!"
    whole = ["Obrigado pela  ligação. Até logo!"]
    pieces = split_known([address, goodbye, "Tchau. Até mais."], SentenceSplitter(), whole=whole)
    assert pieces == [
        "Ficamos na Rua das Flores,",
        "123, Centro, Campinas, São Paulo.",
        goodbye,
        "Tchau.",
        "Até mais.",
    ]
    streamed = SentenceSplitter()
    assert split_known([address], SentenceSplitter()) == streamed.feed(address) + streamed.flush()
