"""Liveness and readiness of one process, the way Kubernetes probes mean them.

Liveness (``/live``) says only that the process's own asyncio loop runs: a heartbeat task
stamps the time every :data:`BEAT_S`; the process is alive while the stamp is younger than
:data:`MAX_LOOP_LAG_S`. Nothing outside the process counts: a Redis outage must not get
every replica restarted (minutes of model loading, CrashLoopBackOff), so restarting is
kept for a loop that is really stuck.

Readiness (``/ready``, and ``/health``, its old name) says the process can do its work now:
Redis answered a PING within :data:`PING_TIMEOUT_S` at the last probe (one every
:data:`PING_EVERY_S`) and every check the process added holds (the model is loaded, no
engine call is past its deadline, the SIP account is registered...). A frozen Redis makes
the process unready within ``PING_EVERY_S + PING_TIMEOUT_S``; it stays alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

__all__ = ["Health", "Pingable"]

log = logging.getLogger(__name__)

BEAT_S = 1.0
"""How often the heartbeat task stamps the time."""
MAX_LOOP_LAG_S = 10.0
"""A heartbeat older than this: the loop is stuck (blocked by a call that never returns)."""
PING_EVERY_S = 1.0
"""Pause between two readiness PINGs to Redis."""
PING_TIMEOUT_S = 2.0
"""A PING not answered within this makes the process unready."""


class Pingable(Protocol):
    """What the readiness probe PINGs: the process's :class:`pipeline.bus.Bus` (or a
    Redis client)."""

    def ping(self) -> Awaitable[Any]: ...


class Health:
    """The heartbeat and the Redis probe of one process, and its readiness checks."""

    def __init__(
        self,
        target: Pingable,
        *,
        ping_every_s: float = PING_EVERY_S,
        ping_timeout_s: float = PING_TIMEOUT_S,
        max_loop_lag_s: float = MAX_LOOP_LAG_S,
    ) -> None:
        self.target = target
        self.ping_every_s = ping_every_s
        self.ping_timeout_s = ping_timeout_s
        self.max_loop_lag_s = max_loop_lag_s
        self.beat_s = min(BEAT_S, max_loop_lag_s / 4)
        self._checks: dict[str, Callable[[], bool]] = {}
        self._beat: float | None = None
        self._redis_ok = False
        self._tasks: list[asyncio.Task[None]] = []

    def add_check(self, name: str, check: Callable[[], bool]) -> None:
        """A condition readiness needs (called from the probe's thread: keep it a read)."""
        self._checks[name] = check

    # --- the probes' answers --------------------------------------------------------------

    def alive(self) -> bool:
        beat = self._beat
        return beat is not None and time.monotonic() - beat < self.max_loop_lag_s

    def failing(self) -> list[str]:
        """What keeps the process from being ready (empty: ready)."""
        out = [] if self.alive() else ["loop"]
        if not self._redis_ok:
            out.append("redis")
        for name, check in self._checks.items():
            try:
                ok = check()
            except Exception:
                log.exception("readiness check %s failed", name)
                ok = False
            if not ok:
                out.append(name)
        return out

    def ready(self) -> bool:
        return not self.failing()

    # --- the tasks on the loop ------------------------------------------------------------

    def start(self) -> None:
        """Starts the heartbeat and the Redis probe on the running loop."""
        if not self._tasks:
            self._beat = time.monotonic()
            self._tasks = [
                asyncio.create_task(self._heartbeat(), name="health:heartbeat"),
                asyncio.create_task(self._probe_redis(), name="health:redis"),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._beat = None

    async def _heartbeat(self) -> None:
        while True:
            self._beat = time.monotonic()
            await asyncio.sleep(self.beat_s)

    async def _probe_redis(self) -> None:
        while True:
            ok = await self.ping()
            if ok != self._redis_ok:
                log.log(
                    logging.INFO if ok else logging.WARNING,
                    "Redis %s",
                    "answers again" if ok else "did not answer a PING: not ready",
                )
            self._redis_ok = ok
            await asyncio.sleep(self.ping_every_s)

    async def ping(self) -> bool:
        """One PING, answered within the timeout."""
        try:
            return bool(await asyncio.wait_for(self.target.ping(), self.ping_timeout_s))
        except (TimeoutError, RedisError, OSError):
            return False
