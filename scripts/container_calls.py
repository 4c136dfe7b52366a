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
from pathlib import Path

import numpy as np
import redis
from asp import streams as layout
from edge_support import ops_and_phones, speak_after_greeting, spoken_answer
from pbx_support import best_heard
from sip_edge.testing import find_session, last_entry_id, read_wav, speech_wav
from sipphone import Phone, PhoneError, make_signal

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
    try:
        best = best_heard(call, signal, 20, ECHO_THRESHOLD)
    finally:
        call.hangup()
    if best < ECHO_THRESHOLD:
        print(f"FAIL: *43 did not return the phone's audio (best score {best:.2f})")
        return False
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
        mark = speak_after_greeting(call, speech)
        print("OK: the phone hears the greeting")
        # and it is the agent's answer, not the greeting's tail: a response.text besides the
        # greeting in the session's stream (as the operator's Redis user reads it)
        said = spoken_answer(call, mark, r, sid)
        print("OK: the phone hears a spoken answer")
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
    with ops_and_phones(env) as (r, stack):
        phone = stack.add_phone("1001", env["EXT_1001_PASSWORD"])
        if phone.reg_status != 200:
            print(f"FAIL: 1001 did not register with the generated password ({phone.reg_status})")
            return 1
        print("OK: 1001 registered with the password the init service generated")
        echo_ok = check_echo(phone)
        agent_ok = check_agent(phone, r)
    return 0 if echo_ok and agent_ok else 1


if __name__ == "__main__":
    sys.exit(main())
