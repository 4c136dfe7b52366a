"""Runs one stage worker as a process: Redis, /metrics + /health, SIGTERM drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from .bus import Bus
from .http import serve
from .settings import WorkerSettings
from .worker import StreamWorker

log = logging.getLogger(__name__)


async def run_worker(settings: WorkerSettings, make_worker: Callable[[Bus], StreamWorker]) -> None:
    bus = Bus.from_url(settings.redis_url)
    worker = make_worker(bus)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    server = None
    if settings.metrics_port:
        server = await serve(settings.metrics_host, settings.metrics_port, lambda: worker.ready)
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    log.info("%s worker %s reading %s", worker.stage.value, settings.name, settings.redis_url)
    try:
        await worker.run(grace_s=settings.grace_s)  # survives Redis restarts by itself
    finally:
        if server is not None:
            server.close()
        await bus.close()
