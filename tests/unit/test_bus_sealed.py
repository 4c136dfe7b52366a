"""The services reach Redis only through the bus's typed methods (issue 16, item 2): no
``.redis`` in their code nor in their tests (the raw client stays in
``libs/pipeline/src/pipeline/bus.py``; a service's test that reads Redis directly uses a
client of its own, the ``raw_redis`` fixture) and no command tuples run by name on a
pipeline anywhere in libs/pipeline."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAW_CLIENT = re.compile(r"\.redis\b")
BY_NAME = re.compile(r"getattr\(\s*pipe\b")


def offenders(files: list[Path], pattern: re.Pattern[str], root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]


SERVICES = {"sip-edge", "stt-worker", "llm-worker", "tts-worker"}


def test_no_service_code_touches_the_raw_redis_client() -> None:
    files = sorted(ROOT.glob("services/*/src/**/*.py"))
    # the scan covers every Python service (a glob that found nothing passes vacuously)
    packages = {p.relative_to(ROOT).parts[1] for p in files}
    assert packages >= SERVICES
    assert offenders(files, RAW_CLIENT) == []


def test_no_service_test_reaches_redis_through_the_bus_client() -> None:
    """``grep -rn "\\.redis\\b" services/`` finds nothing: the tests hold their own client."""
    files = sorted(ROOT.glob("services/*/tests/**/*.py"))
    packages = {p.relative_to(ROOT).parts[1] for p in files}
    assert packages >= SERVICES
    assert offenders(files, RAW_CLIENT) == []


def test_no_command_is_run_by_name_on_a_pipeline() -> None:
    files = sorted(ROOT.glob("libs/pipeline/src/pipeline/*.py"))
    assert ROOT / "libs/pipeline/src/pipeline/bus.py" in files
    assert offenders(files, BY_NAME) == []


def test_the_scan_finds_what_it_forbids(tmp_path: Path) -> None:
    planted = tmp_path / "worker.py"
    planted.write_text(
        "from pipeline.redis_client import UNAVAILABLE\n"
        "options = settings.redis_options\n"
        "await self.bus.redis.zadd(key, {sid: 1.0})\n"
        "for method, *args in extra:\n"
        "    getattr(pipe, method)(*args)\n"
    )
    assert offenders([planted], RAW_CLIENT, tmp_path) == [
        "worker.py:3: await self.bus.redis.zadd(key, {sid: 1.0})"
    ]
    assert offenders([planted], BY_NAME, tmp_path) == ["worker.py:5: getattr(pipe, method)(*args)"]
