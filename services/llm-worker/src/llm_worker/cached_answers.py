"""The exact texts the worker's fixed answers send to the TTS, for its phrase cache (sans-I/O).

A fixed answer (hours, FAQ, contacts, address and phone, a service's price, keypad;
:mod:`llm_worker.intent`) goes to the TTS cut by the reply's splitter
(:func:`~llm_worker.splitter.split_known`): its first piece (a clause or the first words,
"Nosso horário de atendimento:") is what the caller waits for.
The TTS serves a sentence from its phrase cache only when its text is exactly a registered
phrase, so :func:`answer_pieces` cuts every answer the facts can give with the same
splitter the worker uses at run time and returns the pieces to register: the first piece of
every answer first (the phrase cache keeps the first ``TTS_CACHE_MAX_PHRASES``), then the
rest.

Only answers whose text is fixed by the facts are listed: none depends on the clock (the
hours' "agora" gets the week); "hoje" and "amanhã" depend on the call's date, so they are
listed for the date given (the worker re-registers at each session start, with that day's
date). A question naming several weekdays starts with the single-day sentence of the first
one, so its first piece is listed too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable

from llm_worker import company, faq, hours, menu, prices
from llm_worker.facts import Facts
from llm_worker.splitter import SentenceSplitter, split_known


def fixed_answers(facts: Facts, today: dt.date | None = None) -> list[tuple[str, ...]]:
    """Every static answer the step before the model gives for ``facts``, the ones callers
    ask most first (hours, FAQ and contacts, address and phone, services' prices), the
    keypad's last."""
    answers = [
        *hours.static_answers(facts, today),
        *faq.static_answers(facts),
        *company.company_answers(facts),
        *prices.service_answers(facts),
        *menu.keypad_answers(facts),
    ]
    return list(dict.fromkeys(answers))


def answer_pieces(
    answers: Iterable[tuple[str, ...]],
    splitter: Callable[[], SentenceSplitter],
    *,
    whole: Collection[str] = (),
) -> list[str]:
    """The pieces the worker sends to the TTS for ``answers`` (cut as
    ``split_known(answer, splitter(), whole=whole)`` cuts them at run time), without
    repeats: every answer's first piece, then the others. The phrases in ``whole`` are
    left out (they are registered as they are)."""
    keep = {" ".join(w.split()) for w in whole}
    first: list[str] = []
    rest: list[str] = []
    for answer in answers:
        pieces = split_known(answer, splitter(), whole=whole)
        if pieces:
            first.append(pieces[0])
            rest.extend(pieces[1:])
    return [p for p in dict.fromkeys([*first, *rest]) if " ".join(p.split()) not in keep]
