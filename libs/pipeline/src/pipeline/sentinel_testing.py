"""A Redis Sentinel deployment on loopback for failover tests: one master, one replica
and three sentinels (``redis-server --sentinel``), each on a free port in a temp dir."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict, Unpack

from redis import Redis
from redis.exceptions import RedisError

from .redis_client import RedisOptions
from .testing import RedisServer, free_port, stop_process

MASTER_NAME = "pabx"
DOWN_AFTER_MS = 1000
"""How long the sentinels wait on a silent master before they call it down."""


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Sentinel:
    """One ``redis-server --sentinel`` process."""

    def __init__(self, master_port: int, quorum: int) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pabx-sentinel-"))
        self.conf = self.dir / "sentinel.conf"
        self.conf.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.dir}\n"
            f"logfile {self.dir / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {quorum}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Sentinel:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (scripts/redis.sh installs it)")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, the installed redis-server
            [exe, str(self.conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _until(lambda: bool(self.client().ping()), 10, f"sentinel :{self.port}")
        return self

    def client(self) -> Redis:
        return Redis("127.0.0.1", self.port, socket_timeout=2, decode_responses=True)

    def master_port(self) -> int:
        with self.client() as c:
            _, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
            return int(port)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 5)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


class OptionOverrides(TypedDict, total=False):
    """The :class:`RedisOptions` fields a test may set besides the sentinels'."""

    url: str
    socket_timeout_s: float
    keep_call_audio: bool


class SentinelSet:
    """A master, a replica of it and three sentinels (quorum 2) that watch the master."""

    def __init__(self) -> None:
        self.master = RedisServer()
        self.replica: RedisServer | None = None
        self.sentinels: list[Sentinel] = []

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master] + ([self.replica] if self.replica else [])

    def options(self, **kwargs: Unpack[OptionOverrides]) -> RedisOptions:
        """What a service gets from REDIS_SENTINELS and REDIS_SENTINEL_MASTER."""
        return RedisOptions(
            sentinels=tuple(("127.0.0.1", s.port) for s in self.sentinels),
            sentinel_master=MASTER_NAME,
            **kwargs,
        )

    def env(self) -> dict[str, str]:
        return {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        }

    def start(self) -> SentinelSet:
        self.master.start()
        replica = RedisServer(args=("--replicaof", "127.0.0.1", str(self.master.port)))
        self.replica = replica
        replica.start()
        _until(
            lambda: self.role(replica).get("master_link_status") == "up",
            10,
            "the replica to sync",
        )
        self.sentinels = [Sentinel(self.master.port, quorum=2).start() for _ in range(3)]
        _until(self._sentinels_see_everyone, 30, "the sentinels to find the replica and each other")
        return self

    def _sentinels_see_everyone(self) -> bool:
        for s in self.sentinels:
            with s.client() as c:
                master = c.execute_command("SENTINEL", "MASTER", MASTER_NAME)
                info = dict(zip(master[::2], master[1::2], strict=True))
                if int(info["num-slaves"]) < 1 or int(info["num-other-sentinels"]) < 2:
                    return False
        return True

    def role(self, server: RedisServer) -> dict[str, str]:
        with Redis("127.0.0.1", server.port, socket_timeout=2, decode_responses=True) as c:
            return {k: str(v) for k, v in c.info("replication").items()}

    def master_port(self) -> int:
        """Where the sentinels say the master is (the first one that answers)."""
        for s in self.sentinels:
            try:
                return s.master_port()
            except (RedisError, OSError):
                continue
        raise RuntimeError("no sentinel answers")

    def wait_for_new_master(self, old_port: int, timeout: float = 30) -> int:
        """Waits until every sentinel names another master, that server is master and the
        old master, if it still runs, was turned into its replica (the failover's end: until
        then the old master still takes the writes of the clients connected to it)."""

        def moved() -> bool:
            ports = {s.master_port() for s in self.sentinels}
            if len(ports) != 1 or old_port in ports:
                return False
            new = next(srv for srv in self.servers if srv.port in ports)
            if self.role(new).get("role") != "master":
                return False
            old = next(srv for srv in self.servers if srv.port == old_port)
            return old.proc is None or self.role(old).get("role") == "slave"

        _until(moved, timeout, "the failover")
        return self.master_port()

    def failover(self) -> int:
        """SENTINEL FAILOVER (the replica is promoted, the master demoted); the new port."""
        old = self.master_port()

        def asked() -> bool:
            with self.sentinels[0].client() as c:
                return bool(c.execute_command("SENTINEL", "FAILOVER", MASTER_NAME))

        _until(asked, 15, "a sentinel to accept SENTINEL FAILOVER")  # NOGOODSLAVE: retried
        return self.wait_for_new_master(old)

    def kill_master(self) -> int:
        """SIGKILL the master: the sentinels see it down and promote the replica."""
        old = self.master_port()
        server = next(srv for srv in self.servers if srv.port == old)
        assert server.proc is not None
        server.proc.kill()
        server.proc.wait()
        server.proc = None
        return self.wait_for_new_master(old)

    def stop(self) -> None:
        for s in self.sentinels:
            s.stop()
        for srv in self.servers:
            srv.stop()
            shutil.rmtree(srv.dir, ignore_errors=True)

    def __enter__(self) -> SentinelSet:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
