"""What the agent says and does for the phone menu (sans-I/O).

A :class:`Plan` is a fixed answer the worker speaks without asking the model: its
sentences, then at most one call action. Plans come from the caller's keypad
(:func:`plan_for_digit`) and from the intent step (:mod:`llm_worker.intent`). The phrases
here are also the ones registered for the TTS phrase cache (:func:`menu_phrases`), so a
transfer announcement is played from Redis without synthesis.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_worker.facts import Facts, MenuEntry
from llm_worker.tools import CallAction

DIGIT_NAMES = {"*": "asterisco", "#": "jogo da velha"}
KEYPAD = "0123456789*#"


@dataclass(frozen=True, slots=True)
class Plan:
    sentences: tuple[str, ...]
    action: CallAction | None = None
    entry: MenuEntry | None = None  # the department transferred to, if any
    kind: str = "menu"  # what answered, for the logs: hours, faq, company, price, menu


def announcement(entry: MenuEntry) -> str:
    """What the caller hears right before a transfer."""
    return f"Transferindo para {entry.department}, um momento."


def transfer_plan(entry: MenuEntry) -> Plan:
    return Plan(
        (announcement(entry),), CallAction(action="transfer", target=entry.extension), entry
    )


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} ou {items[-1]}"


def offer(facts: Facts) -> str:
    """An offer to transfer, naming the menu's departments (never a promise)."""
    if not facts.menu:
        return "Não consigo transferir a ligação agora."
    return f"Se quiser, posso transferir para {_join([e.department for e in facts.menu])}."


def keypad_menu(facts: Facts) -> str:
    """The short spoken keypad menu: ``Tecle 1 para suporte ou 2 para vendas.``"""
    keyed = [e for e in facts.menu if e.digit]
    if not keyed:
        return "Não há opções no teclado; diga o que você precisa."
    items = [f"{DIGIT_NAMES.get(e.digit or '', e.digit)} para {e.department}" for e in keyed]
    return f"Tecle {_join(items)}."


def plan_for_digit(facts: Facts, digit: str) -> Plan:
    """A key pressed during the conversation: its department's transfer, or the menu."""
    entry = facts.entry_for_digit(digit)
    if entry is not None:
        return transfer_plan(entry)
    name = DIGIT_NAMES.get(digit, digit)
    return Plan((f"A tecla {name} não está no menu.", keypad_menu(facts)))


def menu_phrases(facts: Facts) -> tuple[str, ...]:
    """Fixed phrases of this menu, for the TTS phrase cache."""
    return (*(announcement(e) for e in facts.menu), keypad_menu(facts), offer(facts))


def keypad_answers(facts: Facts) -> list[tuple[str, ...]]:
    """What each key of the phone's keypad that is not in the menu gets (for the TTS
    phrase cache; a key in the menu gets its transfer announcement, a phrase already)."""
    return [plan_for_digit(facts, d).sentences for d in KEYPAD if facts.entry_for_digit(d) is None]
