"""Fixtures shared by every test folder of the repository, and the kind of every test.

Each test is ``unit``, ``integration`` or ``e2e`` (markers registered in pyproject.toml):

- ``e2e``: a call or an ASP session through the whole system (tests/integration/agent,
  tests/integration/asp_clients) or the container stack; marked by folder or explicitly;
- ``integration``: it reaches something outside the test process (a redis-server,
  Asterisk, a service or tool run as its own process) or loads a model; marked by folder
  (tests/integration), by fixture (:data:`EXTERNAL_FIXTURES`) or explicitly;
- ``unit``: everything else, marked here. ``pytest -m unit`` is the fast feedback loop.

A unit test is held to it while it is set up and runs (:class:`UnitGuard`): starting a
process or connecting to a server outside this process fails it, with the marker to use
instead. ``-m unit`` does not even import the integration folders and the modules marked
integration or e2e as a whole.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import sys
import threading
import weakref
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ("pipeline.pytest_plugin",)

UNIT, INTEGRATION, E2E = "unit", "integration", "e2e"
KINDS = (UNIT, INTEGRATION, E2E)

FOLDER_KINDS: tuple[tuple[str, str], ...] = (
    ("tests/integration/agent/", E2E),
    ("tests/integration/asp_clients/", E2E),
    ("tests/integration/", INTEGRATION),
)
"""Folders (from the repository root, first match wins) whose every test is of one kind."""

EXTERNAL_FIXTURES = frozenset(
    {
        # pipeline.pytest_plugin: a redis-server process (``bus`` uses it)
        "redis_server",
        # stt_worker.pytest_plugin, tts_worker.pytest_plugin: the real models, espeak-ng
        "whisper",
        "kokoro",
        "piper",
        "espeak",
        # tests/deploy/conftest.py: the pinned deploy tools (bash), kustomize's overlays
        "tools",
        "built",
    }
)
"""Fixtures that start or reach something outside the test process, or load a model: a
test that uses one, directly or through another fixture, is an integration test."""

ROOT = Path(__file__).resolve().parent


def _folder_kind(path: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(ROOT).as_posix() + "/"
    except ValueError:
        return None
    for folder, kind in FOLDER_KINDS:
        if rel.startswith(folder):
            return kind
    return None


_MODULE_KIND = re.compile(r"^pytestmark = pytest\.mark\.(integration|e2e)\b", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """``-m unit`` does not even import what holds no unit test (seconds of imports: SDKs,
    model runtimes): the integration and e2e folders, and the modules marked as a whole."""
    if (config.option.markexpr or "").strip() != UNIT:
        return None
    if _folder_kind(collection_path) in (INTEGRATION, E2E):
        return True
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        try:
            if _MODULE_KIND.search(collection_path.read_text(encoding="utf-8")):
                return True
        except OSError:
            return None
    return None


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects on the markers set here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        explicit = [kind for kind in KINDS if item.get_closest_marker(kind) is not None]
        external = sorted(EXTERNAL_FIXTURES.intersection(getattr(item, "fixturenames", ())))
        if UNIT in explicit and external:
            raise pytest.UsageError(f"{item.nodeid} is marked unit but uses {', '.join(external)}")
        if explicit:
            continue
        folder = _folder_kind(item.path)
        if folder is not None:
            item.add_marker(folder)
        elif external:
            item.add_marker(INTEGRATION)
        else:
            item.add_marker(UNIT)


class UnitGuard:
    """An audit hook (``sys.addaudithook``) that, while a unit test runs, refuses a new
    process (``subprocess``, ``os.posix_spawn``, ``os.fork``, ``os.system``, ``os.exec*``)
    and a TCP or Unix socket connection to a server outside this process (Redis, Asterisk,
    any service; a loopback port nothing listens on is let through: it is refused), and
    remembers it: the test then fails even if the code under test swallowed the error.
    In a run of unit tests only, every thread is held to it; in a mixed run only the main
    thread, so that a thread an integration fixture left running cannot fail a unit test."""

    SPAWN = frozenset({"subprocess.Popen", "os.posix_spawn", "os.fork", "os.system", "os.exec"})
    SYSTEM_QUERIES = frozenset({"uname"})
    """Programs a library runs to ask about the machine, not a part of the system under
    test: ``platform.processor()`` (the OpenAI SDK's request headers) runs ``uname -p``."""

    def __init__(self) -> None:
        self.active = False
        self.all_threads = False
        self.violations: list[str] = []
        self._bound: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._main = threading.main_thread()

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.bind":
            self._bound.add(args[0])
            return
        if not self.active or not (event in self.SPAWN or event == "socket.connect"):
            return
        if not self.all_threads and threading.current_thread() is not self._main:
            return
        if event == "socket.connect":
            sock, address = args
            if self._local(sock, address):
                return
            what = f"a connection to {address!r}"
        elif event == "subprocess.Popen" and Path(str(args[0])).name in self.SYSTEM_QUERIES:
            return
        else:
            what = f"a new process ({event} {args[0]!r})" if args else f"a new process ({event})"
        self.violations.append(what)
        raise RuntimeError(
            f"a unit test must not open {what}: mark it integration or e2e (conftest.py)"
        )

    def _local(self, sock: socket.socket, address: Any) -> bool:
        """True when ``address`` is served by a socket of this process (an in-process
        server, e.g. a fake vendor API) or is not a TCP/Unix address."""
        family = sock.family
        if family == socket.AF_UNIX:
            path = address.decode() if isinstance(address, bytes) else address
            return any(_name(s) == path for s in list(self._bound))
        if family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            return True
        host, port = address[0], address[1]
        if any(_port(s) == port for s in list(self._bound)):
            return True
        # a loopback port nothing listens on: refused, as when Redis is down (no process)
        return _loopback(host) and port not in _listening_ports()


def _name(sock: socket.socket) -> Any:
    try:
        name = sock.getsockname()
    except OSError:  # closed
        return None
    return name.decode() if isinstance(name, bytes) else name


def _port(sock: socket.socket) -> int | None:
    name = _name(sock)
    return name[1] if isinstance(name, tuple) else None


def _loopback(host: Any) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listening_ports() -> set[int]:
    """The TCP ports some process of this machine listens on (Linux's /proc/net/tcp*);
    unreadable: every port, so the guard stays strict."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            return set(range(65536))
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


GUARD = UnitGuard()


def pytest_configure(config: pytest.Config) -> None:
    sys.addaudithook(GUARD.hook)


def pytest_collection_finish(session: pytest.Session) -> None:
    GUARD.all_threads = bool(session.items) and all(
        item.get_closest_marker(UNIT) is not None for item in session.items
    )


@contextlib.contextmanager
def _guarded(item: pytest.Item) -> Iterator[None]:
    GUARD.active = item.get_closest_marker(UNIT) is not None
    try:
        yield
    finally:
        GUARD.active = False


# Setup and call only: a teardown also ends the fixtures of wider scope that the tests before
# used (the session's Asterisk is stopped by a script in the last test's teardown).
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _guarded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _guarded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    violations = list(dict.fromkeys(GUARD.violations))
    GUARD.violations.clear()
    if violations and report.passed:  # the code under test swallowed the refusal
        report.outcome = "failed"
        report.longrepr = (
            f"a unit test must not reach outside its process; it opened {'; '.join(violations)}."
            " Mark it integration or e2e (conftest.py)."
        )
    return report
