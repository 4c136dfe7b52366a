"""Actions that happen: the intent step, the guard on the model's transfers and promises,
and the menu-limited tool for Claude (real SDKs against the fake servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llm_worker.action_guard import guard_reply, promises_transfer
from llm_worker.events import ChatRequest, Done, Message, TextDelta, ToolCall
from llm_worker.facts_store import load_facts
from llm_worker.intent import HangUp, Transfer, detect_intent
from llm_worker.menu import keypad_menu, plan_for_digit
from llm_worker.reply import ReplyAction, ReplySentence, reply
from llm_worker.testing import ToolUse
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.tools import CallAction, anthropic_tools, openai_tools

FACTS = load_facts(Path(__file__).resolve().parents[3] / "compose" / "agent" / "fatos.toml")
APOLOGY = "Desculpe."
OFFER = "Se quiser, posso transferir para suporte, vendas ou atendimento."


def target(text: str, last_reply: str = "") -> str | None:
    intent = detect_intent(text, FACTS, last_reply=last_reply)
    if isinstance(intent, Transfer):
        return intent.entry.extension
    return "hangup" if isinstance(intent, HangUp) else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Quero falar com o suporte.", "1002"),
        ("quero falar com o suporte", "1002"),
        ("Oi, me passa pro pessoal de vendas, por favor", "1003"),
        ("Pode me transferir para o setor de vendas?", "1003"),
        ("Posso falar com o suporte técnico?", "1002"),
        ("Suporte, por favor.", "1002"),
        ("vendas", "1003"),
        ("Ramal 1003.", "1003"),
        ("Eu queria falar com uma pessoa.", "1001"),
        ("Quero falar com um atendente", "1001"),
        # left to the model: questions, negations, two departments, unlisted extensions
        ("Qual é o ramal do suporte?", None),
        ("O suporte funciona no sábado?", None),
        ("Não quero falar com vendas, só quero saber o preço.", None),
        ("Quero falar com o suporte ou com vendas.", None),
        ("Me transfere para o ramal 8000.", None),
        ("Qual o endereço de vocês?", None),
        ("Minha internet está lenta.", None),
        ("", None),
        # goodbyes
        ("Era só isso, obrigado.", "hangup"),
        ("Tá bom, tchau!", "hangup"),
        ("Não preciso de mais nada.", "hangup"),
        ("Tchau? Como assim?", None),
    ],
)
def test_intent(text: str, expected: str | None) -> None:
    assert target(text) == expected


def test_yes_to_an_offer_that_named_one_department_transfers_there() -> None:
    offer = "Não tenho essa informação. Posso transferir você para o suporte?"
    assert target("Sim, por favor.", offer) == "1002"
    assert target("pode", offer) == "1002"
    assert target("Não, obrigado.", offer) is None
    assert target("Sim, e qual o horário?", offer) is None
    # an offer naming several departments: the caller must say which
    assert (
        target("Sim.", "Se quiser, posso transferir para suporte, vendas ou atendimento.") is None
    )
    assert target("Sim.", "O suporte atende das 8h às 18h.") is None  # no offer at all


@pytest.mark.parametrize(
    "sentence",
    [
        "Vou transferir sua ligação, um momento.",
        "Vou te passar para o suporte.",
        "Transferindo para vendas.",
        "Estou transferindo você agora.",
        "Já te transfiro.",
        "Sua ligação será transferida para o ramal 1002.",
        "Vou fazer a transferência.",
        "Um momento, vou encaminhar a ligação.",
    ],
)
def test_promises_of_a_transfer(sentence: str) -> None:
    assert promises_transfer(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Posso transferir para o suporte, se quiser.",
        "Quer que eu transfira para vendas?",
        "O suporte atende no ramal 1002.",
        "Não tenho essa informação.",
    ],
)
def test_offers_and_facts_are_not_promises(sentence: str) -> None:
    assert not promises_transfer(sentence)


async def guarded(*script: Any) -> list[ReplySentence | ReplyAction]:
    provider = FakeProvider()
    provider.push([*script, Done("end_turn")])
    request = ChatRequest(system="s", messages=(Message("user", "oi"),))
    return [e async for e in guard_reply(reply(provider, request, apology=APOLOGY), FACTS)]


def texts(events: list[ReplySentence | ReplyAction]) -> list[str]:
    return [e.text for e in events if isinstance(e, ReplySentence)]


def actions(events: list[ReplySentence | ReplyAction]) -> list[CallAction]:
    return [e.action for e in events if isinstance(e, ReplyAction)]


async def test_a_menu_transfer_is_announced_and_goes_through() -> None:
    out = await guarded(
        TextDelta("Claro. Vou transferir você para o financeiro."),
        ToolCall("transfer_call", {"extension": "1002"}),
    )
    # the model's own promise (naming the wrong department) is replaced by the menu's
    assert texts(out) == ["Claro.", "Transferindo para suporte, um momento."]
    assert actions(out) == [CallAction("transfer", "1002")]
    assert isinstance(out[-1], ReplyAction)  # after everything spoken


@pytest.mark.parametrize("extension", ["8000", "1004", "2000", "*99#"])
async def test_an_extension_not_in_the_menu_is_refused(extension: str) -> None:
    out = await guarded(
        TextDelta("Vou transferir para o ramal pedido."),
        ToolCall("transfer_call", {"extension": extension}),
    )
    assert actions(out) == []
    assert texts(out) == ["Se quiser, posso transferir para suporte, vendas ou atendimento."]
    assert not any(promises_transfer(t) for t in texts(out))


async def test_a_refused_silent_transfer_still_says_something() -> None:
    out = await guarded(ToolCall("transfer_call", {"extension": "8000"}))
    assert actions(out) == []
    assert texts(out) == ["Se quiser, posso transferir para suporte, vendas ou atendimento."]


async def test_a_promise_without_the_tool_is_not_spoken() -> None:
    out = await guarded(TextDelta("Entendi o problema. Transferindo para o suporte agora."))
    assert actions(out) == []
    assert texts(out) == [
        "Entendi o problema.",
        "Se quiser, posso transferir para suporte, vendas ou atendimento.",
    ]


async def test_a_reply_that_already_offered_a_transfer_does_not_offer_it_twice() -> None:
    # the evaluation's "ramal 8000": the model copied the offer, then promised a transfer
    out = await guarded(
        TextDelta(f"{OFFER} Vou transferir para o ramal 8000."),
        ToolCall("transfer_call", {"extension": "8000"}),
    )
    assert actions(out) == []
    assert " ".join(texts(out)) == OFFER  # the splitter may cut it into clauses


async def test_the_rest_of_a_promised_sentence_is_held_too() -> None:
    # the splitter hands the first clause alone: "Vou transferir sua ligação," "um momento."
    out = await guarded(
        TextDelta("Vou transferir sua ligação, um momento. O ramal pedido não existe."),
        ToolCall("transfer_call", {"extension": "8000"}),
    )
    assert texts(out) == ["O ramal pedido não existe.", OFFER]


async def test_a_reply_without_actions_passes_unchanged() -> None:
    out = await guarded(TextDelta("Abrimos às oito. Fechamos às seis."))
    assert texts(out) == ["Abrimos às oito.", "Fechamos às seis."]
    assert actions(out) == []


async def test_transfer_and_hangup_in_one_reply_transfer_wins() -> None:
    out = await guarded(ToolCall("hang_up", {}), ToolCall("transfer_call", {"extension": "1003"}))
    assert actions(out) == [CallAction("transfer", "1003")]


async def test_hangup_passes_after_the_text() -> None:
    out = await guarded(TextDelta("Até logo!"), ToolCall("hang_up", {}))
    assert out == [ReplySentence(0, "Até logo!"), ReplyAction(CallAction("hangup"))]


def test_keypad() -> None:
    plan = plan_for_digit(FACTS, "1")
    assert plan.sentences == ("Transferindo para suporte, um momento.",)
    assert plan.action == CallAction("transfer", "1002")
    unknown = plan_for_digit(FACTS, "7")
    assert unknown.action is None
    assert unknown.sentences == (
        "A tecla 7 não está no menu.",
        "Tecle 1 para suporte, 2 para vendas ou 0 para atendimento.",
    )
    assert plan_for_digit(FACTS, "#").sentences[0] == "A tecla jogo da velha não está no menu."
    assert keypad_menu(load_facts(None).__class__(company="x")) == (
        "Não há opções no teclado; diga o que você precisa."
    )


def test_tool_schemas_limit_the_extension_to_the_menu() -> None:
    (transfer,) = [t for t in anthropic_tools(FACTS.extensions) if t["name"] == "transfer_call"]
    assert transfer["input_schema"]["properties"]["extension"]["enum"] == ["1002", "1003", "1001"]
    (fn,) = [t for t in openai_tools(FACTS.extensions) if t["function"]["name"] == "transfer_call"]
    assert fn["function"]["parameters"]["properties"]["extension"]["enum"] == [
        "1002",
        "1003",
        "1001",
    ]
    assert [t["name"] for t in anthropic_tools(())] == ["hang_up"]  # no menu: no transfer tool
    assert "enum" not in str(anthropic_tools())  # not limited when no facts are given


async def test_claude_gets_the_menu_enum_and_its_transfer_is_checked(vendor: Any) -> None:
    request = ChatRequest(
        system="s",
        messages=(Message("user", "quero o suporte"),),
        transfer_targets=FACTS.extensions,
    )
    vendor.server.push(
        ToolUse("transfer_call", {"extension": "1002"}, text=("Vou transferir você agora.",))
    )
    out = [e async for e in guard_reply(reply(vendor.provider, request, apology=APOLOGY), FACTS)]
    body = vendor.server.requests[-1]
    schemas = {
        t.get("name") or t["function"]["name"]: t.get("input_schema") or t["function"]["parameters"]
        for t in body["tools"]
    }
    assert schemas["transfer_call"]["properties"]["extension"]["enum"] == ["1002", "1003", "1001"]
    assert texts(out) == ["Transferindo para suporte, um momento."]
    assert actions(out) == [CallAction("transfer", "1002")]
    # a server that ignores the enum (or a model that breaks it) is still refused
    vendor.server.push(
        ToolUse("transfer_call", {"extension": "8000"}, text=("Transferindo para a sala.",))
    )
    out = [e async for e in guard_reply(reply(vendor.provider, request, apology=APOLOGY), FACTS)]
    assert actions(out) == []
    assert texts(out) == ["Se quiser, posso transferir para suporte, vendas ou atendimento."]
