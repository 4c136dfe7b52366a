"""A PJSUA2 caller for sip-edge's tests (run as a subprocess: one Endpoint per process).

    python edge_caller.py --target sip:2000@127.0.0.1:5070 --user t123 \
        --play speech.wav --play-at 2.5 --record heard.wav --hangup-at 6.5 [--dtmf 5 --dtmf-at 1]

Calls the target as ``user``, plays a WAV into the call at ``play-at`` seconds after the
answer, records what it hears from the answer on, sends DTMF, hangs up at ``hangup-at`` (or
stops when the far end hangs up) and prints one JSON line with what happened.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pjsua2 as pj

# the PJSUA2 test phone shared with the integration tests (tests/support/pj_endpoint.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tests" / "support"))
from pj_endpoint import TrackedCall, endpoint, local_account


class Call(TrackedCall):
    def __init__(self, acc: pj.Account) -> None:
        super().__init__(acc)
        self.digits = ""

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        self.digits += prm.digit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--user", default="1001")
    ap.add_argument("--play")
    ap.add_argument("--play-at", type=float, default=1.0)
    ap.add_argument(
        "--say", action="append", default=[], help="FILE@SECONDS: play FILE at that time"
    )
    ap.add_argument("--record")
    ap.add_argument("--hangup-at", type=float, default=5.0)
    ap.add_argument("--dtmf")
    ap.add_argument("--dtmf-at", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--codec", default="PCMU/", help="prefix of the only audio codec offered")
    a = ap.parse_args()

    with endpoint(log_level=1, codec=a.codec) as (ep, _tid, port):
        for codec in ep.codecEnum2():
            if codec.codecId.startswith("telephone-event"):
                ep.codecSetPriority(codec.codecId, 1)
        acc = local_account(pj.Account(), a.user, port)
        call = Call(acc)
        call.makeCall(a.target, pj.CallOpParam(True))
        result: dict[str, object] = {"confirmed": False}
        schedule = [(float(t), f) for f, t in (item.rsplit("@", 1) for item in a.say)]
        if a.play:
            schedule.append((a.play_at, a.play))
        schedule.sort()
        players: list[pj.AudioMediaPlayer] = []
        recorder = None
        dtmf_sent = False
        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline and not call.disconnected:
            ep.libHandleEvents(10)
            if call.confirmed_at is None or call.media is None:
                continue
            result["confirmed"] = True
            t = time.monotonic() - call.confirmed_at
            if recorder is None and a.record:
                recorder = pj.AudioMediaRecorder()
                recorder.createRecorder(a.record)
                call.media.startTransmit(recorder)
                result["record_started_s"] = round(t, 3)
            if len(players) < len(schedule) and t >= schedule[len(players)][0]:
                player = pj.AudioMediaPlayer()
                player.createPlayer(schedule[len(players)][1], pj.PJMEDIA_FILE_NO_LOOP)
                player.startTransmit(call.media)
                result.setdefault("play_started_s", round(t, 3))
                result.setdefault("play_started_wall", time.time())
                result.setdefault("plays_started_s", []).append(round(t, 3))  # type: ignore[attr-defined]
                players.append(player)
            if a.dtmf and not dtmf_sent and t >= a.dtmf_at:
                call.dialDtmf(a.dtmf)
                dtmf_sent = True
            if t >= a.hangup_at:
                call.hangup(pj.CallOpParam())
                result["hung_up_by"] = "caller"
                end = time.monotonic() + 3
                while not call.disconnected and time.monotonic() < end:
                    ep.libHandleEvents(10)
                break
        result.setdefault("hung_up_by", "remote" if call.disconnected else "timeout")
        result["status"] = call.status
        result["digits_received"] = call.digits
        recorder = None
        players.clear()
        print(json.dumps(result), flush=True)
        call.media = None
        del call
        acc.shutdown()
        del acc


if __name__ == "__main__":
    main()
