"""Many simultaneous PJSUA2 calls from one process (the source build has no 4-call wall).

    python multi_caller.py --target sip:2000@127.0.0.1:5070 --user t123_ \
        --call 0:speech0.wav:heard0.wav --call 1:speech1.wav:heard1.wav ... \
        --play-at 1.0 --hangup-at 8.0

Call i (in the order given) plays its WAV at ``play-at``
seconds after all calls are up, records what it hears, and hangs up at ``hangup-at``.
Through a PBX: ``--domain 127.0.0.1:5160 --user 1001 --password ...`` calls as that
extension, answering the PBX's digest challenges without registering (the extension's
registered phone keeps its registration); ``--one-by-one`` dials each call once the previous
one is answered, instead of all at once.
Prints a JSON line with the SIP Call-ID of each call once they are up, then one with how
many calls were confirmed and how many the far end hung up (with each one's index, when,
in seconds after all calls were up, its last SIP status and reason).
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--user", required=True, help="the user part of the calls' From")
    ap.add_argument("--domain", help="the From's host (default: this process's SIP address)")
    ap.add_argument("--password", help="digest password of --user, when the target asks")
    ap.add_argument("--call", action="append", default=[], help="INDEX:PLAY.wav:RECORD.wav")
    ap.add_argument("--play-at", type=float, default=1.0)
    ap.add_argument("--hangup-at", type=float, default=8.0)
    ap.add_argument("--setup-timeout", type=float, default=20.0, help="for all calls to be up")
    ap.add_argument(
        "--one-by-one", action="store_true", help="dial each call once the previous one is up"
    )
    ap.add_argument("--sip-log", help="PJSIP's log with every SIP message (a failing test's why)")
    a = ap.parse_args()
    specs = [c.split(":", 2) for c in a.call]

    with endpoint(max_calls=len(specs) + 2, log_file=a.sip_log) as (ep, tid, port):
        acc = local_account(pj.Account(), a.user, port, tid, a.domain, a.password)
        accounts = [acc]
        calls: list[TrackedCall] = []
        deadline = time.monotonic() + a.setup_timeout
        for _spec in specs:
            calls.append(TrackedCall(acc))
            calls[-1].makeCall(a.target, pj.CallOpParam(True))
            ep.libHandleEvents(20)
            while (
                a.one_by_one
                and time.monotonic() < deadline
                and not (calls[-1].confirmed or calls[-1].disconnected)
            ):
                ep.libHandleEvents(20)
        while time.monotonic() < deadline and not all(
            c.confirmed and c.media is not None for c in calls
        ):
            ep.libHandleEvents(20)
        up = sum(c.confirmed and c.media is not None for c in calls)
        # One account (PJSUA_MAX_ACC is 8): a test tells the calls apart by SIP Call-ID (direct
        # calls) or by what each one says (through a PBX, which makes its own Call-IDs).
        print(json.dumps({"call_ids": [c.sip_call_id for c in calls]}), flush=True)
        recorders: list[pj.AudioMediaRecorder] = []
        players: list[pj.AudioMediaPlayer] = []
        for c, (_i, _play, rec) in zip(calls, specs, strict=True):
            if c.media is not None:
                recorders.append(pj.AudioMediaRecorder())
                recorders[-1].createRecorder(rec)
                c.media.startTransmit(recorders[-1])
        start = time.monotonic()
        played = False
        remote_hangups = 0
        while time.monotonic() - start < a.hangup_at:
            ep.libHandleEvents(10)
            if not played and time.monotonic() - start >= a.play_at:
                for c, (_i, play, _rec) in zip(calls, specs, strict=True):
                    if c.media is not None:
                        players.append(pj.AudioMediaPlayer())
                        players[-1].createPlayer(play, pj.PJMEDIA_FILE_NO_LOOP)
                        players[-1].startTransmit(c.media)
                played = True
        remote_hangups = sum(c.disconnected for c in calls)
        hung_up = [
            {"call": i, **c.ended, "at": round(float(c.ended["at"]) - start, 2)}  # type: ignore[arg-type]
            for i, c in enumerate(calls)
            if c.disconnected
        ]
        ep.hangupAllCalls()
        end = time.monotonic() + 5
        while time.monotonic() < end and not all(c.disconnected for c in calls):
            ep.libHandleEvents(20)
        print(
            json.dumps({"up": up, "remote_hangups": remote_hangups, "hung_up": hung_up}), flush=True
        )
        recorders.clear()
        players.clear()
        for c in calls:
            c.media = None
        del c
        calls.clear()
        acc.shutdown()
        del acc
        accounts.clear()


if __name__ == "__main__":
    main()
