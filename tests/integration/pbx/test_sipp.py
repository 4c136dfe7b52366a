"""SIPp against the real Asterisk: malformed SIP and bounded REGISTER and INVITE floods on loopback,
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
    out, inc = phones["1001"].call_answered("1002", phones["1002"])
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


def _call_during_flood(phones: dict[str, Phone], scenario: str, tmp_path: Path) -> str:
    """Runs a bounded flood (1500 requests at 250/s, 6 s, at most 200 outstanding, loopback
    only) and a legitimate call with audio while it is under way; returns SIPp's stderr."""
    proc = _sipp(scenario, "-m", "1500", "-r", "250", "-l", "200", tmp_path=tmp_path)
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
    return err.decode(errors="replace")


def test_register_flood_does_not_stop_a_legitimate_call(
    phones: dict[str, Phone], tmp_path: Path
) -> None:
    _call_during_flood(phones, "register_flood.xml", tmp_path)
    # the flood registered nothing
    assert "flood@" not in cli("pjsip show contacts")
    # and the registered phones are still there
    assert phones["1001"].reg_active


def test_invite_flood_does_not_stop_a_legitimate_call(
    phones: dict[str, Phone], tmp_path: Path
) -> None:
    """1500 unauthenticated INVITEs to 1002 while 1001 calls 1002: the real call rings and
    carries audio, no flood INVITE rings 1002 or leaves a channel, and every flood INVITE
    got a final refusal (SIPp counts a call as successful only when it did)."""
    _call_during_flood(phones, "invite_flood.xml", tmp_path)
    stats = (tmp_path / "stat.csv").read_text().splitlines()
    header, last = stats[0].split(";"), stats[-1].split(";")
    row = dict(zip(header, last, strict=False))
    counts = {k: row.get(k) for k in ("TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)")}
    assert int(row["SuccessfulCall(C)"]) >= 1400, counts  # refused (401/403/407) and ACKed
    assert not phones["1002"].has_incoming(), "a flood INVITE rang 1002"
    time.sleep(0.5)
    assert "0 active calls" in cli("core show channels count")
    assert phones["1001"].reg_active
    assert phones["1002"].reg_active
