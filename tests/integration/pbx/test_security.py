"""Registration and call admission: only the right credentials register or place calls."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from pbx_support import cli
from sipmsg import build_request, new_branch, received
from sipphone import Phone, SipStack

REPO = Path(__file__).resolve().parents[3]

SERVER = ("127.0.0.1", 5160)


def test_right_password_registers(phones: dict[str, Phone]) -> None:
    for ext, phone in phones.items():
        assert phone.reg_status == 200, ext
        assert phone.reg_active
    contacts = cli("pjsip show contacts")
    assert "1001/sip:1001@127.0.0.1" in contacts


@pytest.mark.parametrize(
    ("user", "password"),
    [("1003", "wrong-password"), ("9999", "whatever"), ("1004", "")],
    ids=["wrong-password", "unknown-user", "empty-password"],
)
def test_bad_credentials_do_not_register(
    stack: SipStack, phones: dict[str, Phone], user: str, password: str
) -> None:
    before = cli("pjsip show contacts")
    phone = stack.add_phone(user, password)
    try:
        assert phone.reg_status in (401, 403, 404), phone.reg_status
        assert not phone.reg_active
    finally:
        stack.remove_phone(phone)
    after = cli("pjsip show contacts")
    assert "9999" not in after
    assert after.count("1003/sip:") == before.count("1003/sip:")
    assert "1004/sip:" not in after


def _udp_request(message: str, timeout: float = 3.0) -> list[str]:
    """Sends one request from a fresh UDP socket; returns the status lines received."""
    replies: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.sendto(message.replace("PORT", str(port)).encode(), SERVER)
        for data in received(s, timeout):
            if data is None:
                if replies and not replies[-1].startswith("SIP/2.0 1"):
                    break
                continue
            replies.append(data.decode(errors="replace").split("\r\n", 1)[0])
    return replies


def _invite(from_user: str, to: str) -> str:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    return build_request(
        "INVITE",
        f"sip:{to}@127.0.0.1:5160",
        [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:PORT;branch={new_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{from_user}@127.0.0.1>;tag=t{time.monotonic_ns()}"),
            ("To", f"<sip:{to}@127.0.0.1>"),
            ("Call-ID", f"unauth-{time.monotonic_ns()}@test"),
            ("CSeq", "1 INVITE"),
            ("Contact", f"<sip:{from_user}@127.0.0.1:PORT>"),
            ("Content-Type", "application/sdp"),
        ],
        sdp,
    )


@pytest.mark.parametrize(
    ("from_user", "to"),
    [("1001", "1002"), ("intruso", "1002"), ("anonymous", "9"), ("1001", "00551130000000")],
    ids=["known-user-no-auth", "unknown-user", "anonymous", "toll-fraud-attempt"],
)
def test_unauthenticated_invite_gets_no_call(
    phones: dict[str, Phone], from_user: str, to: str
) -> None:
    replies = _udp_request(_invite(from_user, to))
    assert replies, "Asterisk did not answer at all"
    final = [r for r in replies if not r.startswith("SIP/2.0 1")]
    assert final, replies
    assert final[0].split()[1] in ("401", "403", "407"), replies
    assert not any(r.startswith(("SIP/2.0 180", "SIP/2.0 183", "SIP/2.0 200")) for r in replies)
    time.sleep(0.5)  # give a (wrongly) routed call the chance to reach 1002
    assert not phones["1002"].has_incoming()
    assert "0 active calls" in cli("core show channels count")


def test_authenticated_phone_has_no_outbound_route(phones: dict[str, Phone]) -> None:
    call = phones["1001"].call("00551130000000")
    call.wait_disconnected(10)
    assert call.last_status in (403, 404, 484), call.last_status
    assert not call.confirmed.is_set()


def test_garbage_datagrams_get_no_answer_and_do_no_harm(phones: dict[str, Phone]) -> None:
    for junk in (b"\x00" * 64, b"INVITE\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n", bytes(range(256))):
        assert not any(r.startswith("SIP/2.0 2") for r in _udp_request(junk.decode("latin-1"), 1))
    # Asterisk is still serving
    assert "Endpoint:" in cli("pjsip show endpoints")


def test_asterisk_runs_as_its_own_user_not_root(phones: dict[str, Phone]) -> None:
    """Least privilege (issue 15, item 6): the Asterisk that answers these calls started as
    root (the chroot, its folders) and then runs as the "asterisk" user, real and
    effective; it still serves calls (the session's phones registered)."""
    assert phones["1001"].reg_status == 200
    pid = _asterisk_pid()
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    gids = next(line for line in status.splitlines() if line.startswith("Gid:")).split()[1:]
    assert "0" not in uids, status
    assert "0" not in gids, status
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "asterisk"


def _asterisk_pid() -> int:
    """The pid of the Asterisk process that owns the control socket (the one the CLI
    reached): .run/asterisk.pid when this clone started it, else the process by name."""
    pidfile = REPO / ".run" / "asterisk.pid"
    if pidfile.exists():
        return int(pidfile.read_text().strip())
    out = subprocess.run(["pgrep", "-x", "asterisk"], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])
