"""Redis Sentinel and failovers in the client every service uses (pipeline.redis_client),
against real redis-server processes: settings, the timeouts on every connection, a
failover's error replies turned into "unavailable" (retried), and a client that follows
the master the sentinels name."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from asp import Transcript
from asp import streams as layout
from pipeline import Bus
from pipeline.redis_client import (
    UNAVAILABLE,
    RedisOptions,
    awaitable,
    connect,
    parse_sentinels,
)
from pipeline.sentinel_testing import MASTER_NAME, SentinelSet
from pipeline.testing import RedisServer, refused_settings
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError


def test_sentinel_settings() -> None:
    opts = RedisOptions.from_env(
        {
            "REDIS_URL": "redis://:secret@ignored:6379/2",
            "REDIS_SENTINELS": " s1:26379, 10.0.0.2:26380 ,[::1]:26381",
            "REDIS_SENTINEL_MASTER": "pabx",
        }
    )
    assert opts.sentinels == (("s1", 26379), ("10.0.0.2", 26380), ("::1", 26381))
    assert opts.sentinel_master == "pabx"
    assert "secret" not in opts.target
    assert "pabx" in opts.target
    assert RedisOptions.from_env({}).sentinels == ()
    assert "secret" not in RedisOptions(url="redis://:secret@r:6380/0").target


test_malformed_sentinel_settings_are_named = refused_settings(
    RedisOptions.from_env,
    ValueError,
    [
        ({"REDIS_SENTINELS": "s1", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "s1:0", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "s1:70000", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": ":26379", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "s1:x", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "s1:26379"}, "REDIS_SENTINEL_MASTER is empty"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS is empty"),
    ],
)


def test_too_many_sentinels_are_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        parse_sentinels(",".join(f"s{i}:26379" for i in range(17)))


async def test_sentinel_connections_keep_the_timeouts_and_the_urls_credentials() -> None:
    opts = RedisOptions(
        url="redis://user:pw@ignored:1/3",
        socket_timeout_s=3,
        sentinels=(("127.0.0.1", 1),),
        sentinel_master="pabx",
    )
    client = connect(opts)
    try:
        master = client.connection_pool.connection_kwargs
        assert master["socket_timeout"] == 3
        assert master["socket_keepalive"] is True
        assert master["socket_keepalive_options"]
        assert (master["username"], master["password"], master["db"]) == ("user", "pw", 3)
        assert "host" not in master  # the sentinels say where the master is
        (sentinel,) = client.connection_pool.sentinel_manager.sentinels  # type: ignore[attr-defined]
        asked = sentinel.connection_pool.connection_kwargs
        assert asked["socket_timeout"] == 3
        assert asked["socket_connect_timeout"] > 0
        assert asked["socket_keepalive"] is True
        with pytest.raises(UNAVAILABLE):  # no sentinel there: "unavailable", retried
            await client.ping()
    finally:
        await client.aclose()


@pytest.mark.integration  # redis-servers
async def test_a_blocked_read_unblocked_by_a_role_change_is_unavailable() -> None:
    """A master turned replica unblocks its blocked reads with an error and refuses writes:
    both read as "Redis unavailable" (the services retry), not as a failed command."""
    with RedisServer() as primary, RedisServer() as other:
        client = connect(RedisOptions(url=primary.url))
        admin = Redis(port=primary.port)
        try:
            await client.xadd("s", {"a": "1"})
            blocked = asyncio.ensure_future(awaitable(client.xread({"s": "$"}, block=5000)))
            await asyncio.sleep(0.3)
            await admin.replicaof("127.0.0.1", other.port)
            with pytest.raises(RedisConnectionError, match="no longer the master"):
                await blocked
            with pytest.raises(RedisConnectionError, match="no longer the master"):
                await client.xadd("s", {"a": "2"})
        finally:
            await client.aclose()
            await admin.aclose()


@pytest.mark.integration  # redis-servers
async def test_a_write_racing_a_close_is_unavailable_not_a_crash() -> None:
    """redis/redis-py#4287: a connection closed while a write is under way (here: closed
    after the write was scheduled, before it ran) raised the transport's AttributeError,
    which no retry on UNAVAILABLE caught and which killed sip-edge's reader of a call when
    Redis went away. It must read as "Redis unavailable", and the client goes on."""
    with RedisServer() as server:
        client = connect(RedisOptions(url=server.url))
        try:
            await client.ping()
            conn = await client.connection_pool.get_connection()
            write = asyncio.create_task(conn.send_command("XADD", "s", "*", "a", "1"))
            await asyncio.sleep(0)  # the write is scheduled behind its socket timeout
            await conn.disconnect(nowait=True)
            with pytest.raises(UNAVAILABLE, match="closed while writing"):
                await write
            await client.connection_pool.release(conn)
            assert await client.xadd("s", {"a": "2"})
        finally:
            await client.aclose()


@pytest.mark.integration  # redis-servers and sentinels
async def test_the_bus_follows_a_sentinel_failover() -> None:
    with SentinelSet() as sentinels:
        bus = Bus.connect(sentinels.options())
        try:
            sid = str(uuid.uuid4())
            msg = Transcript(
                session_id=sid, utterance_id="u-1", text="oi", language="pt", confidence=1.0
            )
            await bus.publish(msg)
            assert await bus.redis.wait(1, 5000) == 1
            old = sentinels.master_port()
            new = sentinels.failover()
            assert new != old
            for _ in range(100):  # the first command after the failover may find it gone
                try:
                    await bus.publish(dataclasses.replace(msg, utterance_id="u-2"))
                    break
                except UNAVAILABLE:
                    await asyncio.sleep(0.1)
            log = await bus.session_log(sid)
            assert [m.utterance_id for m in log] == ["u-1", "u-2"]  # type: ignore[attr-defined]
            assert int((await bus.redis.info("server"))["tcp_port"]) == new
            assert await bus.redis.xlen(layout.session_stream(sid)) == 2
            assert MASTER_NAME in sentinels.options().target
        finally:
            await bus.close()
