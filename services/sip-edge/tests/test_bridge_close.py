"""A call that ends while Redis is away: its last events (the turn spoken during the
outage, session.end) reach Redis once it is back, and SIGTERM's drain waits for them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis
from asp import streams as layout
from asp.messages import Message, SessionEnd, SessionStart, SpeechStart
from pipeline.bus import Bus
from pipeline.testing import RedisServer
from sip_edge.bridge import SessionBridge
from sip_edge.metrics import Metrics

pytestmark = pytest.mark.integration  # a redis-server

SID = "3f1f0c4e-6d0e-4a57-9d61-1b2f3c4d5e6f"
log = logging.getLogger("test_bridge_close")


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def _types(url: str) -> list[str]:
    r = redis.Redis.from_url(url)
    try:
        entries = r.xrange(layout.session_stream(SID))
        assert isinstance(entries, list)  # a sync client: the reply, not an awaitable
        return [f[b"type"].decode() for _id, f in entries]
    finally:
        r.close()


async def _started_then_redis_gone(
    server: RedisServer, metrics: Metrics
) -> tuple[SessionBridge, aioredis.Redis]:
    """A bridge whose session.start reached Redis, then Redis stopped (its data with it)."""
    client = aioredis.Redis.from_url(server.url, socket_timeout=5, socket_connect_timeout=2)
    got: list[Message] = []
    bridge = SessionBridge(Bus(client), SID, metrics, got.append, lambda: True, log, block_ms=100)
    bridge.start(SessionStart(session_id=SID, call_id="c-1", timestamp="2026-12-06T00:00:00Z"))
    deadline = time.monotonic() + 5
    while "session.start" not in _types(server.url):
        assert time.monotonic() < deadline, "session.start never written"
        await asyncio.sleep(0.05)
    server.stop()
    return bridge, client


def test_session_end_written_after_a_redis_outage_longer_than_a_few_seconds(
    private_redis: RedisServer,
) -> None:
    async def run() -> Metrics:
        metrics = Metrics()
        bridge, client = await _started_then_redis_gone(private_redis, metrics)  # Redis away ...
        bridge.publish(SpeechStart(session_id=SID, timestamp="2026-12-06T00:00:01Z"))
        closing = asyncio.ensure_future(
            bridge.close(SessionEnd(session_id=SID, reason="call_hangup"))
        )
        await asyncio.sleep(5.0)  # ... the call ended during the outage ...
        assert not closing.done()  # still trying, nothing dropped
        await asyncio.to_thread(private_redis.start)  # ... and Redis is back
        await asyncio.wait_for(closing, 20)
        await client.aclose()
        return metrics

    asyncio.run(run())
    assert _types(private_redis.url) == ["audio.speech_start", "session.end"]


def test_close_gives_up_after_its_flush_timeout_and_counts_what_it_dropped(
    private_redis: RedisServer,
) -> None:
    async def run() -> float:
        metrics = Metrics()
        bridge, client = await _started_then_redis_gone(private_redis, metrics)
        before = metrics.redis_errors._value.get()
        await asyncio.wait_for(
            bridge.close(SessionEnd(session_id=SID, reason="call_hangup"), flush_timeout=1.0), 5
        )
        await client.aclose()
        return float(metrics.redis_errors._value.get() - before)

    errors = asyncio.run(run())
    assert errors >= 1  # the session.end it could not write, at least
