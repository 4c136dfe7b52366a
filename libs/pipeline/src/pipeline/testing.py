"""Test helpers that use real parts: a private redis-server per test session, and the
pipeline's workers as their own processes."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from .proc_watch import watching

if TYPE_CHECKING:
    from .worker import StreamWorker

T = TypeVar("T")


async def until(
    check: Callable[[], bool | Awaitable[bool]],
    what: str = "the condition",
    timeout: float = 10.0,  # noqa: ASYNC109 - how long to poll, not a call to bound
    interval: float = 0.02,
) -> None:
    """Polls ``check`` (a function, or a coroutine function) every ``interval`` seconds until
    it is true; fails the test (AssertionError) when ``timeout`` seconds pass first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert loop.time() < deadline, f"{what} did not happen within {timeout:g} s"
        await asyncio.sleep(interval)


async def start_workers(*workers: StreamWorker, grace_s: float = 2.0) -> list[asyncio.Task[None]]:
    """Each of ``workers`` running on the event loop, returned once every one is ready (its
    group made, its engine up); their tasks, for :func:`stop_workers`."""
    tasks = [asyncio.create_task(w.run(grace_s=grace_s)) for w in workers]
    for w in workers:
        while not w.ready:  # noqa: ASYNC110 - a flag the worker sets, no event
            await asyncio.sleep(0.01)
    return tasks


async def stop_workers(
    workers: Iterable[StreamWorker], tasks: list[asyncio.Task[None]], within_s: float = 10.0
) -> None:
    """Stops ``workers``; their loops (``tasks``) must end within ``within_s`` seconds."""
    for w in workers:
        w.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), within_s)


@contextlib.asynccontextmanager
async def running(worker: StreamWorker, grace_s: float = 2.0) -> AsyncIterator[StreamWorker]:
    """``worker`` running on the event loop, ready when the block starts; stopped, and its
    loop ended within 10 s, when it ends."""
    tasks = await start_workers(worker, grace_s=grace_s)
    try:
        yield worker
    finally:
        await stop_workers([worker], tasks)


def load_script(path: Path) -> ModuleType:
    """A repository script that is not a package (scripts/redis_acl.py, ...) imported as the
    module of its file name, for the tests of what it computes."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SettingsCase = tuple[dict[str, str], str]
"""An environment a settings parser must refuse, and what its error message says (a
regular expression, as ``pytest.raises(match=...)`` takes it)."""


def refused_settings(
    parse: Callable[[T], object],
    error: type[Exception],
    cases: Sequence[tuple[T, str]],
) -> Callable[[T, str], None]:
    """The test, one case each, that ``parse`` (a ``from_env``, or any parser of one setting)
    refuses each input of ``cases`` with ``error`` whose message matches the case's (a
    regular expression). Bind it to a ``test_...`` name of a test module:
    ``test_bad_settings = refused_settings(Settings.from_env, ConfigError, [...])``.
    Every service's settings tests had this same parametrized test, each written out."""
    import pytest

    # "env" names the cases' ids of a from_env's environments (env0, env1...)
    @pytest.mark.parametrize(("env", "message"), cases)
    def test(env: T, message: str) -> None:
        with pytest.raises(error, match=message):
            parse(env)

    return test


def naming(setting: str, *values: str) -> list[SettingsCase]:
    """The :data:`SettingsCase` of each of ``values`` given to ``setting`` alone, whose
    refusal must name ``setting``: ``naming("TTS_SPEED", "3")`` is
    ``[({"TTS_SPEED": "3"}, "TTS_SPEED")]``."""
    return [({setting: value}, re.escape(setting)) for value in values]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_processes(procs: Iterable[subprocess.Popen[Any]], wait_s: float) -> list[int]:
    """SIGTERM to each of ``procs`` still running, then for each in turn SIGKILL if it has
    not exited ``wait_s`` seconds later; their exit statuses."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(wait_s))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes


def stop_process(proc: subprocess.Popen[Any], wait_s: float) -> int:
    """:func:`stop_processes` for one process; its exit status."""
    return stop_processes([proc], wait_s)[0]


@dataclass
class WorkerProcess:
    """A pipeline worker (``python -m <module>``) as its own process: its output in
    ``log_path``, its metrics server (/health, /ready) on loopback ``port``."""

    module: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def name(self) -> str:
        return self.module

    def _answers(self, path: str) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.module} exited:\n{self.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def ready(self) -> bool:
        """Its engine loaded, reading its work stream (raises if it exited)."""
        return self._answers("/ready")

    def healthy(self) -> bool:
        """Its process alive and its loop answering (raises if it exited)."""
        return self._answers("/health")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        return stop_process(self.proc, 20)


def start_worker(module: str, tmp: Path, redis_url: str, **env: str) -> WorkerProcess:
    """``python -m <module>`` on ``redis_url``, its metrics server on a free loopback port,
    its output in ``tmp/<module>.log``; ``env`` adds to (or overrides) its environment."""
    port = free_port()
    log_path = tmp / f"{module}.log"
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", module],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "REDIS_URL": redis_url,
                "METRICS_HOST": "127.0.0.1",
                "METRICS_PORT": str(port),
                "WORKER_GRACE_S": "2",
                **env,
            },
        )
    return WorkerProcess(module, proc, port, log_path)


FAKE_ENGINES = {"STT_PROVIDER": "fake", "LLM_PROVIDER": "fake", "TTS_PROVIDER": "fake"}
"""The workers' settings for their packages' fake engines."""


def spawn_replica(module: str, name: str, redis_url: str, **env: str) -> subprocess.Popen[bytes]:
    """A worker replica (``python -m <module>``, consumer ``name``) with the fake engines
    and no TTS fallback, its output discarded, no metrics server; it claims a dead
    replica's work after 1 s idle. ``env`` adds to (or overrides) its environment."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module],
        env={
            **os.environ,
            "REDIS_URL": redis_url,
            "WORKER_NAME": name,
            "METRICS_PORT": "0",
            "WORKER_CLAIM_IDLE_MS": "1000",
            **FAKE_ENGINES,
            "TTS_FALLBACK": "none",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class RedisServer:
    """A throwaway redis-server on a free loopback port (isolated from other test runs)."""

    def __init__(self, port: int | None = None, args: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.args = tuple(args)
        """More redis-server options, e.g. ("--replicaof", "127.0.0.1", "6379") or
        ("--aclfile", path) (scripts/redis_acl.py; :attr:`url` is then the default user's)."""
        self.dir = Path(tempfile.mkdtemp(prefix="pabx-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    @contextlib.contextmanager
    def watched(self, fixture: str) -> Iterator[None]:
        """Registers this server with :data:`pipeline.proc_watch.WATCH` for the tests
        that use ``fixture`` while inside (a restart in place stays watched)."""
        with watching(f"redis-server :{self.port}", fixture, lambda: self.proc, self.log_path):
            yield

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (scripts/redis.sh installs it)")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, the installed redis-server
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.log_path),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    # a server started with an ACL file whose default user is off
                    # answers NOAUTH: it is up all the same
                    if s.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 5)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port``, one thread per direction. ``freeze``
    stops forwarding (nothing is read, nothing closed: a silent partition), new connections
    are accepted but not connected; ``thaw`` resumes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._running = threading.Event()
        self._running.set()
        self._closed = False
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        self._running.clear()

    def thaw(self) -> None:
        self._running.set()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._running.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._running.wait()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._socks += [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self._closed:
                self._running.wait()
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready or not self._running.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, ValueError):  # closed by the other direction's thread
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
