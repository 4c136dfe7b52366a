"""Conversation history: bounded, alternating, trimmed to what the caller heard."""

from __future__ import annotations

import pytest
from llm_worker.errors import HistoryError
from llm_worker.events import Message
from llm_worker.history import History, bound, heard_text, normalize


def test_full_reply_is_recorded() -> None:
    h = History(max_turns=4)
    h.add_user("Qual o horário?")
    h.add_reply(["Abrimos às oito.", "Fechamos às dezoito."])
    assert h.for_request() == (
        Message("user", "Qual o horário?"),
        Message("assistant", "Abrimos às oito. Fechamos às dezoito."),
    )


def test_cancelled_reply_keeps_only_what_was_played() -> None:
    h = History()
    h.add_user("Qual o horário?")
    recorded = h.add_reply(
        ["Abrimos às oito.", "Fechamos às dezoito.", "Aos sábados até meio-dia."],
        played=1,
        interrupted=True,
    )
    assert recorded == "Abrimos às oito…"
    assert h.for_request()[-1] == Message("assistant", "Abrimos às oito…")


def test_reply_nobody_heard_is_dropped_and_user_turns_merge() -> None:
    h = History()
    h.add_user("Quero saber o preço")
    assert h.add_reply(["O preço é cem reais."], played=0, interrupted=True) == ""
    h.add_user("do plano básico")
    assert h.for_request() == (Message("user", "Quero saber o preço\ndo plano básico"),)


def test_history_is_bounded_and_starts_with_user() -> None:
    h = History(max_turns=2)
    for i in range(5):
        h.add_user(f"pergunta {i}")
        h.add_reply([f"resposta {i}."])
    msgs = h.for_request()
    assert [m.content for m in msgs] == ["pergunta 3", "resposta 3.", "pergunta 4", "resposta 4."]
    assert msgs[0].role == "user"
    assert len(h.messages) == 4  # storage is bounded too


def test_bound_drops_leading_assistant_and_empty_messages() -> None:
    msgs = [Message("assistant", "Olá!"), Message("user", " "), Message("user", "oi")]
    assert bound(msgs, 3) == [Message("user", "oi")]
    assert bound(msgs, 0) == []
    assert bound([Message("assistant", "só eu")], 3) == []
    assert normalize([Message("user", "a"), Message("user", "b")]) == [Message("user", "a\nb")]


def test_heard_text_edges() -> None:
    assert heard_text(["A.", "B."], None) == "A. B."
    assert heard_text(["A.", "B."], 5) == "A. B."
    assert heard_text(["A.", "B."], 0, interrupted=True) == ""
    with pytest.raises(ValueError, match="played"):
        heard_text(["A."], -1)


def test_json_round_trip() -> None:
    h = History(max_turns=3)
    h.add_user("Olá, é da recepção?")
    h.add_reply(["Sim, é a recepção."])
    again = History.from_json(h.to_json(), max_turns=3)
    assert again.messages == h.messages
    assert "recepção" in h.to_json()  # stored as UTF-8 text, not \\u escapes


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        "não é json",
        "[]",
        '{"v": 2, "messages": []}',
        '{"v": 1}',
        '{"v": 1, "messages": [{"role": "system", "content": "x"}]}',
        '{"v": 1, "messages": [{"role": "user", "content": 5}]}',
        '{"v": 1, "messages": ["user"]}',
    ],
)
def test_malformed_history_is_rejected(raw: str | bytes) -> None:
    with pytest.raises(HistoryError):
        History.from_json(raw)
