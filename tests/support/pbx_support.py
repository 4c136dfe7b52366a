"""Helpers of the PBX integration tests: the Asterisk runner, its CLI, prompts to listen for."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
from sipphone import PhoneCall, PhoneError, normalized_xcorr, poll_until, read_wav

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


def cli(command: str) -> str:
    return runner("cli", command, env={"PABX_ASTERISK_LOCK_HELD": "1"})


def read_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (REPO / "compose" / ".env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            values[k.strip()] = v.strip()
    return values


def prompt(name: str, start: float = 0.15, seconds: float = 1.0) -> np.ndarray:
    """A slice of a generated prompt, to look for in what a phone heard."""
    samples = read_wav(SOUNDS / f"{name}.wav")
    return samples[int(start * 8000) : int((start + seconds) * 8000)]


def wait_heard(
    call: PhoneCall, reference: np.ndarray, timeout: float = 10, threshold: float = 0.8
) -> float:
    """Polls a call's recording until ``reference`` is found in it; returns the score."""
    best = 0.0

    def found() -> bool:
        nonlocal best
        best = max(best, normalized_xcorr(reference, call.recording()))
        return best >= threshold

    try:
        poll_until(found, timeout, "the expected audio", interval=0.25)
    except PhoneError:
        raise AssertionError(f"audio not heard (best correlation {best:.2f})") from None
    return best
