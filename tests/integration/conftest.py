"""Fixtures shared by the integration tests that go through Asterisk (tests/integration/pbx,
tests/integration/agent): a real Asterisk (scripts/asterisk.sh) and PJSUA2 test phones
(tests/support/sipphone.py). They live here, once, because a process may hold only one
pjsua2 Endpoint: every folder must share the session's ``stack``.

Asterisk listens on fixed ports, so the whole session holds /tmp/pabx-asterisk.lock
(other clones' test runs wait). The session starts Asterisk with the loopback/test profile
and stops it afterwards only if it started it; an Asterisk that was already running (make up)
gets its normal configuration back.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ASTERISK_LOG = REPO / ".run" / "asterisk.log"
sys.path.insert(0, str(REPO / "tests" / "support"))

from pbx_support import locked_asterisk, read_env, release_calls  # noqa: E402
from pipeline.proc_watch import WATCH, log_tail, pid_status  # noqa: E402
from sipphone import Phone, SipStack  # noqa: E402


@pytest.fixture(scope="session")
def asterisk() -> Iterator[None]:
    # 280 s: under the 300 s pytest timeout, with a clear message
    with locked_asterisk(timeout=280):
        pidfile = REPO / ".run" / "asterisk.pid"
        if pidfile.exists():  # started by this clone (else another clone's make up owns it)
            WATCH.add("asterisk", "asterisk", pid_status(pidfile), lambda: log_tail(ASTERISK_LOG))
        try:
            yield
        finally:
            WATCH.remove("asterisk")


@pytest.fixture(scope="session")
def passwords(asterisk: None) -> dict[str, str]:
    env = read_env()
    return {e: env[f"EXT_{e}_PASSWORD"] for e in ("1001", "1002", "1003", "1004", "1005", "2000")}


@pytest.fixture(scope="session")
def stack(asterisk: None) -> Iterator[SipStack]:
    # TLS phones verify the certificate Asterisk serves on 5061 (scripts/asterisk.sh makes it)
    s = SipStack(tls_ca=REPO / "compose" / "certs" / "asterisk.crt")
    yield s
    s.close()


@pytest.fixture(scope="session")
def phones(stack: SipStack, passwords: dict[str, str]) -> dict[str, Phone]:
    """1001, 1002 and 1003 registered for the whole session."""
    return {e: stack.add_phone(e, passwords[e]) for e in ("1001", "1002", "1003")}


@pytest.fixture(autouse=True)
def _clean_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "stack" in request.fixturenames:
        release_calls(request.getfixturevalue("stack"))
