"""The shipped fail2ban filter (compose/fail2ban/) finds the failed REGISTERs that the real
Asterisk wrote to its security.log, and only them (issue 15, item 5).

REGISTERs from 127.0.0.3 (standing for an attacker's host): wrong password for 1003 (a
digest answer computed with a wrong password) and an unknown user; meanwhile a real phone
registers with its right password from 127.0.0.1. fail2ban-regex (Debian's fail2ban,
scripts/setup.d/35-security-tools.sh) runs the filter over the log lines those REGISTERs added.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from pbx_support import REPO, asterisk_log_dir
from sipmsg import build_register, digest_authorization, new_branch, parse_response, received
from sipphone import Phone, SipStack, poll_until

FILTER = REPO / "compose" / "fail2ban" / "filter.d" / "asterisk-pabx.conf"
JAIL = REPO / "compose" / "fail2ban" / "jail.d" / "asterisk-pabx.conf"
SERVER = ("127.0.0.1", 5160)
ATTACKER = "127.0.0.3"
WRONG_PASSWORD_TRIES = 4
UNKNOWN_USER_TRIES = 3


def _register(s: socket.socket, user: str, cseq: int, call_id: str, auth: str = "") -> str:
    host, port = s.getsockname()
    via = f"SIP/2.0/UDP {host}:{port};branch={new_branch()};rport"
    contact = f"<sip:{user}@{host}:{port}>"
    return build_register(
        "sip:127.0.0.1:5160", user, via, contact, call_id, cseq, tag=f"f{cseq}", auth=auth
    )


def _final(s: socket.socket) -> tuple[int, str]:
    for data in received(s, 5):
        if data is None:
            continue
        reply = parse_response(data)
        if reply.status >= 200:
            return reply.status, reply.header("www-authenticate") or ""
    raise AssertionError("Asterisk did not answer the REGISTER")


def failed_register(user: str, password: str) -> int:
    """A REGISTER from ATTACKER answered with a digest computed from ``password``; the
    final status of the authenticated try."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ATTACKER, 0))
        s.settimeout(0.5)
        call_id = f"f2b-{time.monotonic_ns()}@{ATTACKER}"
        s.sendto(_register(s, user, 1, call_id).encode(), SERVER)
        status, challenge = _final(s)
        assert status == 401, status
        auth = digest_authorization(challenge, "REGISTER", "sip:127.0.0.1:5160", user, password)
        s.sendto(_register(s, user, 2, call_id, auth).encode(), SERVER)
        return _final(s)[0]


def test_fail2ban_regex_finds_the_failed_registers(
    stack: SipStack, phones: dict[str, Phone], passwords: dict[str, str], tmp_path: Path
) -> None:
    assert shutil.which("fail2ban-regex"), "fail2ban missing: scripts/setup.d/35-security-tools.sh"
    log = asterisk_log_dir() / "security.log"
    start = log.stat().st_size if log.exists() else 0

    for _ in range(WRONG_PASSWORD_TRIES):
        assert failed_register("1003", "not-the-password") in (401, 403)
    for _ in range(UNKNOWN_USER_TRIES):
        assert failed_register("9876", "whatever") in (401, 403)
    # a legitimate registration meanwhile (challenged too: must not count)
    legit = stack.add_phone("1005", passwords["1005"])
    try:
        assert legit.reg_status == 200
    finally:
        stack.remove_phone(legit)

    def new_lines() -> str:
        if not log.exists():
            return ""
        with log.open("rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    def logged() -> bool:
        text = new_lines()
        return (
            text.count(f"/{ATTACKER}/") >= WRONG_PASSWORD_TRIES + UNKNOWN_USER_TRIES
            and 'AccountID="1005"' in text
            and "SuccessfulAuth" in text
        )

    poll_until(logged, 10, f"the failed REGISTERs in {log}", interval=0.2)
    excerpt = tmp_path / "security.log"
    excerpt.write_text(new_lines())
    proc = subprocess.run(
        ["fail2ban-regex", "--print-all-matched", str(excerpt), str(FILTER)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    m = re.search(r"^Failregex: (\d+) total", out, re.M)
    assert m, out[-2000:]
    hits = int(m.group(1))
    # one failure event per rejected authenticated REGISTER, at least; none for the phone
    assert hits >= WRONG_PASSWORD_TRIES + UNKNOWN_USER_TRIES, out[-3000:]
    matched = [line for line in out.splitlines() if "SecurityEvent=" in line and "|  " in line]
    matched_part = out.split("Missed line(s)")[0] if "Missed line(s)" in out else out
    hosts = set(re.findall(r'RemoteAddress="IPV4/[A-Z]+/([\d.]+)/', matched_part))
    assert hosts == {ATTACKER}, (hosts, matched[:5])
    assert "ChallengeResponseFailed" in matched_part or "InvalidPassword" in matched_part
    assert "InvalidAccountID" in matched_part


def test_the_jail_uses_the_filter_and_reads_the_security_log() -> None:
    jail = JAIL.read_text()
    assert re.search(r"^filter\s*=\s*asterisk-pabx$", jail, re.M)
    assert re.search(r"^logpath\s*=\s*\S*security\.log$", jail, re.M)
    assert re.search(r"^maxretry\s*=\s*\d+$", jail, re.M)
