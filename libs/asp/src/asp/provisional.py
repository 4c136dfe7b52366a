"""Speculative turns (ASP 1.2): the life of a provisional utterance, as data (no I/O).

At the caller's first pause the edge publishes the utterance so far with
``provisional: true``; the stages start on it at once. The edge then resolves it::

    (none) --utterance, provisional--> provisional
    provisional --utterance.confirm--> confirmed --its reply recorded--> recorded
    provisional --utterance.cancel---> cancelled

Only a provisional utterance can be confirmed or cancelled: any other move (a confirm or
cancel of an unknown utterance, a second resolution, a confirm after a cancel) is stale and
is rejected with :data:`~asp.errors.ErrorCode.INVALID_MESSAGE_TYPE` (1003, a message out of
order), changing nothing. The state lives in Redis (``asp.streams.provisional_key``), moved
by ``pipeline.bus`` in the same transaction as the event that moves it.
"""

from __future__ import annotations

from .errors import ASPError, ErrorCode
from .messages import UtteranceCancel, UtteranceConfirm

__all__ = [
    "CANCELLED",
    "CANCEL_REASON",
    "CONFIRMED",
    "PROVISIONAL",
    "RECORDED",
    "STATES",
    "delivery_error",
    "resolution_error",
    "target_state",
]

PROVISIONAL = "provisional"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
RECORDED = "recorded"
"""Confirmed, and its reply is in the conversation history (exactly once)."""
STATES = (PROVISIONAL, CONFIRMED, CANCELLED, RECORDED)

CANCEL_REASON = "provisional_cancelled"
"""``response.cancel`` reason of a response to a cancelled provisional utterance: it was
never heard, so it leaves no trace in the conversation history (unlike a barge-in)."""


def target_state(msg: UtteranceConfirm | UtteranceCancel) -> str:
    """The state an accepted confirm or cancel moves its utterance to."""
    return CONFIRMED if isinstance(msg, UtteranceConfirm) else CANCELLED


def delivery_error(msg: UtteranceConfirm | UtteranceCancel, now: str | None) -> ASPError | None:
    """For a stage that takes a confirm or cancel from its work stream: None when the
    utterance's state ``now`` is the one that ``msg`` moved it to (a confirmed utterance
    may already be recorded); else the error that says why the event is rejected (it was
    refused when published, or never went through the bus)."""
    accepted = (CONFIRMED, RECORDED) if isinstance(msg, UtteranceConfirm) else (CANCELLED,)
    if now in accepted:
        return None
    return ASPError(
        ErrorCode.INVALID_MESSAGE_TYPE,
        f"{msg.TYPE} rejected: utterance {msg.utterance_id!r} is {now or 'not provisional'}",
        {"type": msg.TYPE, "utterance_id": msg.utterance_id, "state": now or "unknown"},
    )


def resolution_error(
    msg: UtteranceConfirm | UtteranceCancel, before: str | None
) -> ASPError | None:
    """None when ``msg`` was a legal move from ``before`` (the utterance's state before it
    was applied); else the error that says why it was rejected."""
    if before == PROVISIONAL:
        return None
    what = "is not a provisional utterance" if before is None else f"is already {before}"
    return ASPError(
        ErrorCode.INVALID_MESSAGE_TYPE,
        f"{msg.TYPE} rejected: utterance {msg.utterance_id!r} {what}",
        {"type": msg.TYPE, "utterance_id": msg.utterance_id, "state": before or "unknown"},
    )
