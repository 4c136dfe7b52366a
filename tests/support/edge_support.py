"""Helpers of the tests where a PJSUA2 test phone calls sip-edge through Asterisk
(tests/integration/agent) and the checks of a running stack (tests/acceptance/check_make_up.py,
scripts/container_calls.py): dial 2000, wait for a session's entries, listen for an answer,
ask a question after the greeting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis
from asp import streams as layout
from asp.messages import Message, ResponseText
from pbx_support import cli
from sip_edge.testing import (
    EdgeProcess,
    audio_found,
    find_session,
    last_entry_id,
    metric,
    session_messages,
)
from sipphone import Phone, PhoneCall, SipStack, poll_until, speech_seconds


@contextmanager
def registered_edge(
    log_path: Path, redis_url: str, password_2000: str, **env: str
) -> Iterator[EdgeProcess]:
    """sip-edge as its own process, registered to the running Asterisk as 2000 (the calls
    to 2000 reach it) and writing to ``redis_url``; ``env`` adds settings. On exit it must
    have drained with 0 and no traceback."""
    edge = EdgeProcess(
        log_path,
        REDIS_URL=redis_url,
        SIP_EDGE_REGISTRAR="127.0.0.1:5160",
        EXT_2000_PASSWORD=password_2000,
        **env,
    )
    with edge, edge.watched("sip_edge"):

        def registered() -> bool:
            return metric(edge.metrics(), "sip_edge_registered") == 1 and (
                "sip:2000@127.0.0.1" in cli("pjsip show aor 2000")
            )

        try:
            poll_until(registered, 30, "sip-edge registered as 2000", interval=0.2)
        except Exception:
            raise RuntimeError(f"sip-edge did not register:\n{edge.log()[-3000:]}") from None
        yield edge
    assert "Traceback" not in edge.log(), edge.log()[-5000:]
    assert edge.returncode == 0, edge.log()[-5000:]  # SIGTERM drains and exits 0


@contextmanager
def ops_and_phones(env: dict[str, str]) -> Iterator[tuple[redis.Redis, SipStack]]:
    """For the checks of a running stack: a client of its Redis on 127.0.0.1:6379 as the
    operator's user ``ops`` (the password from ``env``, its .env) and a SIP stack for test
    phones; both closed after, the phones' calls hung up."""
    r = redis.Redis(host="127.0.0.1", port=6379, username="ops", password=env["REDIS_OPS_PASSWORD"])
    stack = SipStack()
    try:
        yield r, stack
    finally:
        stack.hangup_all()
        stack.close()
        r.close()


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
    call: PhoneCall, reference: npt.NDArray[Any], timeout: float = 20, start: int = 0
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


def speak_after_greeting(call: PhoneCall, speech: npt.NDArray[np.int16]) -> int:
    """Waits until the phone hears the agent's greeting (a second of speech, 60 s at most),
    lets it end (speaking over it would be a barge-in) and plays ``speech``; returns where in
    the call's recording what the phone hears after it starts."""
    poll_until(lambda: speech_seconds(call.recording()) >= 1.0, 60, "the greeting", 0.5)
    time.sleep(4.0)
    mark = len(call.recording())
    call.play(speech)
    return mark


def spoken_answer(call: PhoneCall, mark: int, r: redis.Redis, session_id: str) -> str:
    """Waits until the phone hears a second of speech from sample ``mark`` on (120 s at
    most); returns the agent's answer as the session's stream has it: its response.text
    besides the greeting's ('' when there is none: the apology, say)."""
    poll_until(lambda: speech_seconds(call.recording()[mark:]) >= 1.0, 120, "a spoken answer", 0.5)
    texts = [m for m in session_messages(r, session_id)[1] if isinstance(m, ResponseText)]
    return " ".join(m.text for m in texts if m.response_id != "greeting")
