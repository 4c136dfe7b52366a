"""The evaluation's transfer questions asked through the real Asterisk (``agent_eval.py
--via-asterisk``): a transfer counts only when the target extension's phone rings.

Everything is the test support's (tests/support): Asterisk with the loopback/test profile
under /tmp/pabx-asterisk.lock (``pbx_support.locked_asterisk``), a private redis-server,
sip-edge registered as 2000 (``edge_support.registered_edge``), the three workers as their
own processes with their offline engines (``agent_support.running_workers``: Whisper base,
the llm-worker with the local model and the facts file, Kokoro) and PJSUA2 phones
(``sipphone``) registered as the menu's extensions 1001, 1002 and 1003.

For each question a phone that is not the expected target calls 2000, hears the greeting,
plays the question (the same 8 kHz audio as the in-process path: ``agent_eval.phone_audio``)
and then every registered phone is watched: the extension whose phone rings within
``ring_within_s`` of the question's end is the transfer that happened (``transfer:<ext>``),
and any other phone that rings in the next ``others_s`` is recorded too (two rings never
score as right). No ring before the reply's ``response.end`` + ``settle_s`` (or the bound)
is no transfer. The llm-worker's ``call.action`` is kept beside it (``call_action``) only as
a cross-check: the score reads the rings.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_support import use_test_support

use_test_support()

import redis  # noqa: E402
from agent_eval_score import rang_action  # noqa: E402
from agent_support import Worker, running_workers, wait_speech_then_quiet  # noqa: E402
from asp.messages import (  # noqa: E402
    CallAction,
    CallActionKind,
    ResponseEnd,
    ResponseText,
    Transcript,
)
from edge_support import dial_2000, registered_edge  # noqa: E402
from pbx_support import locked_asterisk, read_env, release_calls  # noqa: E402
from pipeline.testing import RedisServer  # noqa: E402
from sip_edge.testing import frame_rms, session_messages  # noqa: E402
from sipphone import (  # noqa: E402
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Phone,
    PhoneError,
    SipStack,
    poll_until,
)

EXTENSIONS = ("1001", "1002", "1003")  # the PJSUA2 phones (UDP; 1004/1005 are WebRTC)
VOICED_RMS = 300.0


@dataclass
class Line:
    """The running PABX of the run: phones by extension and the sessions' Redis."""

    stack: SipStack
    phones: dict[str, Phone]
    r: redis.Redis
    workers: list[Worker]


@contextmanager
def through_asterisk(
    folder: Path, llm_env: dict[str, str], healthy_within_s: float = 1800
) -> Iterator[Line]:
    """Asterisk (locked), Redis, the workers, sip-edge as 2000 and the phones, while inside.
    ``healthy_within_s``: the llm-worker is healthy once it has evaluated the system prompt,
    minutes on a loaded 2-core host."""
    folder.mkdir(parents=True, exist_ok=True)
    with locked_asterisk(timeout=1800), RedisServer() as server:
        env = read_env()
        with (
            running_workers(folder, server.url, llm_env, healthy_within_s) as workers,
            registered_edge(folder / "sip-edge.log", server.url, env["EXT_2000_PASSWORD"]),
        ):
            stack = SipStack()
            r = redis.Redis.from_url(server.url)
            try:
                phones = {e: stack.add_phone(e, env[f"EXT_{e}_PASSWORD"]) for e in EXTENSIONS}
                yield Line(stack, phones, r, workers)
            finally:
                release_calls(stack)
                stack.close()
                r.close()


def caller_for(expected: str | None) -> str:
    """A phone that is not the expected target (its own extension is still watched)."""
    return "1003" if expected == "1001" else "1001"


def ask(
    line: Line,
    audio: npt.NDArray[Any],
    expected: str | None,
    ring_within_s: float = 90,
    others_s: float = 5,
    settle_s: float = 10,
) -> dict[str, Any]:
    """One transfer question through Asterisk; the row's fields (see module)."""
    caller = caller_for(expected)
    call, sid = dial_2000(line.phones[caller], line.r)
    try:
        waited = _greeting_heard(line.r, sid)
        wait_speech_then_quiet(call, 0, 60, "the greeting")
        call.play(audio)
        call.wait_played(60)
        end = len(call.recording())
        asked = time.monotonic()
        rang: dict[str, float] = {}
        reply_end: list[float] = []

        def decided() -> bool:
            now = time.monotonic()
            for ext, phone in line.phones.items():
                if ext not in rang and phone.has_incoming():
                    rang[ext] = now - asked
            if rang:
                return True
            if not reply_end and _reply_ended(line.r, sid):
                reply_end.append(now)
            return bool(reply_end) and now - reply_end[0] >= settle_s

        with contextlib.suppress(PhoneError):  # nothing rang within the bound: no transfer
            poll_until(decided, ring_within_s, "a ring or the reply's end", interval=0.1)
        if rang:  # any other phone that rings too
            time.sleep(others_s)
            decided()
        heard = call.recording()[end:]
        voiced = np.nonzero(frame_rms(heard) > VOICED_RMS)[0]
        _, log = session_messages(line.r, sid)
    finally:
        release_calls(line.stack)
    actions = [m for m in log if isinstance(m, CallAction)]
    first_ring = min(rang, key=rang.__getitem__) if rang else None
    return {
        "path": "asterisk",
        "caller": caller,
        "transcript": " ".join(m.text for m in log if isinstance(m, Transcript)),
        "reply": " ".join(
            m.text for m in log if isinstance(m, ResponseText) and m.response_id != "greeting"
        ).strip(),
        "sentences": [],
        # what the score reads: the phones that rang (two rings never match an expected one)
        "action": rang_action(rang),
        "rang": {e: round(s, 2) for e, s in rang.items()},
        "ring_s": None if first_ring is None else round(rang[first_ring], 2),
        "call_action": ", ".join(
            f"transfer:{a.target}" if a.action == CallActionKind.TRANSFER else str(a.action)
            for a in actions
        )
        or None,
        # from the question's end to the first voiced frame the caller heard (with the
        # phone leg, the VAD's end-of-turn wait and Redis)
        "voice_to_voice_s": round(int(voiced[0]) * FRAME_SAMPLES / SAMPLE_RATE, 3)
        if len(voiced)
        else None,
        "greeting_wait_s": round(waited, 2),
        "ring_within_s": ring_within_s,
    }


def _greeting_heard(r: redis.Redis, sid: str) -> float:
    started = time.monotonic()
    poll_until(lambda: _ended(r, sid, greeting=True), 120, "the greeting's response.end")
    return time.monotonic() - started


def _reply_ended(r: redis.Redis, sid: str) -> bool:
    return _ended(r, sid, greeting=False)


def _ended(r: redis.Redis, sid: str, greeting: bool) -> bool:
    return any(
        isinstance(m, ResponseEnd) and (m.response_id == "greeting") == greeting
        for m in session_messages(r, sid)[1]
    )
