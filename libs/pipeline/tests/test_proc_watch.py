"""pipeline.proc_watch and the plugin's check between tests, with real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pipeline.proc_watch import ProcessWatch, describe_exit, log_tail, pid_status

CRASH = (
    "import os, signal; print('about to crash', flush=True); os.kill(os.getpid(), signal.SIGSEGV)"
)


def test_describe_exit_names_the_status_or_the_signal() -> None:
    assert describe_exit(0) == "exited with status 0"
    assert describe_exit(3) == "exited with status 3"
    assert describe_exit(-signal.SIGSEGV) == "killed by signal 11 (SIGSEGV)"
    assert describe_exit(-200) == "killed by signal 200 (unknown signal)"


def test_log_tail_keeps_the_end_and_reports_a_missing_file(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("a" * 100 + "THE END")
    assert log_tail(log, chars=7) == "THE END"
    assert log_tail(tmp_path / "missing.log").startswith("(no log:")


@pytest.mark.integration  # child processes
def test_a_crashed_child_is_reported_once_with_its_signal_and_log(tmp_path: Path) -> None:
    watch = ProcessWatch()
    log = tmp_path / "svc.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", CRASH], stdout=out, stderr=out)
    watch.add_popen("svc", "svc_fixture", lambda: proc, log)
    proc.wait(10)
    assert watch.deaths(["other_fixture"]) == []  # only the tests that use the fixture
    first = watch.deaths(["svc_fixture", "tmp_path"])
    assert len(first) == 1
    assert "svc died: killed by signal 11 (SIGSEGV)" in first[0]
    assert "about to crash" in first[0]
    later = watch.deaths(["svc_fixture"])
    assert later == [
        "svc died before this test (killed by signal 11 (SIGSEGV)); "
        "its log is in the first failure that reported it"
    ]


@pytest.mark.integration  # child processes
def test_a_running_or_removed_child_is_not_reported(tmp_path: Path) -> None:
    watch = ProcessWatch()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        watch.add_popen("sleeper", "f", lambda: proc, tmp_path / "none.log")
        assert watch.deaths(["f"]) == []
        watch.remove("sleeper")
        proc.terminate()
        proc.wait(10)
        assert watch.deaths(["f"]) == []
    finally:
        proc.kill()
        proc.wait()


def test_a_stopped_service_that_was_not_started_again_is_reported(tmp_path: Path) -> None:
    watch = ProcessWatch()
    watch.add_popen("redis", "f", lambda: None, tmp_path / "none.log")
    assert "redis died: not running" in watch.deaths(["f"])[0]


@pytest.mark.integration  # child processes
def test_a_daemon_is_watched_through_its_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / "d.pid"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    pidfile.write_text(f"{proc.pid}\n")
    probe = pid_status(pidfile)
    assert probe() is None
    proc.kill()
    proc.wait()
    assert f"process {proc.pid} is gone" in (probe() or "")
    pidfile.write_text("garbage")
    assert "unreadable" in (probe() or "")
    pidfile.unlink()
    assert "gone or unreadable" in (probe() or "")


@pytest.mark.integration  # pytest in a child process
def test_the_plugin_fails_the_tests_after_a_death_at_once(tmp_path: Path) -> None:
    """A real pytest run: the service dies during the first test; that test fails at its
    teardown with the signal and the log, the next test that uses the fixture fails before
    it starts (no wait), and a test that does not use it passes."""
    (tmp_path / "test_svc.py").write_text(
        textwrap.dedent(
            f"""
            import subprocess, sys, time
            import pytest
            from pipeline.proc_watch import WATCH

            @pytest.fixture(scope="module")
            def svc(tmp_path_factory):
                log = tmp_path_factory.mktemp("svc") / "svc.log"
                with log.open("wb") as out:
                    proc = subprocess.Popen(
                        [sys.executable, "-c", "import time; time.sleep(60)"],
                        stdout=out, stderr=out)
                log.write_text("last words of svc\\n")
                WATCH.add_popen("svc", "svc", lambda: proc, log)
                yield proc
                WATCH.remove("svc")
                proc.kill()
                proc.wait()

            def test_one(svc):
                svc.send_signal({int(signal.SIGSEGV)})
                svc.wait(10)

            def test_two(svc):
                time.sleep(30)  # never reached: the check fails the test first

            def test_unrelated():
                pass
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "pipeline.pytest_plugin", "-q", "-rA",
         "-p", "no:cacheprovider", str(tmp_path / "test_svc.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "ERROR at teardown of test_one" in out, out
    assert "svc died: killed by signal 11 (SIGSEGV)" in out, out
    assert "last words of svc" in out, out
    assert "ERROR at setup of test_two" in out, out
    assert "svc died before this test" in out, out
    assert "PASSED test_svc.py::test_unrelated" in out, out
