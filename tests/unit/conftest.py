"""The unit tests of the repository's own tools import them by name: the test helpers of
tests/support and the benchmarks' pure parts in bench/. tests/support comes first:
tests/support/drills.py (the drills' judge) and bench/drills.py (the bench) share a name."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests" / "support"), str(REPO / "bench")]
