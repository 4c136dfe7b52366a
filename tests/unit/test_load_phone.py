"""The light phone of bench/sip_edge_load.py (tests/support/rtpphone.py), without a PBX: G.711
codes, RTP between two legs on loopback with kernel receive stamps, SIP request parsing; and
that the benchmark itself starts (``--help``)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rtpphone import SILENCE_FRAME, Leg, MediaEngine, ulaw_encode, ulaw_frames
from sipmsg import build_response, parse_request, parse_response

REPO = Path(__file__).resolve().parents[2]


def test_ulaw_codes_of_the_g711_table() -> None:
    codes = ulaw_encode(np.array([0, -1, 32767, -32768, 1000, -1000]))
    # G.711 mu-law (bits inverted): zero is 0xFF, full scale 0x80 / 0x00.
    assert list(codes) == [0xFF, 0x7E, 0x80, 0x00, 0xCE, 0x4E]
    assert SILENCE_FRAME == b"\xff" * 160


def test_two_legs_exchange_paced_rtp_with_kernel_stamps() -> None:
    speech = ulaw_frames(np.full(160 * 10, 2000))  # 10 voiced frames
    a = Leg(0, ("127.0.0.1", 0), speech, first_wait=0.0, gap=(0.0, 0.0))
    b = Leg(1, ("127.0.0.1", 0), speech, first_wait=30.0)  # stays quiet, listening
    a.remote, b.remote = ("127.0.0.1", b.port), ("127.0.0.1", a.port)
    engine = MediaEngine()
    engine.start()
    engine.add(a)
    engine.add(b)
    try:
        time.sleep(1.0)
    finally:
        engine.stop()
        a.close()
        b.close()
    rx = b.rx
    assert 35 <= len(rx) <= 55, len(rx)
    seqs = [p[1] for p in rx]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))
    stamps = np.array([p[0] for p in rx])
    assert abs(stamps[-1] / 1e9 - time.time()) < 5  # wall-clock nanoseconds from the kernel
    assert np.median(np.diff(stamps)) / 1e6 == pytest.approx(20, abs=3)
    voiced = [p[3] for p in rx]
    first = voiced.index(True)
    assert first <= 2  # a speaks at once (after the tick that ends its first wait)
    assert voiced[first : first + 10] == [True] * 10  # the phrase
    assert not any(voiced[first + 10 :])  # then silence while it listens
    assert len(a.speech_ends) == 1
    assert all(not p[3] for p in a.rx)  # b never spoke


def test_requests_parse_and_responses_echo_the_transaction() -> None:
    req = parse_request(
        "BYE sip:1001@127.0.0.1:5062 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5160;branch=z9hG4bK1\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK0\r\n"
        "From: <sip:2000@127.0.0.1>;tag=a\r\n"
        "To: <sip:1001@127.0.0.1>;tag=b\r\n"
        "Call-ID: c1\r\n"
        "CSeq: 7 BYE\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    assert (req.method, req.uri) == ("BYE", "sip:1001@127.0.0.1:5062")
    resp = parse_response(build_response(req, 200, "OK"))
    assert resp.status == 200
    assert resp.headers["via"] == req.headers["via"]
    assert (resp.header("cseq"), resp.header("call-id")) == ("7 BYE", "c1")
    with pytest.raises(ValueError, match="not a SIP request"):
        parse_request("SIP/2.0 200 OK\r\n\r\n")


@pytest.mark.integration  # the benchmark as a process
def test_the_load_benchmark_starts() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "sip_edge_load.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "--calls" in out
    assert "--seconds" in out
