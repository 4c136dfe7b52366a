"""The kinds of tests (conftest.py): how each test is marked, and the guard that holds a
unit test to its process."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_conftest() -> ModuleType:
    """A second instance of the repository's conftest.py (its guard is not the session's)."""
    spec = importlib.util.spec_from_file_location("repo_conftest", ROOT / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kinds = _load_conftest()


def _guard(all_threads: bool = True) -> Any:
    guard = kinds.UnitGuard()
    guard.active = True
    guard.all_threads = all_threads
    return guard


def test_a_new_process_is_refused_and_remembered() -> None:
    guard = _guard()
    with pytest.raises(RuntimeError, match="must not open a new process"):
        guard.hook("subprocess.Popen", ("redis-server", ["redis-server"], None, None))
    with pytest.raises(RuntimeError, match="must not open a new process"):
        guard.hook("os.fork", ())
    assert len(guard.violations) == 2


def test_outside_a_unit_test_nothing_is_refused() -> None:
    guard = _guard()
    guard.active = False
    guard.hook("subprocess.Popen", ("redis-server", ["redis-server"], None, None))
    assert guard.violations == []


def test_a_librarys_question_about_the_machine_is_let_through() -> None:
    guard = _guard()
    guard.hook("subprocess.Popen", ("uname", ["uname", "-p"], None, None))
    assert guard.violations == []


def test_a_server_of_this_process_is_reachable_one_of_another_is_not() -> None:
    guard = _guard()
    with (
        socket.socket() as mine,
        socket.socket() as theirs,  # bound where the guard did not see it: another process's
        socket.socket() as client,
    ):
        mine.bind(("127.0.0.1", 0))
        guard.hook("socket.bind", (mine, ("127.0.0.1", 0)))
        mine.listen()
        theirs.bind(("127.0.0.1", 0))
        theirs.listen()
        guard.hook("socket.connect", (client, ("127.0.0.1", mine.getsockname()[1])))
        assert guard.violations == []
        with pytest.raises(RuntimeError, match="must not open a connection"):
            guard.hook("socket.connect", (client, ("127.0.0.1", theirs.getsockname()[1])))


def test_a_loopback_port_nothing_listens_on_is_let_through_a_remote_host_is_not() -> None:
    guard = _guard()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with socket.socket() as client:
        guard.hook("socket.connect", (client, ("127.0.0.1", closed)))
        assert guard.violations == []
        with pytest.raises(RuntimeError, match="must not open a connection"):
            guard.hook("socket.connect", (client, ("192.0.2.1", 6379)))  # TEST-NET-1


def test_in_a_mixed_run_only_the_main_thread_is_held() -> None:
    guard = _guard(all_threads=False)
    errors: list[BaseException] = []

    def spawn() -> None:
        try:
            guard.hook("subprocess.Popen", ("redis-server", ["redis-server"], None, None))
        except RuntimeError as e:
            errors.append(e)

    thread = threading.Thread(target=spawn)
    thread.start()
    thread.join()
    assert errors == []
    guard.all_threads = True
    thread = threading.Thread(target=spawn)
    thread.start()
    thread.join()
    assert len(errors) == 1


SAMPLE = """
import subprocess

import pytest


def test_pure():
    assert True


def test_spawns():
    subprocess.run(["true"], check=True)


def test_swallows():
    try:
        subprocess.run(["true"], check=True)
    except RuntimeError:
        pass


@pytest.mark.integration
def test_marked():
    subprocess.run(["true"], check=True)


def test_uses_redis(redis_server):
    pass
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    config = ["-c", str(ROOT / "pyproject.toml"), "-p", "conftest", "--rootdir", str(tmp_path)]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *config, "-q", "-rA", *args, "test_sample.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.integration  # pytest as a child process
def test_a_run_of_unit_tests_fails_those_that_leave_their_process(tmp_path: Path) -> None:
    out = _pytest(tmp_path, "-m", "unit").stdout
    assert "PASSED test_sample.py::test_pure" in out
    assert "FAILED test_sample.py::test_spawns" in out
    assert "must not open a new process" in out
    # the code under test swallowed the refusal: the test fails all the same
    assert "FAILED test_sample.py::test_swallows" in out
    assert "2 failed, 1 passed, 2 deselected" in out


@pytest.mark.integration  # pytest as a child process
def test_marked_and_fixture_tests_are_integration(tmp_path: Path) -> None:
    out = _pytest(tmp_path, "-m", "integration", "--collect-only").stdout
    assert "test_sample.py::test_marked" in out
    assert "test_sample.py::test_uses_redis" in out
    assert "test_pure" not in out
