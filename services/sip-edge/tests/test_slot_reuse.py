"""A call that lands in a pjsua call slot freed a moment ago must live its own life.

PJSUA hands the slots of ended calls to new ones, round robin over ``maxCalls`` (here
``SIP_EDGE_MAX_CALLS`` + 8 = 9). ``pj::Call``'s destructor clears the user data of, and
hangs up, whatever call holds its slot id when it runs: a wrapper of an ended call that
outlived the reuse of its slot (sip-edge once kept them 2 s) left the new call deaf and then
hung it up. Here a raw SIP phone (tests/support/rtpphone.py) makes short calls until the
slots wrap, then holds one call in a reused slot: it must get its session and stay up.
"""

from __future__ import annotations

import random
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from asp import streams as layout
from pipeline.testing import RedisServer
from sip_edge.testing import EdgeProcess, find_session, last_entry_id

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))

from rtpphone import SipUA

SLOTS = 1 + 8  # SIP_EDGE_MAX_CALLS=1 plus the room sip-edge keeps to answer 486 itself


@pytest.fixture
def rtp_sink() -> Iterator[int]:
    """A UDP port for the phone's SDP; what sip-edge sends there is never read."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def test_a_call_in_a_just_reused_slot_gets_its_session_and_stays_up(
    redis_server: RedisServer, tmp_path: Path, rtp_sink: int
) -> None:
    r = redis.Redis.from_url(redis_server.url)
    user = f"t{random.randrange(10**8, 10**9)}"
    edge = EdgeProcess(tmp_path / "edge.log", REDIS_URL=redis_server.url, SIP_EDGE_MAX_CALLS="1")
    with edge:
        ua = SipUA(user, "", "2000", server=("127.0.0.1", edge.sip_port))
        try:
            # one round of the slots, each call hung up at once
            for _ in range(SLOTS):
                dialog, _sdp = ua.call(rtp_sink)
                ua.hangup(dialog)
            after = last_entry_id(r, layout.work_stream(layout.Stage.LLM))
            dialog, _sdp = ua.call(rtp_sink)  # the first slot again, freed ~1 s ago
            find_session(r, after, user, timeout=5)
            time.sleep(4)  # past the 2 s the old wrappers used to live
            assert not dialog.ended_by_peer, edge.log()[-3000:]
            ua.hangup(dialog)
        finally:
            ua.close()
            r.close()
    assert edge.returncode == 0, edge.log()[-3000:]
