"""The installed pjsua2 is the source build without the 4-call wall (PJSUA_MAX_CALLS 4 in
the PyPI wheels): one process holds 20 PJSUA calls (10 loopback calls, both ends)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # PJSUA2 in a child process

PROBE = Path(__file__).parent / "support" / "pjsua2_capacity_probe.py"


def test_one_process_holds_more_than_four_calls() -> None:
    out = subprocess.run(
        [sys.executable, str(PROBE), "10"], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["outgoing_confirmed"] == 10
    assert result["incoming_confirmed"] == 10
