"""Checks a model's reply against the facts' menu before the caller hears it.

:func:`guard_reply` wraps the events of :func:`llm_worker.reply.reply`:

* a transfer the model asked for goes through only when its extension is in the menu; any
  other (an extension it made up, the conference room 8000) is refused and logged;
* a sentence that promises a transfer ("vou transferir", "transferindo", "vou te passar
  para ...") is held until the reply ends: with an accepted transfer it is replaced by the
  menu's announcement ("Transferindo para suporte, um momento."), otherwise by an offer that
  promises nothing ("Se quiser, posso transferir para ..."); the caller never hears a
  transfer that does not happen; a reply that already offered one ("Se quiser, posso
  transferir ...", the model copying the fallback) does not get it twice;
* with a transfer, a hang-up in the same reply is dropped (the transfer ends the call here).

:func:`promises_transfer` is the sans-I/O test of one sentence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator

from llm_worker.facts import Facts, fold
from llm_worker.intent import offers_transfer
from llm_worker.menu import announcement, offer
from llm_worker.reply import ReplyAction, ReplyEvent, ReplySentence

log = logging.getLogger(__name__)

_OBJ = r"(?:(?:te|lhe|o|a|voce|o senhor|a senhora|sua ligacao|a ligacao|a sua ligacao|seu "
_OBJ += r"atendimento)\s+)?"
_PROMISE = re.compile(
    r"\b(?:"
    rf"vou\s+(?:ja\s+)?{_OBJ}(?:transferir|passar|encaminhar|conectar|direcionar|redirecionar)"
    r"|(?:estou|to|tou|ja\s+estou)\s+(?:te\s+|lhe\s+)?(?:transferindo|passando|encaminhando|"
    r"conectando)"
    r"|transferindo|encaminhando\s+(?:sua|a)\s+ligacao"
    rf"|ja\s+{_OBJ}(?:transfiro|passo|encaminho|conecto)"
    r"|(?:sera|vai\s+ser)\s+(?:transferid|encaminhad|conectad)[oa]"
    r"|(?:vou\s+fazer|farei)\s+a\s+transferencia"
    rf"|(?:vamos|irei)\s+{_OBJ}(?:transferir|encaminhar)"
    r")"
)


_ENDS = re.compile(r"[.!?…]\W*$")


def promises_transfer(sentence: str) -> bool:
    """True when ``sentence`` says a transfer is happening or about to happen."""
    return bool(_PROMISE.search(fold(sentence)))


async def guard_reply(
    events: AsyncGenerator[ReplyEvent, None],
    facts: Facts,
    *,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
) -> AsyncGenerator[ReplyEvent, None]:
    """``events`` with transfers limited to the menu and no empty promises; see module."""
    lg = logger or log
    index = 0
    held: list[str] = []
    transfer: ReplyAction | None = None
    hangup: ReplyAction | None = None
    refused: list[str] = []
    in_promise = False  # a held clause's sentence goes on: hold its rest too
    offered = False  # a sentence already spoken offers a transfer

    def said(text: str, *, apology: bool = False) -> ReplySentence:
        nonlocal index, offered
        index += 1
        offered = offered or offers_transfer(text)
        return ReplySentence(index=index - 1, text=text, apology=apology)

    try:
        async for event in events:
            if isinstance(event, ReplySentence):
                if not event.apology and (in_promise or promises_transfer(event.text)):
                    held.append(event.text)
                    in_promise = not _ENDS.search(event.text)
                else:
                    yield said(event.text, apology=event.apology)
            elif event.action.action == "transfer":
                target = event.action.target or ""
                entry = facts.entry_for_extension(target)
                if entry is None:
                    refused.append(target)
                    lg.warning("refused a transfer to %r: not in the facts' menu", target)
                elif transfer is None:
                    transfer = event
            elif hangup is None:
                hangup = event
    finally:
        await events.aclose()
    if transfer is not None:
        entry = facts.entry_for_extension(transfer.action.target or "")
        assert entry is not None
        if hangup is not None:
            lg.info("the reply both transfers and hangs up: the transfer wins")
        yield said(announcement(entry))
        yield transfer
        return
    if held:
        lg.warning("the reply promised a transfer without one: %r", held[0])
        if not offered:
            yield said(offer(facts))
    elif refused and index == 0:
        yield said(offer(facts))
    if hangup is not None:
        yield hangup
