"""Redis stays bounded, against a real redis-server: work entries are deleted once done,
call audio leaves Redis when the call ends unless KEEP_CALL_AUDIO asks to keep it, dead
letters keep the audio's size only."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Unpack

import pytest
from asp import ResponseAudio, Stage, Transcript, Utterance
from asp import streams as layout
from asp.testing import transcript_of
from asp.testing import utterance as sample_utterance
from pipeline import Bus, Job, StreamWorker
from pipeline.redis_client import RedisOptions
from pipeline.testing import RedisServer, naming, refused_settings, until
from pipeline.worker import StreamWorkerOptions

AUDIO = bytes(range(256)) * 125  # 32 000 bytes: one second at 16 kHz


class Transcriber(StreamWorker):
    """A stage that turns each utterance into a transcript (or fails, when asked)."""

    stage = Stage.STT

    def __init__(self, bus: Bus, *, fail: bool = False, **kw: Unpack[StreamWorkerOptions]) -> None:
        super().__init__(bus, "stt-a", **kw)
        self.fail = fail

    async def handle(self, job: Job) -> None:
        msg = job.msg
        assert isinstance(msg, Utterance)
        if self.fail:
            raise RuntimeError("engine broke")
        await self.bus.publish(transcript_of(msg, "oi"))


def utterance(session_id: str, n: int) -> Utterance:
    return sample_utterance(session_id, f"u-{n}", AUDIO, rate=16000)


async def run_until_idle(worker: StreamWorker, done: Callable[[], Awaitable[bool]]) -> None:
    task = asyncio.create_task(worker.run(grace_s=1))
    try:
        await until(done)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def test_done_work_leaves_the_work_stream(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    for n in range(20):
        await bus.publish(utterance(sid, n))
    assert await bus.redis.xlen(layout.work_stream(Stage.STT)) == 20
    before = await bus.redis.memory_usage(layout.work_stream(Stage.STT))

    async def all_done() -> bool:
        log = await bus.session_log(sid)
        return sum(isinstance(m, Transcript) for m in log) == 20

    await run_until_idle(Transcriber(bus), all_done)
    stream = layout.work_stream(Stage.STT)
    assert await bus.redis.xlen(stream) == 0
    pending = await bus.redis.xpending(stream, layout.consumer_group(Stage.STT))
    assert pending["pending"] == 0
    after = await bus.redis.memory_usage(stream)
    assert before is not None
    assert after is not None
    assert after < len(AUDIO) < before  # the audio itself is gone, not only hidden


async def test_duplicate_and_stale_work_is_deleted_too(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    msg = utterance(sid, 1)
    await bus.publish(msg)
    await bus.publish(msg, stages=(Stage.STT,))  # the same work again: acked as duplicate
    old = dataclasses.replace(
        sample_utterance(sid, "u-old", AUDIO, rate=16000), timestamp="2026-01-01T00:00:00.000000Z"
    )
    await bus.publish(old)  # skipped as stale

    async def drained() -> bool:
        return int(await bus.redis.xlen(layout.work_stream(Stage.STT))) == 0

    await run_until_idle(Transcriber(bus, max_age_s=60), drained)
    log = await bus.session_log(sid)
    assert [m.utterance_id for m in log if isinstance(m, Transcript)] == ["u-1"]


async def test_dead_letters_keep_the_audio_size_not_the_audio(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(utterance(sid, 1))
    worker = Transcriber(bus, fail=True, claim_idle_ms=200, max_deliveries=2)

    async def dead() -> bool:
        return int(await bus.redis.xlen(layout.dead_letter_stream(Stage.STT))) == 1

    await run_until_idle(worker, dead)
    ((_, fields),) = await bus.redis.xrange(layout.dead_letter_stream(Stage.STT))
    assert b"audio" not in fields
    assert fields[b"audio_bytes"] == str(len(AUDIO)).encode()
    assert fields[b"dead_reason"] == b"max deliveries"
    assert await bus.redis.xlen(layout.work_stream(Stage.STT)) == 0


async def test_dead_letters_keep_the_audio_when_retention_is_asked(bus: Bus) -> None:
    keeping = Bus(bus.redis, keep_call_audio=True)
    await keeping.redis.xadd(layout.work_stream(Stage.STT), {"type": "utterance", "audio": AUDIO})
    await keeping.ensure_group(Stage.STT)
    ((entry_id, fields),) = await keeping.read_work(Stage.STT, "stt-a", 1, 100)
    await keeping.dead_letter(Stage.STT, entry_id, fields, "malformed: test")
    ((_, dead),) = await bus.redis.xrange(layout.dead_letter_stream(Stage.STT))
    assert dead[b"audio"] == AUDIO


async def test_a_summarized_session_loses_its_audio_and_keeps_its_text(bus: Bus) -> None:
    sid, other = str(uuid.uuid4()), str(uuid.uuid4())
    chunk = bytes(1600)  # 100 ms at 8 kHz: small entries that share stream nodes with texts
    # more entries than one read batch, audio and text interleaved as in a call
    for n in range(300):
        await bus.publish(utterance(sid, n), stages=())
        await bus.publish(
            Transcript(
                session_id=sid, utterance_id=f"u-{n}", text="oi", language="pt", confidence=1.0
            ),
            stages=(),
        )
        await bus.publish(
            ResponseAudio(session_id=sid, response_id=f"r-{n}", seq=0, audio=chunk, is_final=True),
            stages=(),
        )
    await bus.publish(utterance(other, 1), stages=())
    stream = layout.session_stream(sid)
    audio_bytes = 300 * (len(AUDIO) + len(chunk))
    assert await bus.redis.memory_usage(stream, samples=0) > audio_bytes
    ids_before = [i for i, f in await bus.redis.xrange(stream) if b"audio" not in f]
    await bus.end_session(sid)
    assert len(await bus.session_log(sid)) == 900  # the call's end alone keeps everything
    await bus.release_session(sid, keep_s=3600)
    log = await bus.session_log(sid)
    assert len(log) == 300
    assert all(isinstance(m, Transcript) for m in log)
    assert [i for i, _ in await bus.redis.xrange(stream)] == ids_before  # same ids
    # the bytes are gone, not only hidden (XDEL leaves them in nodes shared with texts)
    assert await bus.redis.memory_usage(stream, samples=0) < 300 * len(chunk) / 4
    assert 3500 < await bus.redis.ttl(stream) <= 3600  # the text goes in keep_s
    # another call's audio is untouched
    assert [type(m) for m in await bus.session_log(other)] == [Utterance]
    assert await bus.drop_audio(sid) == 0  # nothing left to drop


async def test_a_summarized_call_releases_its_raw_keys(bus: Bus) -> None:
    sid, kept = str(uuid.uuid4()), str(uuid.uuid4())
    for session_id in (sid, kept):
        await bus.publish(
            Transcript(
                session_id=session_id, utterance_id="u-1", text="oi", language="pt", confidence=1.0
            )
        )
        await bus.set_state(session_id, {"language": "pt"})
        await bus.end_session(session_id)
    await bus.release_session(sid)
    assert not await bus.redis.exists(*layout.session_keys(sid))
    await bus.release_session(kept, keep_s=60)
    for key in (layout.session_stream(kept), layout.session_state_key(kept)):
        assert 0 < await bus.redis.ttl(key) <= 60
    retaining = Bus(bus.redis, keep_call_audio=True)  # retention asked: the TTL stays
    other = str(uuid.uuid4())
    await retaining.publish(utterance(other, 1), stages=())
    await retaining.end_session(other)
    await retaining.release_session(other)
    assert await bus.redis.ttl(layout.session_stream(other)) > layout.SESSION_IDLE_TTL_S


async def test_audio_stays_when_retention_is_asked(bus: Bus) -> None:
    keeping = Bus(bus.redis, keep_call_audio=True)
    sid = str(uuid.uuid4())
    await keeping.publish(utterance(sid, 1), stages=())
    await keeping.end_session(sid)
    await keeping.release_session(sid)
    (kept,) = await keeping.session_log(sid)
    assert isinstance(kept, Utterance)
    assert kept.audio == AUDIO


async def test_xackdel_is_detected_from_the_server(bus: Bus) -> None:
    """The bus agrees with the server's version on XACKDEL (Redis 8.2+), leaves no key
    behind, and acknowledging works either way (the other tests)."""
    version = (await bus.redis.info("server"))["redis_version"]
    major, minor = (int(x) for x in str(version).split(".")[:2])
    assert await bus.has_xackdel() is ((major, minor) >= (8, 2))
    assert await bus.redis.dbsize() == 0


test_malformed_redis_settings_are_named = refused_settings(
    RedisOptions.from_env,
    ValueError,
    [
        *naming("REDIS_URL", "http://x", "redis://"),
        *naming("REDIS_SOCKET_TIMEOUT_S", "soon", "0.5", "nan"),
        *naming("KEEP_CALL_AUDIO", "maybe"),
    ],
)


def test_redis_settings_defaults_and_values() -> None:
    assert RedisOptions.from_env({}) == RedisOptions()
    assert RedisOptions().keep_call_audio is False
    opts = RedisOptions.from_env(
        {"REDIS_URL": "redis://r:6380/1", "REDIS_SOCKET_TIMEOUT_S": "7.5", "KEEP_CALL_AUDIO": "yes"}
    )
    assert opts == RedisOptions("redis://r:6380/1", 7.5, True)


@pytest.mark.integration  # a redis-server
async def test_every_client_has_a_socket_timeout_and_keepalive() -> None:
    with RedisServer() as server:
        bus = Bus.connect(RedisOptions(url=server.url, socket_timeout_s=3))
        try:
            kwargs = bus.redis.connection_pool.connection_kwargs
            assert kwargs["socket_timeout"] == 3
            assert kwargs["socket_connect_timeout"] > 0
            assert kwargs["socket_keepalive"] is True
            assert kwargs["socket_keepalive_options"]
            assert await bus.redis.ping()
        finally:
            await bus.close()
