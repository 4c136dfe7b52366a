"""Liveness and readiness that tell the truth, against a real redis-server behind a TCP
proxy that can freeze (a silent network partition: nothing closes, nothing arrives)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable

import pytest
from asp import Stage
from pipeline import Bus, Job, StreamWorker
from pipeline.engine import BlockingEngine, EngineError
from pipeline.health import Health
from pipeline.main import run_worker
from pipeline.metrics import EngineMetrics
from pipeline.redis_client import RedisOptions
from pipeline.settings import WorkerSettings
from pipeline.testing import RedisServer, TcpProxy, free_port
from prometheus_client import Counter

SOCKET_TIMEOUT_S = 2.0
PING_EVERY_S = 1.0  # pipeline.health defaults: what /ready runs with
PING_TIMEOUT_S = 2.0


class Idle(StreamWorker):
    stage = Stage.STT

    async def handle(self, job: Job) -> None:
        return None


async def http_get(port: int, path: str) -> int:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 2)
    writer.close()
    return int(reply.split(b" ", 2)[1])


async def until(predicate: Callable[[], bool], timeout: float) -> float:
    """Waits for ``predicate``; returns how long it took."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "condition not met in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@contextlib.asynccontextmanager
async def worker_process(
    url: str, checks: dict[str, Callable[[], bool]]
) -> AsyncIterator[tuple[StreamWorker, int]]:
    """``run_worker`` as ``python -m`` runs it, in this loop: the worker and its HTTP port."""
    port = free_port()
    settings = WorkerSettings(
        redis_options=RedisOptions(url=url, socket_timeout_s=SOCKET_TIMEOUT_S),
        metrics_port=port,
        metrics_host="127.0.0.1",
        grace_s=1,
    )
    made: list[StreamWorker] = []

    def make(bus: Bus) -> StreamWorker:
        made.append(Idle(bus, "stt-a"))
        return made[0]

    task = asyncio.create_task(run_worker(settings, make, checks))
    try:
        while not made:
            await asyncio.sleep(0.01)
        yield made[0], port
    finally:
        made[0].stop()
        await asyncio.wait_for(task, 15)


@pytest.mark.integration  # a redis-server, a worker process
async def test_frozen_redis_makes_the_worker_unready_and_keeps_it_alive() -> None:
    with RedisServer() as server, TcpProxy(server.port) as proxy:
        async with worker_process(proxy.url, {}) as (worker, port):

            async def ready() -> bool:
                return await http_get(port, "/ready") == 200

            deadline = time.monotonic() + 10
            while not await ready():
                assert time.monotonic() < deadline, "never ready"
                await asyncio.sleep(0.05)
            assert await http_get(port, "/live") == 200
            assert await http_get(port, "/health") == 200  # the old name of /ready

            proxy.freeze()
            frozen_at = time.monotonic()
            while await http_get(port, "/ready") != 503:
                await asyncio.sleep(0.05)
            took = time.monotonic() - frozen_at
            assert took <= PING_EVERY_S + PING_TIMEOUT_S + 0.5, took
            assert await http_get(port, "/live") == 200  # a Redis outage restarts nothing
            # the blocked XREADGROUP gives up at the socket timeout: no read hangs forever
            await until(lambda: not worker.ready, SOCKET_TIMEOUT_S + 1.5)
            await asyncio.sleep(SOCKET_TIMEOUT_S)
            assert await http_get(port, "/live") == 200
            assert await http_get(port, "/ready") == 503

            proxy.thaw()
            deadline = time.monotonic() + 15
            while not await ready():
                assert time.monotonic() < deadline, "not ready again after the thaw"
                await asyncio.sleep(0.1)


@pytest.mark.integration  # a redis-server, a worker process
async def test_a_readiness_check_of_the_stage_counts() -> None:
    """What the stage adds (its model loaded, its engine not stuck) makes /ready 503."""
    engine_ok = [True]
    with RedisServer() as server:
        async with worker_process(server.url, {"engine": lambda: engine_ok[0]}) as (_, port):
            deadline = time.monotonic() + 10
            while await http_get(port, "/ready") != 200:
                assert time.monotonic() < deadline, "never ready"
                await asyncio.sleep(0.05)
            engine_ok[0] = False
            assert await http_get(port, "/ready") == 503
            assert await http_get(port, "/live") == 200


async def test_a_stuck_loop_is_not_alive(bus: Bus) -> None:
    health = Health(bus.redis, max_loop_lag_s=0.3)
    assert not health.alive()  # not started: no heartbeat yet
    health.start()
    await asyncio.sleep(0)
    assert health.alive()
    time.sleep(0.5)  # noqa: ASYNC251 - the loop blocked by a call that does not return
    assert not health.alive()
    assert "loop" in health.failing()
    await until(health.alive, 1)  # the loop runs again: so does the heartbeat
    await health.stop()


async def test_a_failing_check_is_reported_by_name(bus: Bus) -> None:
    health = Health(bus.redis)

    def broken() -> bool:
        raise RuntimeError("check broke")

    health.add_check("model", lambda: False)
    health.add_check("broken", broken)
    health.start()
    await until(lambda: "redis" not in health.failing(), 5)
    assert health.failing() == ["model", "broken"]
    await health.stop()


# --- a stuck engine --------------------------------------------------------------------

ENGINE_REQUESTS = Counter("test_health_engine_requests", "requests", ["provider", "outcome"])
ENGINE_RETRIES = Counter("test_health_engine_retries", "retries", ["provider"])


class SlowError(EngineError):
    pass


class SlowTimeout(SlowError):
    retryable = False


class SlowEngine(BlockingEngine):
    """An engine whose call blocks until released (a model that hangs)."""

    name = "slow"
    error_type = SlowError
    failed_type = SlowError
    timeout_type = SlowTimeout
    engine_metrics = EngineMetrics(ENGINE_REQUESTS, ENGINE_RETRIES)

    def __init__(self) -> None:
        super().__init__(timeout_s=0.3, retries=0, retry_backoff_s=0, max_concurrency=1)
        self.release = threading.Event()

    def _load(self) -> None:
        return None

    def hang(self) -> str:
        self.release.wait(10)
        return "done"

    async def call(self) -> str:
        result, _ = await self._attempts(self.hang)
        return result


async def test_an_engine_call_past_its_deadline_fails_readiness() -> None:
    engine = SlowEngine()
    assert not engine.healthy()  # not loaded yet
    engine.load()
    assert engine.healthy()
    with pytest.raises(SlowTimeout):
        await engine.call()
    # given up by the caller, still running in its thread: the engine is stuck (the
    # thread started a moment after the caller's clock: its own deadline follows)
    await until(lambda: engine.overdue_calls() == 1, 1)
    assert not engine.healthy()
    engine.release.set()
    await until(lambda: engine.overdue_calls() == 0, 5)
    assert engine.healthy()


async def test_a_call_within_its_deadline_is_not_overdue() -> None:
    engine = SlowEngine()
    engine.load()
    call = asyncio.create_task(engine.call())
    await asyncio.sleep(0.1)
    assert engine.healthy()  # running, but not late
    engine.release.set()
    assert await call == "done"
    assert engine.overdue_calls() == 0
