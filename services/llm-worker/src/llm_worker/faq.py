"""FAQ entries and contact details answered from the facts, without the model (sans-I/O).

Measured on the evaluation set (docs/perf/agent-eval.md), the local 1.5B model answered
"Tem fidelidade?" with "Não tenho essa informação." although the FAQ holds the answer,
and "Vocês têm WhatsApp?" with "Sim, eu tenho WhatsApp." without the number. So:

* **FAQ**: a caller's words that name a topic only one FAQ entry holds (a word of its
  question or answer, compared on its first 5 letters, that appears nowhere else in the
  facts and is not a plain word like "quanto" or "empresa": "fidelidade", "multa",
  "instalação") get that entry's answer, as the operator wrote it. A word the facts use in
  several places ("cancelar": the FAQ and the menu's "cancelamento"; "plano": the services)
  picks nothing: the model answers;
* **contacts**: a caller who names the WhatsApp, the site or the e-mail gets it from the
  facts, a phone number read out digit by digit ("O WhatsApp é dezenove, nove nove nove
  nove nove, zero zero zero zero.", :func:`llm_worker.spoken.say_phone`). The company's
  phone and address are :mod:`llm_worker.company`'s ("o telefone do suporte?" is not the
  company's phone: that module leaves it to the model).
"""

from __future__ import annotations

import re
from collections import Counter

from llm_worker.claims import PLAIN_STEMS, stems
from llm_worker.facts import Facts, FaqEntry, fold
from llm_worker.spoken import say_phone

_CONTACTS = {
    "whatsapp": ("WhatsApp", ("whatsapp", "whats", "zap", "zapzap")),
    "site": ("site", ("site", "website")),
    "email": ("e-mail", ("email", "mail")),
}


def _units(facts: Facts) -> list[str]:
    """The facts as separate texts, one per thing they describe."""
    return [
        facts.company,
        facts.address,
        facts.about,
        *(v for _, v in facts.phones),
        *(f"{s.name} {s.price} {s.description}" for s in facts.services),
        *(f"{e.department} {e.description} {' '.join(e.keywords)}" for e in facts.menu),
        *(h.name for h in facts.holidays),
        *(f"{f.question} {f.answer}" for f in facts.faq),
    ]


def _distinctive(facts: Facts) -> list[tuple[FaqEntry, set[str]]]:
    """Each FAQ entry with the stems no other part of the facts uses."""
    seen: Counter[str] = Counter()
    for unit in _units(facts):
        seen.update(stems(unit))
    return [
        (f, {s for s in stems(f"{f.question} {f.answer}") if seen[s] == 1} - PLAIN_STEMS)
        for f in facts.faq
    ]


def _contact(key: str, value: str) -> tuple[str, ...]:
    return (f"O {_CONTACTS[key][0]} é {say_phone(value)}.",)  # a phone number read out


def faq_answer(text: str, facts: Facts) -> tuple[str, ...] | None:
    """The answer the facts hold for ``text`` (FAQ entry or contact), or None."""
    said = stems(text)
    words = set(re.findall(r"[a-z]+", fold(text)))
    phones = dict(facts.phones)
    named = [key for key, (_, cues) in _CONTACTS.items() if words & set(cues)]
    if len(named) == 1 and named[0] in phones:
        return _contact(named[0], phones[named[0]])
    matches = [f for f, distinctive in _distinctive(facts) if distinctive & said]
    if len(matches) == 1:
        return (matches[0].answer,)
    return None


def static_answers(facts: Facts) -> list[tuple[str, ...]]:
    """Every answer :func:`faq_answer` can give for ``facts`` (for the TTS phrase cache):
    each contact the facts hold, then each FAQ entry's answer."""
    phones = dict(facts.phones)
    answers = [_contact(key, phones[key]) for key in _CONTACTS if key in phones]
    answers += [(f.answer,) for f in facts.faq]
    return list(dict.fromkeys(answers))
