"""Calls through the compose stack that `make test-containers` brings up (issue 18, item 3).

A PJSUA2 phone registered as 1001 with the password the compose init service generated
(the run's compose/.env) calls *43 and hears its own audio come back, then calls 2000
(sip-edge in its container) and hears the agent's greeting and a spoken answer to a spoken
question, which the session's Redis stream shows as a response.text besides the greeting.
Run inside the stack's network namespace (scripts/test-containers.sh), where
Asterisk's SIP port 5160 is the compose asterisk's, with tests/support and the libraries'
src folders on PYTHONPATH:

    python scripts/container_calls.py RUN_DIR/compose/.env

Prints one OK or FAIL line per check; the exit status is 0 only when every check passed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis
from asp import streams as layout
from asp.messages import ResponseText
from sip_edge.testing import find_session, last_entry_id, read_wav, session_messages, speech_wav
from sipphone import (
    Phone,
    PhoneError,
    SipStack,
    make_signal,
    poll_until,
    sliced_xcorr,
    speech_seconds,
)

ECHO_THRESHOLD = 0.8  # as tests/integration/pbx/test_calls.py's echo test
QUESTION = "Quero falar com o suporte técnico."


def read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def check_echo(phone: Phone) -> bool:
    call = phone.call("*43")
    try:
        call.wait_confirmed(20)
    except PhoneError as exc:
        print(f"FAIL: *43 was not answered: {exc}")
        call.hangup()
        return False
    signal = make_signal(2.0, seed=21)
    call.play(signal, loop=True)
    best = 0.0

    def heard() -> bool:
        nonlocal best
        best = max(best, sliced_xcorr(signal, call.recording()))
        return best >= ECHO_THRESHOLD

    try:
        poll_until(heard, 20, "the echo", interval=0.25)
    except PhoneError:
        print(f"FAIL: *43 did not return the phone's audio (best score {best:.2f})")
        return False
    finally:
        call.hangup()
    print(f"OK: *43 returned the phone's audio (score {best:.2f})")
    return True


def check_agent(phone: Phone, r: redis.Redis) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        speech = read_wav(speech_wav(QUESTION, Path(tmp) / "q.wav"))[0].astype(np.int16)
    after = last_entry_id(r, layout.work_stream(layout.Stage.LLM))
    call = phone.call("2000")
    try:
        call.wait_confirmed(20)
        sid = find_session(r, after, "1001", timeout=20)
        print(f"OK: 2000 (sip-edge) answered: session {sid}")
        poll_until(lambda: speech_seconds(call.recording()) >= 1.0, 60, "the greeting", 0.5)
        print("OK: the phone hears the greeting")
        time.sleep(4.0)  # let the greeting end: speaking over it would be a barge-in
        mark = len(call.recording())
        call.play(speech)
        poll_until(
            lambda: speech_seconds(call.recording()[mark:]) >= 1.0, 120, "a spoken answer", 0.5
        )
        print("OK: the phone hears a spoken answer")
        # and it is the agent's answer, not the greeting's tail: a response.text besides the
        # greeting in the session's stream (as the operator's Redis user reads it)
        texts = [m for m in session_messages(r, sid)[1] if isinstance(m, ResponseText)]
        said = " ".join(m.text for m in texts if m.response_id != "greeting")
        if not said:
            print("FAIL: no response.text besides the greeting (was it the apology?)")
            return False
        print(f"OK: the agent answered: {said!r}")
        return True
    except PhoneError as exc:
        print(f"FAIL: the call to 2000: {exc}")
        return False
    finally:
        call.hangup()


def main() -> int:
    env = read_env(Path(sys.argv[1]))
    # the compose redis's port on the namespace's 127.0.0.1 (network redis-loopback)
    r = redis.Redis(host="127.0.0.1", port=6379, username="ops", password=env["REDIS_OPS_PASSWORD"])
    stack = SipStack()
    try:
        phone = stack.add_phone("1001", env["EXT_1001_PASSWORD"])
        if phone.reg_status != 200:
            print(f"FAIL: 1001 did not register with the generated password ({phone.reg_status})")
            return 1
        print("OK: 1001 registered with the password the init service generated")
        echo_ok = check_echo(phone)
        agent_ok = check_agent(phone, r)
        ok = echo_ok and agent_ok
    finally:
        stack.hangup_all()
        stack.close()
        r.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
