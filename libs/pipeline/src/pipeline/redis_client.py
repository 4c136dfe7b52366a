"""The one way a process opens Redis: socket timeouts and TCP keepalive on every client.

Without a socket timeout a silent network partition (no RST, no FIN: a frozen Redis, a
dropped route) hangs a read forever while the process looks healthy. Every client here
gives up on a read after ``REDIS_SOCKET_TIMEOUT_S`` (5 s by default: longer than any
blocking read of the services, 1 s at most) and probes an idle connection with TCP
keepalive after ``KEEPALIVE_IDLE_S``, so a dead peer is also noticed between commands.

``KEEP_CALL_AUDIO`` (off by default) says whether call audio stays in Redis after it was
processed (see :class:`pipeline.bus.Bus` and docs/DEPLOY.md, "Retenção de áudio").
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .envparse import EnvReader

__all__ = ["UNAVAILABLE", "RedisOptions", "connect", "connection_options", "keepalive_options"]

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


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """The Redis settings every service shares (REDIS_URL, REDIS_SOCKET_TIMEOUT_S,
    KEEP_CALL_AUDIO)."""

    url: str = DEFAULT_URL
    socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S
    keep_call_audio: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str], error: type[Exception] = ValueError) -> RedisOptions:
        r = EnvReader(env, error)
        url = r.text("REDIS_URL", DEFAULT_URL)
        if not url.startswith(("redis://", "rediss://")) or len(url) <= len("rediss://"):
            raise error(f"REDIS_URL={url!r} is not a redis:// or rediss:// URL")
        return cls(
            url=url,
            socket_timeout_s=r.number(
                "REDIS_SOCKET_TIMEOUT_S", DEFAULT_SOCKET_TIMEOUT_S, MIN_SOCKET_TIMEOUT_S, 300.0
            ),
            keep_call_audio=r.flag("KEEP_CALL_AUDIO", False),
        )


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


def connect(options: RedisOptions) -> Redis:
    """An asyncio client (bytes replies) with the timeouts and keepalive above."""
    client: Redis = Redis.from_url(
        options.url, decode_responses=False, **connection_options(options)
    )
    return client
