"""The one way a process opens Redis: socket timeouts and TCP keepalive on every client.

Without a socket timeout a silent network partition (no RST, no FIN: a frozen Redis, a
dropped route) hangs a read forever while the process looks healthy. Every client here
gives up on a read after ``REDIS_SOCKET_TIMEOUT_S`` (5 s by default: longer than any
blocking read of the services, 1 s at most) and probes an idle connection with TCP
keepalive after ``KEEPALIVE_IDLE_S``, so a dead peer is also noticed between commands.

High availability: with ``REDIS_SENTINELS`` (``host:port,host:port,...``) and
``REDIS_SENTINEL_MASTER`` (the name the sentinels monitor) the client asks the sentinels
where the master is, and asks again whenever a connection to it fails or the server it
reached turned replica (a failover): the services' retries on :data:`UNAVAILABLE` then
land on the new master. The master connections keep REDIS_URL's user, password, database
and TLS (its host and port are not used) and the same timeouts and keepalive; the
sentinels are asked with those timeouts too. A failover's error replies (a blocked read
unblocked, a write refused by a demoted master) count as unavailable too, with or
without Sentinel. See docs/SCALING.md, section 4.

``KEEP_CALL_AUDIO`` (off by default) says whether call audio stays in Redis after it was
processed (see :class:`pipeline.bus.Bus` and docs/DEPLOY.md, "Retenção de áudio").
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .envparse import EnvReader

__all__ = [
    "UNAVAILABLE",
    "RedisOptions",
    "awaitable",
    "connect",
    "connection_options",
    "connection_pool",
    "keepalive_options",
    "parse_sentinels",
]

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OutOfMemoryError, OSError)
"""Errors that mean "Redis cannot take this now, try again later": unreachable, too slow,
or at its ``maxmemory`` bound (noeviction: writes are refused until memory is freed)."""

DEFAULT_URL = "redis://127.0.0.1:6379/0"
CONNECT_TIMEOUT_S = 2.0
"""Time allowed to open a TCP connection to Redis."""
KEEPALIVE_IDLE_S = 10
"""Seconds an idle connection waits before the first keepalive probe."""
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_PROBES = 3
"""Unanswered probes before the kernel drops the connection (10 + 3 x 5 = 25 s)."""
HEALTH_CHECK_INTERVAL_S = 10
"""A connection idle this long is PINGed before it is used again (redis-py)."""
DEFAULT_SOCKET_TIMEOUT_S = 5.0
MIN_SOCKET_TIMEOUT_S = 2.0
"""Lower bound of REDIS_SOCKET_TIMEOUT_S: above the longest blocking read (XREAD BLOCK 1 s)."""


MAX_SENTINELS = 16


T = TypeVar("T")


def awaitable(result: Awaitable[T] | T) -> Awaitable[T]:
    """The reply of a redis.asyncio command, typed as what it is.

    redis-py types many commands once for both clients (``Awaitable[T] | T``); on a
    ``redis.asyncio`` client they always return an awaitable. A cast, nothing at runtime."""
    return cast(Awaitable[T], result)


def parse_sentinels(raw: str, error: type[Exception] = ValueError) -> tuple[tuple[str, int], ...]:
    """``host:port,host:port`` (``[v6]:port`` for an IPv6 address) as (host, port) pairs."""
    out: list[tuple[str, int]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise error(f"REDIS_SENTINELS: {item!r} is not host:port")
        out.append((host, int(port)))
    if len(out) > MAX_SENTINELS:
        raise error(f"REDIS_SENTINELS lists {len(out)} sentinels (at most {MAX_SENTINELS})")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """The Redis settings every service shares (REDIS_URL, REDIS_SOCKET_TIMEOUT_S,
    REDIS_SENTINELS, REDIS_SENTINEL_MASTER, KEEP_CALL_AUDIO)."""

    url: str = DEFAULT_URL
    socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S
    keep_call_audio: bool = False
    sentinels: tuple[tuple[str, int], ...] = ()
    """Where the sentinels listen; empty: REDIS_URL is the server (no Sentinel)."""
    sentinel_master: str = ""
    """The name of the master the sentinels monitor (``sentinel monitor <name> ...``)."""

    @property
    def target(self) -> str:
        """Where the client connects, for logs (no credentials)."""
        if self.sentinels:
            where = ",".join(f"{h}:{p}" for h, p in self.sentinels)
            return f"sentinel master {self.sentinel_master!r} via {where}"
        parsed: dict[str, Any] = parse_url(self.url)  # type: ignore[no-untyped-call]
        return f"{parsed.get('host', '127.0.0.1')}:{parsed.get('port', 6379)}"

    @classmethod
    def from_env(cls, env: Mapping[str, str], error: type[Exception] = ValueError) -> RedisOptions:
        r = EnvReader(env, error)
        url = r.text("REDIS_URL", DEFAULT_URL)
        if not url.startswith(("redis://", "rediss://")) or len(url) <= len("rediss://"):
            raise error(f"REDIS_URL={url!r} is not a redis:// or rediss:// URL")
        sentinels = parse_sentinels(r.text("REDIS_SENTINELS"), error)
        master = r.text("REDIS_SENTINEL_MASTER")
        if sentinels and not master:
            raise error("REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is empty")
        if master and not sentinels:
            raise error("REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is empty")
        return cls(
            url=url,
            socket_timeout_s=r.number(
                "REDIS_SOCKET_TIMEOUT_S", DEFAULT_SOCKET_TIMEOUT_S, MIN_SOCKET_TIMEOUT_S, 300.0
            ),
            keep_call_audio=r.flag("KEEP_CALL_AUDIO", False),
            sentinels=sentinels,
            sentinel_master=master,
        )


FAILOVER_REPLIES = ("UNBLOCKED", "MASTERDOWN", "NOREPLICAS")
"""Error replies of a server that changed role under a client: a blocked read is unblocked
when the master turns replica (a failover), a replica cut from its master refuses reads,
an old master with ``min-replicas-to-write`` refuses writes once its replica left it."""


def is_failover_reply(error: ResponseError) -> bool:
    """Whether an error reply means "this server is no longer the master" (READONLY,
    UNBLOCKED, MASTERDOWN, NOREPLICAS), so the command may go again once a master is found."""
    return isinstance(error, ReadOnlyError) or str(error).startswith(FAILOVER_REPLIES)


class _FailoverAware:
    """Turns a failover's error replies, and a write racing a close, into a dropped
    connection (:data:`UNAVAILABLE`): the caller retries as for any outage, and the next
    connection goes to the master (with Sentinel, the one the sentinels name now)."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)  # type: ignore[misc]
        except ResponseError as e:
            if not is_failover_reply(e):
                raise
            await self.disconnect()  # type: ignore[attr-defined]
            raise RedisConnectionError(f"the server is no longer the master: {e}") from e

    async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        # redis-py lets a write race with a concurrent close escape as the transport's own
        # AttributeError/TypeError ("'NoneType' object has no attribute 'writelines'",
        # redis/redis-py#4287): it is a dropped connection like any other, so it becomes
        # one, and the services' retries on UNAVAILABLE handle it.
        try:
            await super().send_packed_command(*args, **kwargs)  # type: ignore[misc]
        except (AttributeError, TypeError) as e:
            if "NoneType" not in str(e):
                raise
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise RedisConnectionError(f"the connection closed while writing ({e})") from e


class FailoverAwareConnection(_FailoverAware, Connection):
    pass


class FailoverAwareSSLConnection(_FailoverAware, SSLConnection):
    pass


class _MasterChecked(_FailoverAware):
    """A new connection to the Sentinel master checks that the server is the master now
    (ROLE): for a moment after a failover a sentinel may still name the old one, which
    would serve reads as a replica and refuse writes."""

    async def on_connect(self) -> None:
        await super().on_connect()  # type: ignore[misc]
        if not self.connection_pool.is_master:  # type: ignore[attr-defined]
            return
        await self.send_command("ROLE")  # type: ignore[attr-defined]
        role = await self.read_response()
        name = role[0].decode() if isinstance(role[0], bytes) else str(role[0])
        if name != "master":
            await self.disconnect()  # type: ignore[attr-defined]
            raise RedisConnectionError(
                f"the server the sentinels named is a {name}, not the master"
            )


class FailoverAwareSentinelConnection(_MasterChecked, SentinelManagedConnection):
    pass


class FailoverAwareSentinelSSLConnection(_MasterChecked, SentinelManagedSSLConnection):
    pass


def keepalive_options() -> dict[int, int]:
    """TCP_KEEP* socket options where the platform has them (Linux has all three)."""
    wanted = {
        "TCP_KEEPIDLE": KEEPALIVE_IDLE_S,
        "TCP_KEEPINTVL": KEEPALIVE_INTERVAL_S,
        "TCP_KEEPCNT": KEEPALIVE_PROBES,
    }
    return {getattr(socket, name): value for name, value in wanted.items() if hasattr(socket, name)}


def connection_options(options: RedisOptions) -> dict[str, Any]:
    """The redis-py connection keywords with the timeouts and keepalive above (for a
    client built elsewhere, e.g. arq's pool)."""
    return {
        "socket_timeout": options.socket_timeout_s,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_keepalive": True,
        "socket_keepalive_options": keepalive_options(),
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
    }


def _master_kwargs(options: RedisOptions) -> dict[str, Any]:
    """REDIS_URL's user, password, database and TLS for the master connections (the
    sentinels say where the master is; the URL's host and port are not used)."""
    parsed: dict[str, Any] = parse_url(options.url)  # type: ignore[no-untyped-call]
    return {
        k: v for k, v in parsed.items() if k not in ("host", "port", "path", "connection_class")
    }


class _SentinelPool(SentinelConnectionPool):
    """Closing the pool also closes its connections to the sentinels (a close, not the
    drop of idle master connections redis-py does when the master moves)."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:
            for sentinel in self.sentinel_manager.sentinels:
                await sentinel.connection_pool.disconnect()


def connection_pool(options: RedisOptions) -> ConnectionPool:
    """A pool with the timeouts and keepalive above: REDIS_URL's server, or the master
    the sentinels name (found again after a failover)."""
    conn = connection_options(options)
    tls = options.url.startswith("rediss://")
    if not options.sentinels:
        cls = FailoverAwareSSLConnection if tls else FailoverAwareConnection
        return ConnectionPool.from_url(options.url, connection_class=cls, **conn)
    sentinel = Sentinel(list(options.sentinels), sentinel_kwargs=conn)  # type: ignore[no-untyped-call]
    return _SentinelPool(  # type: ignore[no-untyped-call]
        options.sentinel_master,
        sentinel,
        is_master=True,
        connection_class=(
            FailoverAwareSentinelSSLConnection if tls else FailoverAwareSentinelConnection
        ),
        **_master_kwargs(options),
        **conn,
    )


def connect(options: RedisOptions) -> Redis:
    """An asyncio client (bytes replies) with the timeouts and keepalive above, on
    REDIS_URL's server or on the Sentinel master."""
    pool = connection_pool(options)
    client: Redis = Redis.from_pool(pool)  # closing the client closes its pool
    return client
