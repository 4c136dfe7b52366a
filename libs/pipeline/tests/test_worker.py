"""The stage worker against a real Redis: sharing, idempotency, claiming, dead letters."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import uuid
from collections import Counter

import pytest
from asp import Message, ResponseText, Stage, Transcript, Utterance
from asp import streams as layout
from asp.testing import transcript_of
from asp.testing import utterance as sample_utterance
from pipeline import Bus, Job, StreamWorker
from pipeline.testing import start_workers, stop_workers
from pipeline.testing import until as wait_for

pytestmark = pytest.mark.integration  # a redis-server


class EchoSTT(StreamWorker):
    """Turns each utterance into a transcript whose text names the replica."""

    stage = Stage.STT

    def __init__(
        self, bus: Bus, consumer: str, delay: float = 0.0, fail: bool = False, **kw: object
    ) -> None:
        super().__init__(bus, consumer, **kw)  # type: ignore[arg-type]
        self.delay = delay
        self.fail = fail
        self.handled: list[str] = []

    async def handle(self, job: Job) -> None:
        msg = job.msg
        assert isinstance(msg, Utterance)
        self.handled.append(msg.utterance_id)
        if self.fail:
            raise RuntimeError("provider broke")
        await asyncio.sleep(self.delay)
        await self.bus.publish(transcript_of(msg, self.consumer))


def utterance(session_id: str, n: int) -> Utterance:
    return sample_utterance(session_id, f"u-{n}", bytes(320), ms=20)


async def transcripts(bus: Bus, session_id: str) -> list[Transcript]:
    return [m for m in await bus.session_log(session_id) if isinstance(m, Transcript)]


run_workers = functools.partial(start_workers, grace_s=1)


async def test_publish_routes_to_log_and_work_stream(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    entry_id = await bus.publish(utterance(sid, 1))
    assert entry_id
    (logged,) = await bus.session_log(sid)
    assert isinstance(logged, Utterance)
    assert logged.utterance_id == "u-1"
    assert await bus.redis.xlen(layout.work_stream(Stage.STT)) == 1
    assert await bus.redis.xlen(layout.work_stream(Stage.LLM)) == 0
    assert 0 < await bus.redis.ttl(layout.session_stream(sid)) <= layout.SESSION_IDLE_TTL_S


async def test_three_replicas_share_the_work_and_each_utterance_is_done_once(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    workers: list[StreamWorker] = [
        EchoSTT(bus, f"stt-{i}", delay=0.05, concurrency=2) for i in range(3)
    ]
    tasks = await run_workers(*workers)
    for n in range(30):
        await bus.publish(utterance(sid, n))

    async def all_done() -> bool:
        return len(await transcripts(bus, sid)) >= 30

    await wait_for(all_done)
    await stop_workers(workers, tasks)
    out = await transcripts(bus, sid)
    assert sorted(t.utterance_id for t in out) == sorted(f"u-{n}" for n in range(30))
    per_replica = Counter(t.text for t in out)
    assert set(per_replica) == {"stt-0", "stt-1", "stt-2"}, per_replica
    pending = await bus.redis.xpending(layout.work_stream(Stage.STT), "stt-workers")
    assert pending["pending"] == 0


async def test_redelivered_work_is_not_done_twice(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    worker = EchoSTT(bus, "stt-a")
    tasks = await run_workers(worker)
    msg = utterance(sid, 1)
    await bus.publish(msg)
    await bus.publish(msg, stages=(Stage.STT,))  # the same work, delivered again

    async def both_acked() -> bool:
        info = await bus.redis.xinfo_groups(layout.work_stream(Stage.STT))
        return (
            info[0]["pending"] == 0
            and info[0]["last-delivered-id"] != b"0-0"
            and (len(worker.handled) >= 1)
            and await bus.redis.xlen(layout.work_stream(Stage.STT)) == 0  # acked: deleted
        )

    await wait_for(both_acked)
    await asyncio.sleep(0.2)
    await stop_workers([worker], tasks)
    assert len(await transcripts(bus, sid)) == 1


async def test_malformed_entries_are_dead_lettered_and_the_worker_goes_on(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    worker = EchoSTT(bus, "stt-a")
    tasks = await run_workers(worker)
    await bus.redis.xadd(layout.work_stream(Stage.STT), {"type": "utterance", "data": b"\xc1"})
    await bus.redis.xadd(layout.work_stream(Stage.STT), {"garbage": "1"})
    await bus.publish(utterance(sid, 1))

    async def done() -> bool:
        return len(await transcripts(bus, sid)) == 1

    await wait_for(done)
    await stop_workers([worker], tasks)
    assert await bus.redis.xlen(layout.dead_letter_stream(Stage.STT)) == 2


async def test_work_of_a_dead_replica_is_claimed(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.ensure_group(Stage.STT)
    await bus.publish(utterance(sid, 1))
    # A replica takes the entry and dies without acknowledging it.
    taken = await bus.read_work(Stage.STT, "dead-replica", 1, 100)
    assert len(taken) == 1
    worker = EchoSTT(bus, "stt-live", claim_idle_ms=300)
    tasks = await run_workers(worker)

    async def done() -> bool:
        return len(await transcripts(bus, sid)) == 1

    await wait_for(done)
    await stop_workers([worker], tasks)
    assert (await transcripts(bus, sid))[0].text == "stt-live"


async def test_a_long_job_is_not_stolen(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    slow = EchoSTT(bus, "stt-slow", delay=1.5, claim_idle_ms=400)
    tasks = await run_workers(slow)
    await bus.publish(utterance(sid, 1))
    while not slow.handled:
        await asyncio.sleep(0.01)
    thief = EchoSTT(bus, "stt-thief", claim_idle_ms=400)
    tasks += await run_workers(thief)

    async def done() -> bool:
        return len(await transcripts(bus, sid)) == 1

    await wait_for(done)
    await asyncio.sleep(0.5)
    await stop_workers([slow, thief], tasks)
    assert thief.handled == []
    assert [t.text for t in await transcripts(bus, sid)] == ["stt-slow"]


async def test_failing_work_is_retried_then_dead_lettered_with_an_apology(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    worker = EchoSTT(bus, "stt-a", fail=True, claim_idle_ms=200, max_deliveries=3)
    tasks = await run_workers(worker)
    await bus.publish(utterance(sid, 1))

    async def apologised() -> bool:
        return any(isinstance(m, ResponseText) for m in await bus.session_log(sid))

    await wait_for(apologised)
    await stop_workers([worker], tasks)
    assert worker.handled == ["u-1"] * 3
    assert await bus.redis.xlen(layout.dead_letter_stream(Stage.STT)) == 1
    log: list[Message] = await bus.session_log(sid)
    (apology,) = [m for m in log if isinstance(m, ResponseText)]
    assert "Desculpe" in apology.text
    assert await bus.redis.xlen(layout.work_stream(Stage.TTS)) == 1


async def test_cancel_marks_the_response_for_every_replica(bus: Bus) -> None:
    from asp import ResponseCancel

    sid = str(uuid.uuid4())
    assert not await bus.is_cancelled(sid, "r-1")
    await bus.publish(ResponseCancel(session_id=sid, response_id="r-1", reason="barge_in"))
    assert await bus.is_cancelled(sid, "r-1")
    assert await bus.redis.xlen(layout.work_stream(Stage.LLM)) == 1
    assert await bus.redis.xlen(layout.work_stream(Stage.TTS)) == 1


async def test_session_end_sets_the_long_ttl(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(utterance(sid, 1))
    await bus.set_state(sid, {"language": "pt"})
    assert (await bus.state(sid)) == {"language": "pt"}
    await bus.end_session(sid)
    assert await bus.redis.ttl(layout.session_stream(sid)) > layout.SESSION_IDLE_TTL_S
    assert await bus.redis.ttl(layout.session_state_key(sid)) > layout.SESSION_IDLE_TTL_S


@pytest.mark.parametrize("path", ["/health", "/ready", "/live", "/metrics", "/nope"])
async def test_http_endpoint(bus: Bus, path: str) -> None:
    from pipeline.health import Health
    from pipeline.http import serve
    from pipeline.testing import free_port

    health = Health(bus.redis)
    health.start()
    while not health.ready():
        await asyncio.sleep(0.01)
    port = free_port()
    server = await serve("127.0.0.1", port, health)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    reply = await reader.read()
    writer.close()
    server.close()
    await health.stop()
    status = reply.split(b"\r\n", 1)[0]
    assert status.endswith(b"404 Not Found" if path == "/nope" else b"200 OK")
    if path == "/metrics":
        assert b"asp_worker_jobs_total" in reply


async def test_stale_work_is_skipped(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    old = dataclasses.replace(
        sample_utterance(sid, "u-old", bytes(320), ms=20), timestamp="2026-01-01T00:00:00.000000Z"
    )
    worker = EchoSTT(bus, "stt-a", max_age_s=60)
    tasks = await run_workers(worker)
    await bus.publish(old)
    await bus.publish(utterance(sid, 1))

    async def fresh_done() -> bool:
        return len(await transcripts(bus, sid)) == 1

    await wait_for(fresh_done)
    await stop_workers([worker], tasks)
    assert worker.handled == ["u-1"]
    pending = await bus.redis.xpending(layout.work_stream(Stage.STT), "stt-workers")
    assert pending["pending"] == 0


def old_utterance(session_id: str, utterance_id: str, provisional: bool | None = None) -> Utterance:
    return dataclasses.replace(
        sample_utterance(session_id, utterance_id, bytes(320), ms=20),
        timestamp="2026-01-01T00:00:00.000000Z",
        provisional=provisional,
    )


async def test_a_stale_turn_of_a_live_call_gets_the_apology(bus: Bus) -> None:
    live, ended = str(uuid.uuid4()), str(uuid.uuid4())
    await bus.redis.zadd(layout.ACTIVE_SESSIONS, {live: 1.0})
    worker = EchoSTT(bus, "stt-a", max_age_s=60)
    tasks = await run_workers(worker)
    await bus.publish(old_utterance(live, "u-old"))
    await bus.publish(old_utterance(live, "u-prov", provisional=True))  # not a turn yet
    await bus.publish(old_utterance(ended, "u-old"))  # nobody left to hear it
    await bus.publish(utterance(live, 1))

    async def fresh_done() -> bool:
        return len(await transcripts(bus, live)) == 1

    await wait_for(fresh_done)
    await stop_workers([worker], tasks)
    await bus.redis.zrem(layout.ACTIVE_SESSIONS, live)
    assert worker.handled == ["u-1"]
    (apology,) = [m for m in await bus.session_log(live) if isinstance(m, ResponseText)]
    assert "Desculpe" in apology.text
    assert apology.is_final
    assert not [m for m in await bus.session_log(ended) if isinstance(m, ResponseText)]


async def test_the_worker_survives_a_redis_restart() -> None:
    from pipeline.testing import RedisServer

    with RedisServer() as server:
        bus = Bus.from_url(server.url)
        worker = EchoSTT(bus, "stt-a")
        tasks = await run_workers(worker)
        sid = str(uuid.uuid4())
        await bus.publish(utterance(sid, 1))

        async def first() -> bool:
            return len(await transcripts(bus, sid)) == 1

        await wait_for(first)
        await asyncio.to_thread(server.restart)  # all data lost, consumer group included
        sid2 = str(uuid.uuid4())

        async def published() -> bool:
            try:
                await bus.publish(utterance(sid2, 2))
            except Exception:
                return False
            return True

        await wait_for(published)

        async def second() -> bool:
            try:
                return len(await transcripts(bus, sid2)) == 1
            except Exception:
                return False

        await wait_for(second, timeout=20)
        await stop_workers([worker], tasks)
        await bus.close()
