"""The intent step: transfers and hang-ups decided before the model (sans-I/O).

A small local model forgets to call its tool, calls it with an extension it made up, or
says "vou transferir" and does nothing. So what the caller plainly asks for is decided here,
deterministically, from the caller's words and the facts file's menu:

* **transfer**: the caller asks to be put through ("quero falar com o suporte", "me passa
  para vendas", "ramal 1003") or answers just a department's name ("suporte, por favor"),
  or says yes ("sim", "pode") to the agent's offer that named exactly one department. The
  target is always a menu entry: an extension that is not in the menu is never a target.
* **hang-up**: the caller says goodbye ("tchau", "era só isso, obrigado") and asks nothing.

Anything else (questions, negations, two departments at once) is left to the model, whose
own tool calls are then checked by :mod:`llm_worker.action_guard`.

:func:`plan_without_model` is the whole step before the model, for the worker and the
evaluation bench: the intent, else a question about opening hours (:mod:`llm_worker.hours`),
else an FAQ entry or a contact detail (:mod:`llm_worker.faq`), else the company's address
or phone (:mod:`llm_worker.company`), else the price and contents of the one service the
question names (:mod:`llm_worker.prices`), as a :class:`~llm_worker.menu.Plan` to speak
and perform; None leaves the turn to the model. The order matters: a transfer request that
names a service ("me passa para vendas, quero o plano de 600") transfers, and an FAQ entry
("o plano de 600 tem fidelidade?") wins over the service's price.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from llm_worker.company import company_answer
from llm_worker.facts import Facts, MenuEntry, fold
from llm_worker.faq import faq_answer
from llm_worker.hours import hours_answer
from llm_worker.menu import Plan, transfer_plan
from llm_worker.prices import service_answer
from llm_worker.tools import CallAction


@dataclass(frozen=True, slots=True)
class Transfer:
    entry: MenuEntry


@dataclass(frozen=True, slots=True)
class HangUp:
    pass


Intent = Transfer | HangUp

_WORD = re.compile(r"[a-z0-9]+")
# "Put me through" cues (folded, whole words or word prefixes marked with *).
_ASK = (
    "falar",
    "fala",
    "fale",
    "transfer*",
    "transfira",
    "passa",
    "passe",
    "passar",
    "conect*",
    "encaminh*",
    "ligar",
    "liga",
    "chama",
    "chamar",
    "chame",
    "coloca",
    "colocar",
    "coloque",
    "direcion*",
    "redirecion*",
)
_YES = {
    "sim",
    "pode",
    "podes",
    "quero",
    "claro",
    "isso",
    "ok",
    "okay",
    "beleza",
    "aham",
    "uhum",
    "certo",
    "favor",
    "gostaria",
    "manda",
    "faz",
    "faca",
    "positivo",
}
_NO = {"nao", "nem", "nunca", "jamais"}
_FILLER = {
    "o",
    "a",
    "os",
    "as",
    "pro",
    "pra",
    "para",
    "com",
    "do",
    "da",
    "de",
    "no",
    "na",
    "setor",
    "departamento",
    "area",
    "por",
    "favor",
    "obrigado",
    "obrigada",
    "e",
    "ai",
    "entao",
    "bom",
    "dia",
    "tarde",
    "noite",
    "oi",
    "ola",
    "ramal",
    "quero",
    "um",
    "uma",
    "sim",
    "isso",
    "pode",
    "ser",
    "me",
    "eu",
}
_BYE = (
    ("tchau",),
    ("ate", "logo"),
    ("ate", "mais"),
    ("ate", "breve"),
    ("pode", "desligar"),
    ("nao", "preciso", "de", "mais", "nada"),
    ("era", "so", "isso"),
    ("e", "so", "isso"),
    ("so", "isso", "obrigad*"),
    ("mais", "nada", "obrigad*"),
    ("boa", "noite", "obrigad*"),
    ("falou", "obrigad*"),
    ("adeus",),
)
_QUESTION_WORDS = {
    "qual",
    "quais",
    "quando",
    "onde",
    "como",
    "quanto",
    "quanta",
    "quantos",
    "que",
    "porque",
    "tem",
    "voces",
    "vcs",
}
_OFFER = re.compile(r"\b(posso|quer que eu|gostaria que eu|deseja que eu)\b.*\btransfer")


def _words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _has(words: list[str], pattern: tuple[str, ...]) -> int:
    """Index of ``pattern`` (a word sequence; ``x*`` is a prefix) in ``words``, or -1."""
    n = len(pattern)
    for i in range(len(words) - n + 1):
        if all(
            w.startswith(p[:-1]) if p.endswith("*") else w == p
            for w, p in zip(words[i : i + n], pattern, strict=True)
        ):
            return i
    return -1


def _singular(word: str) -> str:
    """``vendas`` -> ``venda``: the caller (or the STT) may say either."""
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def _mentions(words: list[str], entry: MenuEntry) -> int:
    """Index of the first word that names ``entry`` (name, keyword or extension), or -1;
    singular and plural alike ("venda" names "vendas")."""
    said = [_singular(w) for w in words]
    found = [
        i
        for phrase in (entry.department, *entry.keywords, entry.extension)
        if (i := _has(said, tuple(_singular(w) for w in _words(phrase)))) >= 0 and _words(phrase)
    ]
    return min(found, default=-1)


def _ask_index(words: list[str]) -> int:
    return min((i for cue in _ASK if (i := _has(words, (cue,))) >= 0), default=-1)


def detect_intent(text: str, facts: Facts, *, last_reply: str = "") -> Intent | None:
    """The caller's plain request in ``text``, or None to let the model answer."""
    words = _words(text)
    if not words:
        return None
    mentioned = {}
    for entry in facts.menu:
        i = _mentions(words, entry)
        if i >= 0:
            mentioned[entry.extension] = (i, entry)
    negated = bool(_NO & set(words))
    question = "?" in text or words[0] in _QUESTION_WORDS
    if len(mentioned) == 1 and not negated:
        ((at, entry),) = mentioned.values()
        ask = _ask_index(words)
        if 0 <= ask < at or (ask >= 0 and not question):
            return Transfer(entry)
        rest = [w for w in words if w not in _FILLER]
        if not question and all(_mentions([w], entry) >= 0 or w in _YES for w in rest):
            return Transfer(entry)  # "suporte, por favor"
    if not mentioned and not negated and not question and last_reply:
        offered = _offered(last_reply, facts)
        if offered is not None and set(words) & _YES and len(words) <= 6:
            return Transfer(offered)
    if not question and not mentioned and any(_has(words, bye) >= 0 for bye in _BYE):
        return HangUp()
    return None


def offers_transfer(reply: str) -> bool:
    """Whether ``reply`` offers to transfer ("Se quiser, posso transferir para ...")."""
    return bool(_OFFER.search(fold(reply)))


def _offered(reply: str, facts: Facts) -> MenuEntry | None:
    """The one department the agent offered to transfer to in ``reply``, if any."""
    if not offers_transfer(reply):
        return None
    words = _words(reply)
    named = [e for e in facts.menu if _mentions(words, e) >= 0]
    return named[0] if len(named) == 1 else None


def plan_without_model(
    text: str,
    facts: Facts,
    *,
    goodbye: str,
    last_reply: str = "",
    today: dt.date | None = None,
) -> Plan | None:
    """What to say and do for ``text`` without the model (see the module docstring);
    ``today``: the call's date ("vocês abrem hoje?")."""
    intent = detect_intent(text, facts, last_reply=last_reply)
    if isinstance(intent, Transfer):
        return transfer_plan(intent.entry)
    if isinstance(intent, HangUp):
        return Plan((goodbye,), CallAction(action="hangup"))
    answers: tuple[tuple[str, Callable[[], tuple[str, ...] | None]], ...] = (
        ("hours", lambda: hours_answer(text, facts, today)),
        ("faq", lambda: faq_answer(text, facts)),
        ("company", lambda: company_answer(text, facts)),
        ("price", lambda: service_answer(text, facts)),
    )
    answer: tuple[str, ...] | None = None
    for kind, answer_for in answers:  # the first that answers
        answer = answer_for()
        if answer:
            return Plan(answer, kind=kind)
    # none did: as the ``or`` chain this replaces, the last one's value decides
    return None if answer is None else Plan(answer, kind=answers[-1][0])
