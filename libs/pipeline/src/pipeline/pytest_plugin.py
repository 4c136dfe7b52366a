"""Pytest fixtures on real parts, shared by every test folder (registered by the root
conftest.py): a private redis-server per test session, a Bus on a flushed database, and a
raw client on the same database for tests that look at Redis as redis-cli would (the Bus
is for the services, which reach Redis only through its typed methods)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from .bus import Bus
from .proc_watch import WATCH
from .testing import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server, server.watched("redis_server"):
        yield server


@pytest.fixture
async def bus(redis_server: RedisServer) -> AsyncIterator[Bus]:
    b = Bus.from_url(redis_server.url)
    await b.redis.flushdb()
    yield b
    await b.close()


@pytest.fixture
async def raw_redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client on the test's Redis (the database ``bus`` uses; it does not flush it:
    with ``bus`` the database is flushed, without it nothing is)."""
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
def _watched_services_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test at once when a service its fixtures started has died (before the test:
    it died earlier; after: it died during the test), with its exit status and log."""
    deaths = WATCH.deaths(request.fixturenames)
    if deaths:
        pytest.fail("\n\n".join(deaths), pytrace=False)
    yield
    deaths = WATCH.deaths(request.fixturenames)
    if deaths:
        pytest.fail("\n\n".join(deaths), pytrace=False)
