"""Test helpers that use real parts: a private redis-server per test session."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .proc_watch import watching


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
