"""Media ports are never destroyed while the conference bridge's clock runs (issue 11).

The bridge calls every registered port on each clock tick (a port without connections
still gets heart-beat frames), holding the port's lock while the Python callback runs.
Destroying a Python ``AudioMediaPort`` drops the Python object first and the C++ one after:
a callback that enters in between runs on a half torn down object and the process dies
with SIGSEGV. sip-edge destroyed each call's port 2 s after the call, and died that way in
clean-clone runs (faulthandler: ``Endpoint._reap``). Each scenario runs in a child process
with the real PJSUA2 library, a null sound device (the clock thread) and Python threads
that keep the GIL busy, as the edge's event loop does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration  # PJSUA2 in a child process

pytest.importorskip("pjsua2")

HARNESS = textwrap.dedent(
    """
    import sys, threading, time
    import pjsua2 as pj
    from sip_edge.sip.endpoint import _MediaPort, _PortPool

    mode, cycles = sys.argv[1], int(sys.argv[2])

    class Owner:  # what a call's _MediaLink offers the media clock thread
        silence = bytes(320)
        def deliver_frame(self, pcm):
            sum(range(50))
        def playout_frame(self):
            return self.silence

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    cfg.medConfig.maxMediaPorts = 32
    ep.libInit(cfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    stop = False
    def churn():
        while not stop:
            sum(range(2000))
    for _ in range(2):
        threading.Thread(target=churn, daemon=True).start()

    pool = _PortPool()
    for i in range(cycles):
        if mode == "pool":
            port = pool.take(8000, Owner())
        else:  # what sip-edge did: a new port per call, destroyed after it
            fmt = pj.MediaFormatAudio()
            fmt.type = pj.PJMEDIA_TYPE_AUDIO
            fmt.clockRate, fmt.channelCount, fmt.bitsPerSample = 8000, 1, 16
            fmt.frameTimeUsec = 20000
            port = _MediaPort()
            port.createPort(f"p{i}", fmt)
            port.attach(Owner())
        port.startTransmit(port)  # connected: frames both ways on every tick
        ep.libHandleEvents(5)
        time.sleep(0.01)
        port.stopTransmit(port)
        if mode == "pool":
            pool.give_back(port, 8000, time.monotonic())
            pool.tick(time.monotonic() + 1)
        del port
    stop = True
    ep.audDevManager().setNoDev()  # the shutdown order of Endpoint._shutdown
    print("ports", pool.size, flush=True)
    pool.destroy_all()
    ep.libDestroy()
    print("clean exit", flush=True)
    """
)


def _run(mode: str, cycles: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HARNESS, mode, str(cycles)],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_pooled_ports_serve_call_after_call_and_shutdown_is_clean() -> None:
    proc = _run("pool", 300)
    out = proc.stdout + proc.stderr[-3000:]
    assert proc.returncode == 0, out
    assert "ports 1\n" in proc.stdout, out  # one port served all 300 "calls"
    assert "clean exit" in proc.stdout, out


def test_the_harness_sees_a_port_destroyed_while_the_clock_runs() -> None:
    """The control: the old pattern under the same harness kills the process (it did
    within 100 cycles in every try here), so the pooled run above can fail."""
    proc = _run("destroy", 1500)
    assert proc.returncode != 0, "destroying ports under the clock survived 1500 cycles"
    assert "clean exit" not in proc.stdout
