"""Runs one stage worker as a process: Redis, /metrics + /live + /ready, SIGTERM drain."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from .bus import Bus
from .health import Health
from .http import serve
from .logs import setup
from .settings import WorkerSettings
from .worker import StreamWorker

log = logging.getLogger(__name__)

IDLE_THREADS_EXIT_S = 1.0
"""How long the exit waits for threads that are not in the middle of a call to end."""


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
    run_process(run_worker(settings, stage.make_worker, checks={"engine": stage.engine_healthy}))


def run_process(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run(main)`` for a worker process, but an engine call still running in its
    thread does not hold the exit.

    A synthesis, a transcription or a local generation cannot be interrupted: after
    SIGTERM and the grace period the worker cancels the jobs that wait on such calls and
    leaves their work pending in Redis, where another replica claims it. ``asyncio.run``
    would then still wait for those threads (its default executor's shutdown), and so
    would the interpreter's exit: a replica could take the whole length of a synthesis
    to stop, past the orchestrator's grace, and get SIGKILL. Here the process exits as
    soon as ``main`` returns, naming the threads it did not wait for. An exception from
    ``main`` propagates as with ``asyncio.run``."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main)
    finally:
        try:
            _cancel_remaining_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()  # shuts the default executor down without waiting for it
    # idle executor threads end at once (the shutdown told them to); one still alive a
    # moment later is in the middle of a call
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    deadline = time.monotonic() + IDLE_THREADS_EXIT_S
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    busy = sorted(t.name for t in others if t.is_alive())
    if busy:
        log.warning(
            "exiting without waiting for %d thread(s) still running "
            "(engine calls cannot be interrupted; their work stays pending in Redis): %s",
            len(busy),
            ", ".join(busy),
        )
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _cancel_remaining_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run`` does with the tasks ``main`` left behind."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
