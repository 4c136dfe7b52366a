"""Helpers of the tests where a PJSUA2 test phone calls sip-edge through Asterisk
(tests/integration/agent): dial 2000, wait for a session's entries, listen for an answer."""

from __future__ import annotations

import numpy as np
import redis
from asp import streams as layout
from asp.messages import Message
from sip_edge.testing import audio_found, find_session, last_entry_id, session_messages
from sipphone import Phone, PhoneCall, poll_until


def dial_2000(phone: Phone, r: redis.Redis) -> tuple[PhoneCall, str]:
    """Calls 2000 from ``phone``; returns the answered call and its ASP session id."""
    after = last_entry_id(r, layout.work_stream(layout.Stage.LLM))
    call = phone.call("2000")
    call.wait_confirmed(20)
    return call, find_session(r, after, phone.user, timeout=20)


def wait_for(r: redis.Redis, session_id: str, kind: str, timeout: float = 20) -> list[Message]:
    """Polls the session log until an entry of type ``kind`` is in it; returns the log."""
    log: list[Message] = []

    def seen() -> bool:
        nonlocal log
        types, log = session_messages(r, session_id)
        return kind in types

    poll_until(seen, timeout, f"{kind} on the session stream", interval=0.1)
    return log


def wait_audio_heard(
    call: PhoneCall, reference: np.ndarray, timeout: float = 20, start: int = 0
) -> None:
    """Polls what the phone heard (from sample ``start`` on) until ``reference`` is in it,
    window by window (sip_edge.testing.audio_found)."""
    why: str | None = "nothing heard"

    def found() -> bool:
        nonlocal why
        why = audio_found(call.recording()[start:].astype(np.float64), reference)
        return why is None

    try:
        poll_until(found, timeout, "the answer at the phone", interval=0.5)
    except Exception:
        raise AssertionError(why) from None
