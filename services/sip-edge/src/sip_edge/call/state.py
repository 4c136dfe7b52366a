"""The life of one call, as a state machine (pure).

::

    INCOMING --answer--> ANSWERING --media up--> ACTIVE --hangup (either side)--> ENDING
       |                    |                      |  ^                              |
       | busy / draining    | failure              |  | transfer failed              v
       v                    v                      v  |                           ENDED
     ENDED               ENDING               TRANSFERRING --transfer done--> ENDING

``ACTIVE`` is full duplex: the caller is listened to while the agent speaks (barge-in is a
matter of :mod:`sip_edge.call.turns`, not a call state). Every move goes through
:meth:`CallMachine._transition`, which rejects the moves the diagram does not have and logs
one line per ``old -> new``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["CallMachine", "CallState", "IllegalTransition"]


class CallState(enum.Enum):
    INCOMING = "incoming"
    ANSWERING = "answering"
    ACTIVE = "active"
    TRANSFERRING = "transferring"
    ENDING = "ending"
    ENDED = "ended"


_ALLOWED: Mapping[CallState, frozenset[CallState]] = {
    CallState.INCOMING: frozenset({CallState.ANSWERING, CallState.ENDED}),
    CallState.ANSWERING: frozenset({CallState.ACTIVE, CallState.ENDING, CallState.ENDED}),
    CallState.ACTIVE: frozenset({CallState.TRANSFERRING, CallState.ENDING, CallState.ENDED}),
    CallState.TRANSFERRING: frozenset({CallState.ACTIVE, CallState.ENDING, CallState.ENDED}),
    CallState.ENDING: frozenset({CallState.ENDED}),
    CallState.ENDED: frozenset(),
}


class IllegalTransition(RuntimeError):
    def __init__(self, old: CallState, new: CallState) -> None:
        super().__init__(f"illegal call transition {old.value} -> {new.value}")
        self.old = old
        self.new = new


class CallMachine:
    def __init__(self, log: logging.LoggerAdapter[Any] | logging.Logger | None = None) -> None:
        self.state = CallState.INCOMING
        self._log = log or logging.getLogger(__name__)
        self.end_reason: str | None = None

    def answer(self) -> None:
        self._transition(CallState.ANSWERING)

    def media_up(self) -> None:
        self._transition(CallState.ACTIVE)

    def reject(self, reason: str) -> None:
        self.end_reason = reason
        self._transition(CallState.ENDED)

    def transfer(self) -> None:
        self._transition(CallState.TRANSFERRING)

    def transfer_failed(self) -> None:
        self._transition(CallState.ACTIVE)

    def hangup(self, reason: str) -> None:
        """Either side hung up or we decided to: idempotent once ending."""
        if self.state in (CallState.ENDING, CallState.ENDED):
            return
        self.end_reason = reason
        self._transition(CallState.ENDING)

    def ended(self, reason: str | None = None) -> None:
        if self.state is CallState.ENDED:
            return
        if self.end_reason is None:
            self.end_reason = reason
        self._transition(CallState.ENDED)

    @property
    def is_live(self) -> bool:
        return self.state in (CallState.ANSWERING, CallState.ACTIVE, CallState.TRANSFERRING)

    def _transition(self, new: CallState) -> None:
        old = self.state
        if new not in _ALLOWED[old]:
            raise IllegalTransition(old, new)
        self.state = new
        self._log.info("call state %s -> %s", old.value, new.value)
