"""Services under test that must stay up between tests.

A test fixture that starts a long-lived service (sip-edge, a worker, a redis-server,
Asterisk) registers it here with the fixture's name. Before and after every test that uses
that fixture, the pytest plugin (``pipeline.pytest_plugin``) asks whether the service is
still running; a dead one fails the test at once with its exit status (or the signal that
killed it) and the end of its log, and so does every later test that uses the fixture,
instead of each of them waiting for its own timeout against a process that is gone.

A fixture that stops its service on purpose removes it first (:meth:`ProcessWatch.remove`);
a test that restarts a service in place (a Redis restart drill) needs nothing: only the
state between tests is checked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

__all__ = ["WATCH", "ProcessWatch", "describe_exit", "log_tail", "pid_status", "watching"]

TAIL_CHARS = 4000
"""How much of a dead service's log a failure shows."""


def describe_exit(returncode: int) -> str:
    """``subprocess`` return code in words: the exit status, or the signal that killed it."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-returncode} ({name})"
    return f"exited with status {returncode}"


def log_tail(path: Path, chars: int = TAIL_CHARS) -> str:
    """The last ``chars`` characters of a log file (a note when it is missing)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - chars))
            return f.read().decode(errors="replace")
    except OSError as e:
        return f"(no log: {e})"


def pid_status(pidfile: Path) -> Callable[[], str | None]:
    """A status probe for a daemon that is not our child (only a pidfile names it):
    ``None`` while the process lives, a description once it is gone."""

    def probe() -> str | None:
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return f"its pidfile {pidfile} is gone or unreadable"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"process {pid} is gone (not our child: exit status unknown)"
        except PermissionError:
            return None
        return None

    return probe


_Popen = subprocess.Popen[bytes] | subprocess.Popen[str]


@dataclasses.dataclass(slots=True)
class _Entry:
    name: str
    fixture: str
    status: Callable[[], str | None]
    log: Callable[[], str]
    death: str | None = None


class ProcessWatch:
    """The registry of watched services; one per test process (:data:`WATCH`)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def add(
        self,
        name: str,
        fixture: str,
        status: Callable[[], str | None],
        log: Callable[[], str],
    ) -> None:
        """Watches ``name`` for the tests that use ``fixture``. ``status`` returns ``None``
        while the service runs, else how it ended; ``log`` returns the end of its log."""
        self._entries[name] = _Entry(name, fixture, status, log)

    def add_popen(
        self, name: str, fixture: str, proc: Callable[[], _Popen | None], log: Path
    ) -> None:
        """Watches a child process; ``proc`` returns the current Popen (a service restarted
        in place gets a new one), ``None`` while it is between two runs."""

        def status() -> str | None:
            p = proc()
            if p is None:
                return "not running (stopped and not started again)"
            code = p.poll()
            return None if code is None else describe_exit(code)

        self.add(name, fixture, status, lambda: log_tail(log))

    def remove(self, name: str) -> None:
        """Stops watching ``name`` (call it before stopping the service on purpose)."""
        self._entries.pop(name, None)

    def deaths(self, fixtures: Iterable[str]) -> list[str]:
        """Reports for the dead services among those the given fixtures own. A death is
        found once and then remembered: every later test that uses the fixture gets it."""
        wanted = set(fixtures)
        reports = []
        for e in self._entries.values():
            if e.fixture not in wanted:
                continue
            if e.death is None:
                how = e.status()
                if how is None:
                    continue
                e.death = how
                reports.append(f"{e.name} died: {how}\n--- end of its log ---\n{e.log()}")
            else:
                reports.append(
                    f"{e.name} died before this test ({e.death}); "
                    "its log is in the first failure that reported it"
                )
        return reports


WATCH = ProcessWatch()
"""The test process's registry, used by the fixtures and checked by the pytest plugin."""


@contextlib.contextmanager
def watching(
    name: str, fixture: str, proc: Callable[[], _Popen | None], log: Path
) -> Iterator[None]:
    """While inside, the tests that use ``fixture`` fail at once if the child process that
    ``proc`` returns dies (a restart in place stays watched), with its exit status and the
    end of ``log``; leaving stops the watch, so a fixture stops its service after it."""
    WATCH.add_popen(name, fixture, proc, log)
    try:
        yield
    finally:
        WATCH.remove(name)
