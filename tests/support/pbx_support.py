"""Helpers of the PBX integration tests: the Asterisk runner, its CLI, prompts to listen for."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy.typing as npt
from sipphone import PhoneCall, PhoneError, SipStack, poll_until, read_wav, sliced_xcorr

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "scripts" / "asterisk.sh"
LOCK = "/tmp/pabx-asterisk.lock"
SOUNDS = REPO / "compose" / "asterisk" / "sounds" / "gerados"
TEST_ENV = {
    "PABX_LOOPBACK": "1",
    "PABX_RING_TIMEOUT": "8",
    "PABX_URA_TIMEOUT": "4",
    "PABX_ASTERISK_LOCK_HELD": "1",
}


def runner(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        [str(RUNNER), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"asterisk.sh {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@contextlib.contextmanager
def locked_asterisk(timeout: float = 280, env: dict[str, str] | None = None) -> Iterator[None]:
    """Holds /tmp/pabx-asterisk.lock (waiting up to ``timeout`` s for other runs) and the
    Asterisk of the loopback/test profile (TEST_ENV plus ``env``) while inside. Afterwards an
    Asterisk that was already running (make up) gets its normal configuration back; one
    started here is stopped."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise RuntimeError(f"{LOCK} held by another run for {timeout:.0f} s") from None
            time.sleep(1)
    try:
        was_running = (
            subprocess.run([str(RUNNER), "status"], capture_output=True, timeout=60).returncode == 0
        )
        runner("start", env={**TEST_ENV, **(env or {})})
        try:
            yield
        finally:
            if was_running:
                runner("install-config", env={"PABX_ASTERISK_LOCK_HELD": "1"}, check=False)
            else:
                runner("stop", env={"PABX_ASTERISK_LOCK_HELD": "1"}, check=False)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def cli(command: str) -> str:
    return runner("cli", command, env={"PABX_ASTERISK_LOCK_HELD": "1"})


def release_calls(stack: SipStack) -> None:
    """Hangs up every call of ``stack``, refuses the incoming ones not taken, and waits
    until Asterisk has released every channel (between tests, between bench questions)."""
    stack.hangup_all()
    for phone in stack._phones:
        while phone.has_incoming():
            phone.wait_incoming(0.1).hangup()
    poll_until(
        lambda: "0 active channels" in cli("core show channels count"),
        15,
        "Asterisk to release every channel",
    )


def read_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (REPO / "compose" / ".env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            values[k.strip()] = v.strip()
    return values


def prompt(name: str, start: float = 0.15, seconds: float = 1.0) -> npt.NDArray[Any]:
    """A slice of a generated prompt, to look for in what a phone heard."""
    samples = read_wav(SOUNDS / f"{name}.wav")
    return samples[int(start * 8000) : int((start + seconds) * 8000)]


def best_heard(
    call: PhoneCall, reference: npt.NDArray[Any], timeout: float = 10, threshold: float = 0.8
) -> float:
    """Polls a call's recording until ``reference`` is found in it (slice by slice, so a
    frame that the jitter buffer inserts or drops under load does not hide it:
    sipphone.sliced_xcorr) or ``timeout`` s pass; returns the best score, below
    ``threshold`` when it was not heard."""
    best = 0.0

    def found() -> bool:
        nonlocal best
        best = max(best, sliced_xcorr(reference, call.recording()))
        return best >= threshold

    with contextlib.suppress(PhoneError):
        poll_until(found, timeout, "the expected audio", interval=0.25)
    return best


def wait_heard(
    call: PhoneCall, reference: npt.NDArray[Any], timeout: float = 10, threshold: float = 0.8
) -> float:
    """:func:`best_heard`, failing the test when ``reference`` was not heard; returns the
    score."""
    best = best_heard(call, reference, timeout, threshold)
    if best < threshold:
        raise AssertionError(f"audio not heard (best correlation {best:.2f})")
    return best


def asterisk_log_dir() -> Path:
    """Where the test Asterisk writes its log files (scripts/asterisk.sh's runtimes): the
    chroot's /var/log/asterisk, or this clone's .run/asterisk/log for a system Asterisk."""
    mode = os.environ.get("PABX_ASTERISK_MODE") or (
        "system" if shutil.which("asterisk") else "chroot"
    )
    if mode == "system":
        return REPO / ".run" / "asterisk" / "log"
    cache = os.environ.get("PABX_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pabx"
    )
    return Path(cache) / "asterisk-sid" / "var" / "log" / "asterisk"
