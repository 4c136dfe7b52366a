"""Only the PBX may call sip-edge: a real sip-edge process answers an INVITE sent from
127.0.0.2 (another loopback address standing for "another host") with 403 Forbidden, counts
it and logs the source; the same INVITE from an allowed source is answered."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest
from pipeline.testing import RedisServer
from sip_edge.testing import EdgeProcess, metric

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
from sipmsg import (
    SipResponse,
    build_request,
    digest_authorization,
    new_branch,
    parse_response,
    received,
)

pytestmark = pytest.mark.integration  # sip-edge as its own process, a redis-server


def _invite(
    source: str, port: int, edge_port: int, call_id: str, branch: str, cseq: int = 1, auth: str = ""
) -> str:
    sdp = (
        f"v=0\r\no=- 1 1 IN IP4 {source}\r\ns=-\r\nc=IN IP4 {source}\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    return build_request(
        "INVITE",
        f"sip:2000@127.0.0.1:{edge_port}",
        [
            ("Via", f"SIP/2.0/UDP {source}:{port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:intruso@{source}>;tag=t{call_id[:12]}"),
            ("To", f"<sip:2000@127.0.0.1:{edge_port}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} INVITE"),
            ("Contact", f"<sip:intruso@{source}:{port}>"),
            ("Content-Type", "application/sdp"),
            *([("Authorization", auth)] if auth else []),
        ],
        sdp,
    )


def _in_dialog(
    method: str, cseq: int, reply: SipResponse, source: str, port: int, branch: str = ""
) -> str:
    """ACK or BYE after ``reply``; an ACK of a failed INVITE reuses the INVITE's branch."""
    contact = (reply.header("contact") or "").strip("<>").split(">")[0]
    uri = contact or (reply.header("to") or "").split("<")[-1].split(">")[0]
    return build_request(
        method,
        uri,
        [
            ("Via", f"SIP/2.0/UDP {source}:{port};branch={branch or new_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", reply.header("from") or ""),
            ("To", reply.header("to") or ""),
            ("Call-ID", reply.header("call-id") or ""),
            ("CSeq", f"{cseq} {method}"),
        ],
    )


def invite_from(
    source: str,
    edge_port: int,
    timeout: float = 5.0,
    password: str | None = None,
    challenges: list[str] | None = None,
) -> list[int]:
    """Sends one INVITE from ``source`` (a UDP socket bound there); returns the final status
    codes received. A 200 is acknowledged and the call hung up (BYE); a failure
    is acknowledged. With ``password``, a 401 is answered once with a digest (user 2000)
    computed from it; ``challenges`` collects the WWW-Authenticate values received."""
    codes: list[int] = []
    edge = ("127.0.0.1", edge_port)
    call_id = f"src{time.monotonic_ns()}@{source}"
    cseq, branch, retried = 1, new_branch(), False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        port = s.getsockname()[1]
        s.sendto(_invite(source, port, edge_port, call_id, branch).encode(), edge)
        for data in received(s, timeout):
            if data is None:
                continue
            reply = parse_response(data)
            if not (reply.header("cseq") or "").startswith(f"{cseq} "):
                continue  # a retransmission of an earlier answer
            if reply.status < 200:
                continue  # 100 Trying, 180 Ringing
            codes.append(reply.status)
            challenge = reply.header("www-authenticate")
            if challenge and challenges is not None:
                challenges.append(challenge)
            if reply.status >= 300:
                s.sendto(_in_dialog("ACK", cseq, reply, source, port, branch).encode(), edge)
            if reply.status == 401 and password is not None and not retried and challenge:
                retried, cseq, branch = True, cseq + 1, new_branch()
                uri = f"sip:2000@127.0.0.1:{edge_port}"
                auth = digest_authorization(challenge, "INVITE", uri, "2000", password)
                s.sendto(
                    _invite(source, port, edge_port, call_id, branch, cseq, auth).encode(), edge
                )
                continue
            if reply.status == 200:
                s.sendto(_in_dialog("ACK", cseq, reply, source, port).encode(), edge)
                s.sendto(_in_dialog("BYE", cseq + 1, reply, source, port).encode(), edge)
            if reply.status >= 200:
                break
    return codes


def forbidden(edge: EdgeProcess, n: int, timeout: float = 5.0) -> float:
    """sip_edge_calls_forbidden_total once it reached ``n`` (the count is posted from the
    PJSUA thread to the event loop, a moment after the 403)."""
    deadline = time.monotonic() + timeout
    while True:
        value = metric(edge.metrics(), "sip_edge_calls_forbidden_total")
        if value >= n or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_an_invite_from_another_host_gets_403_and_a_log_line(tmp_path: Path) -> None:
    with RedisServer() as redis, EdgeProcess(tmp_path / "edge.log", REDIS_URL=redis.url) as edge:
        codes = invite_from("127.0.0.2", edge.sip_port)
        assert codes, "no answer"
        assert codes[-1] == 403, codes
        assert forbidden(edge, 1) == 1
        assert "INVITE from 127.0.0.2:" in edge.log()
        assert "refused with 403" in edge.log()
        # the allowed source (127.0.0.1, the default without a registrar) still gets in
        codes = invite_from("127.0.0.1", edge.sip_port)
        assert codes, "no answer"
        assert codes[-1] == 200, codes


def test_allowed_sources_setting_opens_exactly_the_listed_host(tmp_path: Path) -> None:
    with (
        RedisServer() as redis,
        EdgeProcess(
            tmp_path / "edge.log", REDIS_URL=redis.url, SIP_EDGE_ALLOWED_SOURCES="127.0.0.2"
        ) as edge,
    ):
        assert invite_from("127.0.0.2", edge.sip_port)[-1] == 200
        assert invite_from("127.0.0.1", edge.sip_port)[-1] == 403
        assert forbidden(edge, 1) == 1


def test_digest_auth_challenges_even_an_allowed_source(tmp_path: Path) -> None:
    """SIP_EDGE_DIGEST_AUTH=true: the allowed source gets 401 with a challenge, the right
    answer (user 2000, EXT_2000_PASSWORD) gets the call, a wrong one a new 401."""
    password = "senha-de-teste-2000"  # noqa: S105 - a test value
    with (
        RedisServer() as redis,
        EdgeProcess(
            tmp_path / "edge.log",
            REDIS_URL=redis.url,
            SIP_EDGE_DIGEST_AUTH="true",
            EXT_2000_PASSWORD=password,
        ) as edge,
    ):
        challenges: list[str] = []
        assert invite_from("127.0.0.1", edge.sip_port, challenges=challenges)[-1] == 401
        assert challenges[0].startswith('Digest realm="sip-edge"')
        assert invite_from("127.0.0.1", edge.sip_port, password=password) == [401, 200]
        wrong = "errada"
        assert invite_from("127.0.0.1", edge.sip_port, password=wrong) == [401, 401]
        assert edge.log().count("challenged (401 digest)") == 4
        # the source check still comes first
        assert invite_from("127.0.0.2", edge.sip_port, password=password) == [403]
