"""SIPp against the real Asterisk: malformed SIP and a bounded REGISTER flood on loopback,
while a legitimate call keeps working."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pbx_support import cli, wait_heard
from sipphone import Phone, make_signal

pytestmark = pytest.mark.slow
SCENARIOS = Path(__file__).parent / "sipp"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sipp(scenario: str, *args: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    sipp = shutil.which("sipp")
    assert sipp, "sipp missing: scripts/setup.d/30-asterisk-prompts.sh installs sip-tester"
    return subprocess.Popen(
        [
            sipp,
            "127.0.0.1:5160",
            "-sf",
            str(SCENARIOS / scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(_free_udp_port()),
            "-nostdin",
            "-timeout",
            "60s",
            "-timeout_error",
            "-trace_stat",
            "-stf",
            str(tmp_path / "stat.csv"),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )


def _call_with_audio(phones: dict[str, Phone]) -> None:
    out = phones["1001"].call("1002")
    inc = phones["1002"].wait_incoming(10)
    inc.answer()
    out.wait_confirmed()
    sig = make_signal(1.5, seed=51)
    out.play(sig)
    wait_heard(inc, sig, timeout=10)
    out.hangup()
    inc.wait_disconnected()


def test_malformed_sip_is_dropped_and_calls_still_work(
    phones: dict[str, Phone], tmp_path: Path
) -> None:
    proc = _sipp("malformed.xml", "-m", "30", "-r", "30", tmp_path=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), err.decode(errors="replace")[-2000:]
    assert "Endpoint:" in cli("pjsip show endpoints")
    _call_with_audio(phones)


def test_register_flood_does_not_stop_a_legitimate_call(
    phones: dict[str, Phone], tmp_path: Path
) -> None:
    # bounded: 1500 REGISTERs at 250/s (6 s), at most 200 outstanding, loopback only
    proc = _sipp("register_flood.xml", "-m", "1500", "-r", "250", "-l", "200", tmp_path=tmp_path)
    try:
        time.sleep(1.0)  # the flood is under way
        assert proc.poll() is None, "the flood ended before the call: make it longer"
        _call_with_audio(phones)
        flooding_during_call = proc.poll() is None
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert flooding_during_call, "the call finished after the flood, not during it"
    assert proc.returncode in (0, 1), err.decode(errors="replace")[-2000:]
    # the flood registered nothing
    assert "flood@" not in cli("pjsip show contacts")
    # and the registered phones are still there
    assert phones["1001"].reg_active
