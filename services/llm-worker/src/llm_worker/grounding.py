"""The grounding guard: no time, price or number the facts do not hold reaches the caller.

The facts are in the system prompt and the persona forbids inventing, yet a small local
model still says "das 9h às 18h" or "R$ 150" that no fact backs. :func:`ground_reply`
wraps the events of :func:`llm_worker.reply.reply` and checks each sentence with
:mod:`llm_worker.claims` before it is spoken:

* the guard decides per sentence, before any of its words reach the TTS: the pieces the
  splitter releases early (the first 3-6 words, a clause) are held until their sentence
  ends and then checked together; a sentence that passes goes on in the pieces it was cut
  into (the TTS still gets a short first clause), so the caller never hears the start of
  a sentence that is then replaced ("A velocidade de upload... Não tenho essa
  informação.");
* a sentence whose times, prices, numbers and street names are all in the facts goes on
  as it is (a piece that ends inside a number, "custa cento e", is joined to the next
  piece, so the number is read and spoken whole); a sentence that promises a transfer is
  left to the action guard, whole, which never speaks it as it is;
* the first sentence that states one the facts do not back is replaced by the fallback,
  ``"Não tenho essa informação."`` and an offer to transfer to the menu's departments, and
  the rest of the reply's text is dropped (it builds on what was invented); call actions
  still pass, to :func:`llm_worker.action_guard.guard_reply`;
* a yes/no answer ("Sim, temos ...", "Não vendemos ...", "Claro, posso ...") about something
  the caller named and the facts never mention ("TV a cabo", "bitcoin", "celular") is
  replaced by the fallback too: the facts cannot back a yes or a no about it. When the
  caller named such a topic and the reply starts with a yes or a no, the whole reply is
  held and checked against the caller's words (``question``) once it ends ("Claro, posso
  fazer isso. Me passe o número do seu celular." names it in its second sentence);
* a reply that says "Não tenho essa informação" but offers nothing, and does not transfer,
  ends with the offer to transfer (the persona asks for it; a small model forgets).

:func:`checked_reply` is the whole check the worker applies to a model's reply: grounding,
then the action guard.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncGenerator

from llm_worker.action_guard import guard_reply, promises_transfer
from llm_worker.claims import (
    PLAIN_STEMS,
    STEM,
    Grounds,
    ends_in_number,
    grounds,
    stems,
    unsupported,
)
from llm_worker.facts import NO_INFO, Facts, fold
from llm_worker.intent import offers_transfer
from llm_worker.menu import offer
from llm_worker.reply import ReplyAction, ReplyEvent, ReplySentence
from llm_worker.splitter import ends_sentence

log = logging.getLogger(__name__)

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


@functools.lru_cache(maxsize=4)
def facts_grounds(facts: Facts) -> Grounds:
    """The facts' values, read once per version of the facts."""
    return grounds(facts)


def unknown_topics(question: str, g: Grounds) -> set[str]:
    """The caller's words (first 5 letters) that name something the facts never mention."""
    known = {w[:STEM] for w in g.words}
    return stems(question) - known - PLAIN_STEMS


def _yes_or_no(text: str) -> bool:
    return re.match(r"\W*(sim|nao|claro|com certeza)\b", fold(text)) is not None


def fallback(facts: Facts) -> tuple[str, ...]:
    """What the caller hears instead of an answer the facts do not back."""
    return (NO_INFO, offer(facts))


async def ground_reply(
    events: AsyncGenerator[ReplyEvent, None],
    facts: Facts,
    *,
    question: str = "",
    logger: Logger | None = None,
) -> AsyncGenerator[ReplyEvent, None]:
    """``events`` with every sentence backed by the facts; see the module docstring.
    ``question``: what the caller said (for yes/no answers about unknown topics)."""
    lg = logger or log
    g = facts_grounds(facts)
    unknown = unknown_topics(question, g) if question else set()
    index = 0
    sentence: list[str] = []  # the pieces of the sentence under way, held until it ends
    replaced = False
    spoken: list[str] = []  # pieces may cut a phrase: "Não tenho essa" "informação."
    holding: list[str] = []  # a yes/no reply when the caller named an unknown topic
    actions: list[ReplyAction] = []  # reply() yields them after the text: so do we

    def said(text: str, *, apology: bool = False) -> ReplySentence:
        nonlocal index
        index += 1
        return ReplySentence(index=index - 1, text=text, apology=apology)

    def check(pieces: list[str]) -> list[ReplySentence]:
        """One whole sentence (its pieces): its pieces, the sentence whole when it promises
        a transfer (for the action guard), or the fallback."""
        nonlocal replaced
        text = " ".join(pieces)
        if promises_transfer(text):
            spoken.append(text)
            return [said(text)]
        bad = sorted({c.kind for c in unsupported(text, g)})
        if not bad:
            spoken.extend(pieces)
            return [said(p) for p in pieces]
        replaced = True
        lg.warning("reply replaced by the fallback: it states %s not in the facts", bad)
        return [said(t) for t in fallback(facts)]

    def release() -> list[ReplySentence]:
        pieces = sentence[:]
        sentence.clear()
        return check(pieces) if pieces else []

    def feed(piece: str) -> list[ReplySentence]:
        """One piece: held until its sentence ends, then the sentence is checked."""
        if replaced:
            return []
        if sentence and ends_in_number(sentence[-1]):
            sentence[-1] = f"{sentence[-1]} {piece}"  # "custa cento e" + "vinte reais."
        else:
            sentence.append(piece)
        if ends_sentence(piece) and not ends_in_number(sentence[-1]):
            return release()
        return []

    try:
        async for event in events:
            if isinstance(event, ReplyAction):
                actions.append(event)
            elif event.apology:
                sentence.clear()
                yield said(event.text, apology=True)
            elif holding or (not spoken and not sentence and unknown and _yes_or_no(event.text)):
                holding.append(event.text)  # a yes or no: judged once the reply is whole
            else:
                for out in feed(event.text):
                    yield out
        transfers = any(a.action.action == "transfer" for a in actions)
        about = " ".join(p for p in holding if not promises_transfer(p))  # promises: the guard's
        if holding and not transfers and unknown & stems(about):
            replaced = True
            lg.warning("reply replaced by the fallback: a yes or no about a topic not in the facts")
            for text in fallback(facts):
                yield said(text)
        for piece in holding:
            for out in feed(piece):
                yield out
        if not replaced:
            for out in release():  # the reply ended inside a sentence
                yield out
        whole = " ".join(spoken)
        no_info = fold(NO_INFO).rstrip(".") in fold(whole)
        if no_info and not offers_transfer(whole) and not transfers and not replaced:
            yield said(offer(facts))
        for action in actions:
            yield action
    finally:
        await events.aclose()


def checked_reply(
    events: AsyncGenerator[ReplyEvent, None],
    facts: Facts,
    *,
    question: str = "",
    logger: Logger | None = None,
) -> AsyncGenerator[ReplyEvent, None]:
    """A model's reply to ``question`` as the caller may hear it: grounded in the facts,
    then with its transfers limited to the menu and no promise of a transfer that does
    not happen."""
    grounded = ground_reply(events, facts, question=question, logger=logger)
    return guard_reply(grounded, facts, logger=logger)
