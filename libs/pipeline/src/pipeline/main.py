"""Runs one stage worker as a process: Redis, /metrics + /live + /ready, SIGTERM drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .bus import Bus
from .health import Health
from .http import serve
from .logs import setup
from .settings import WorkerSettings
from .worker import StreamWorker

log = logging.getLogger(__name__)


async def run_worker(
    settings: WorkerSettings,
    make_worker: Callable[[Bus], StreamWorker],
    checks: Mapping[str, Callable[[], bool]] | None = None,
) -> None:
    """Runs the worker until SIGTERM. ``checks`` are the stage's own readiness conditions
    (its model loaded, no engine call past its deadline), besides Redis and the worker's
    consumer group."""
    bus = Bus.connect(settings.redis_options)
    worker = make_worker(bus)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    health = Health(bus)
    health.add_check("worker", lambda: worker.ready)
    for name, check in (checks or {}).items():
        health.add_check(name, check)
    health.start()
    server = None
    if settings.metrics_port:
        server = await serve(settings.metrics_host, settings.metrics_port, health)
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    log.info(
        "%s worker %s reading %s",
        worker.stage.value,
        settings.name,
        settings.redis_options.target,
    )
    try:
        await worker.run(grace_s=settings.grace_s)  # survives Redis restarts by itself
    finally:
        if server is not None:
            server.close()
        await health.stop()
        await bus.close()


@dataclass(frozen=True)
class Stage:
    """What a speech stage's ``__main__`` prepares: how to build its worker on a bus, and
    its engine's readiness (the ``engine`` check)."""

    make_worker: Callable[[Bus], StreamWorker]
    engine_healthy: Callable[[], bool]


def run_stage(service: str, metrics_port: int, prepare: Callable[[WorkerSettings], Stage]) -> None:
    """``python -m <stage>``: sets up the logs, reads the worker settings (``metrics_port``
    when METRICS_PORT is unset), calls ``prepare`` (blocking: it reads the stage's settings
    and loads and warms its engine before the worker takes work), then runs the worker
    until SIGTERM."""
    setup(service)
    settings = WorkerSettings.from_env(metrics_port)
    stage = prepare(settings)
    asyncio.run(run_worker(settings, stage.make_worker, checks={"engine": stage.engine_healthy}))
