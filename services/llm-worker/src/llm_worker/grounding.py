"""The grounding guard: no time, price or number the facts do not hold reaches the caller.

The facts are in the system prompt and the persona forbids inventing, yet a small local
model still says "das 9h às 18h" or "R$ 150" that no fact backs. :func:`ground_reply`
wraps the events of :func:`llm_worker.reply.reply` and checks each sentence with
:mod:`llm_worker.claims` before it is spoken:

* a sentence whose times, prices, numbers and street names are all in the facts goes on
  as it is (a piece that ends inside a number, "custa cento e", waits for the next piece
  and is checked with it);
* the first sentence that states one the facts do not back is replaced by the fallback,
  ``"Não tenho essa informação."`` and an offer to transfer to the menu's departments, and
  the rest of the reply's text is dropped (it builds on what was invented); call actions
  still pass, to :func:`llm_worker.action_guard.guard_reply`;
* a reply that says "Não tenho essa informação" but offers nothing, and does not transfer,
  ends with the offer to transfer (the persona asks for it; a small model forgets).

:func:`checked_reply` is the whole check the worker applies to a model's reply: grounding,
then the action guard.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator

from llm_worker.action_guard import guard_reply
from llm_worker.claims import Grounds, ends_in_number, grounds, unsupported
from llm_worker.facts import NO_INFO, Facts, fold
from llm_worker.intent import offers_transfer
from llm_worker.menu import offer
from llm_worker.reply import ReplyAction, ReplyEvent, ReplySentence

log = logging.getLogger(__name__)

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


@functools.lru_cache(maxsize=4)
def facts_grounds(facts: Facts) -> Grounds:
    """The facts' values, read once per version of the facts."""
    return grounds(facts)


def fallback(facts: Facts) -> tuple[str, ...]:
    """What the caller hears instead of an answer the facts do not back."""
    return (NO_INFO, offer(facts))


async def ground_reply(
    events: AsyncGenerator[ReplyEvent, None], facts: Facts, *, logger: Logger | None = None
) -> AsyncGenerator[ReplyEvent, None]:
    """``events`` with every sentence backed by the facts; see the module docstring."""
    lg = logger or log
    g = facts_grounds(facts)
    index = 0
    pending = ""
    replaced = False
    no_info = fold(NO_INFO).rstrip(".")
    said_no_info = offered = False
    actions: list[ReplyAction] = []  # reply() yields them after the text: so do we

    def said(text: str, *, apology: bool = False) -> ReplySentence:
        nonlocal index
        index += 1
        return ReplySentence(index=index - 1, text=text, apology=apology)

    def check(text: str) -> list[ReplySentence]:
        nonlocal replaced, said_no_info, offered
        bad = unsupported(text, g)
        if not bad:
            said_no_info = said_no_info or no_info in fold(text)
            offered = offered or offers_transfer(text)
            return [said(text)]
        replaced = True
        lg.warning(
            "reply replaced by the fallback: it states %s not in the facts",
            ", ".join(sorted({c.kind for c in bad})),
        )
        return [said(t) for t in fallback(facts)]

    try:
        async for event in events:
            if isinstance(event, ReplyAction):
                actions.append(event)
            elif event.apology:
                pending = ""
                yield said(event.text, apology=True)
            elif not replaced:
                text = f"{pending} {event.text}" if pending else event.text
                if ends_in_number(text):
                    pending = text
                    continue
                pending = ""
                for sentence in check(text):
                    yield sentence
        if pending and not replaced:
            for sentence in check(pending):
                yield sentence
        transfers = any(a.action.action == "transfer" for a in actions)
        if said_no_info and not offered and not transfers and not replaced:
            yield said(offer(facts))
        for action in actions:
            yield action
    finally:
        await events.aclose()


def checked_reply(
    events: AsyncGenerator[ReplyEvent, None], facts: Facts, *, logger: Logger | None = None
) -> AsyncGenerator[ReplyEvent, None]:
    """A model's reply as the caller may hear it: grounded in the facts, then with its
    transfers limited to the menu and no promise of a transfer that does not happen."""
    return guard_reply(ground_reply(events, facts, logger=logger), facts, logger=logger)
