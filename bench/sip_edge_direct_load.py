"""CPU and memory of one sip-edge process per simultaneous call, without Asterisk.

    .venv/bin/python bench/sip_edge_direct_load.py --calls 0 10 20 40 [--seconds 20]

For each N: starts sip-edge (real Redis), and one PJSUA2 caller process that places N calls
straight to sip-edge's SIP port, each playing speech in a loop (espeak-ng, with pauses, so
the VAD segments utterances). Once every call is up it measures, over --seconds, the CPU
time sip-edge used (user+system from /proc) and its resident memory. N = 0 is an idle
process: the fixed cost that running several small processes instead of one would repeat.
Needs the source build of pjsua2 (scripts/setup.d/30-pjsua2.sh): the PyPI wheels stop at 4.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_support import use_test_support

use_test_support()

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def looping_call_class() -> Any:
    """A call of the PJSUA2 test phone (tests/support/pj_endpoint.py) that, once its media is
    up, plays ``wav`` to the far end in a loop (the class is made here: pjsua2 is imported
    only in a caller process)."""
    import pjsua2 as pj
    from pj_endpoint import AudioCall

    class Call(AudioCall):
        def __init__(self, acc: Any, wav: str) -> None:
            super().__init__(acc)
            self.wav = wav
            self.up = False
            self.player: Any = None

        def on_audio(self, media: Any) -> None:
            if self.player is not None:  # a re-INVITE: the media is already playing
                return
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(self.wav)  # loops
            self.player.startTransmit(media)
            self.up = True

    return Call


def open_endpoint(max_calls: int) -> tuple[Any, Any]:
    """The PJSUA2 test phone's endpoint (tests/support/pj_endpoint.py: one per process,
    polled by the caller's own thread, UDP on a free loopback port, PCMU only, no sound
    device, PJSUA's jitter buffer); and its account."""
    import pjsua2 as pj
    from pj_endpoint import local_account, start_endpoint

    ep, _tid, port = start_endpoint(max_calls=max_calls, jitter_buffer_ms=None)
    return ep, local_account(pj.Account(), "load", port)


def caller_main(target: str, calls: int, wav: str, hold: float) -> None:
    """Caller mode (its own process: one PJSUA2 Endpoint per process)."""
    import gc

    import pjsua2 as pj

    Call = looping_call_class()
    ep, acc = open_endpoint(calls + 2)
    all_calls = []
    for _ in range(calls):
        c = Call(acc, wav)
        c.makeCall(target, pj.CallOpParam(True))
        all_calls.append(c)
        ep.libHandleEvents(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(c.up for c in all_calls) < calls:
        ep.libHandleEvents(20)
    print(json.dumps({"up": sum(c.up for c in all_calls)}), flush=True)
    end = time.monotonic() + hold
    while time.monotonic() < end:
        ep.libHandleEvents(20)
    ep.hangupAllCalls()
    for _ in range(100):
        ep.libHandleEvents(20)
    for c in all_calls:
        c.player = None
    all_calls.clear()
    acc.shutdown()
    del acc
    gc.collect()
    ep.libDestroy()


def first_line_starting(proc: subprocess.Popen[str], prefix: str, died: str) -> str:
    """The first line of ``proc``'s stdout that starts with ``prefix``; RuntimeError(``died``)
    if its output ends before one."""
    assert proc.stdout is not None
    while line := proc.stdout.readline():
        if line.startswith(prefix):
            return line
    raise RuntimeError(died)


def measure(calls: int, seconds: float, wav: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "SIP_EDGE_SIP_PORT": "0",
        "SIP_EDGE_SIP_BIND": "127.0.0.1",
        "SIP_EDGE_RTP_PORT": "0",
        "SIP_EDGE_METRICS_PORT": "0",
        "SIP_EDGE_METRICS_HOST": "127.0.0.1",
        "SIP_EDGE_MAX_CALLS": str(max(calls, 1)),
        "SIP_EDGE_DRAIN_GRACE_S": "1",
        "SIP_EDGE_LOG_LEVEL": "WARNING",
    }
    edge = subprocess.Popen(
        [sys.executable, "-m", "sip_edge"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert edge.stdout is not None
    line = first_line_starting(edge, "SIP_EDGE_READY", "sip-edge did not start")
    port = int(dict(p.split("=") for p in line.split()[1:])["sip_port"])
    caller = None
    up = 0
    try:
        if calls:
            caller = subprocess.Popen(
                [sys.executable, __file__, "--caller", f"sip:2000@127.0.0.1:{port}",
                 str(calls), str(wav), str(seconds + 5)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
            up = json.loads(first_line_starting(caller, "{", "the caller process died"))["up"]
        time.sleep(2)  # let the calls settle
        c0, t0 = cpu_seconds(edge.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(edge.pid), time.monotonic()
        rss = rss_mb(edge.pid)
    finally:
        if caller is not None:
            caller.wait(60)
            if caller.stdout is not None:
                caller.stdout.close()
        edge.send_signal(signal.SIGTERM)
        edge.wait(30)
        edge.stdout.close()
    core_share = (c1 - c0) / (t1 - t0)
    return {
        "calls": calls,
        "calls_up": up,
        "cpu_percent_of_one_core": round(100 * core_share, 1),
        "cpu_percent_per_call": round(100 * core_share / calls, 2) if calls else 0.0,
        "rss_mb": round(rss, 1),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--caller":
        caller_main(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, nargs="+", default=[0, 10, 20, 40])
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    from sip_edge.testing import speech_wav

    tmp = Path(tempfile.mkdtemp(prefix="edgeload-"))
    wav = speech_wav(
        "Eu queria saber o saldo da minha conta. Pode verificar, por favor? Obrigado.",
        tmp / "loop.wav",
    )
    # Two seconds of silence after the phrase, so each loop ends an utterance.
    padded = tmp / "loop-padded.wav"
    subprocess.run(["sox", str(wav), str(padded), "pad", "0", "2"], check=True)
    rows = [measure(n, args.seconds, padded) for n in args.calls]
    for r in rows:
        print(json.dumps(r))
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load[0]:.1f} at the end")  # fmt: skip


if __name__ == "__main__":
    main()
