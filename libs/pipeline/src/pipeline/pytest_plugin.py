"""Pytest fixtures on real parts, shared by every test folder (registered by the root
conftest.py): a private redis-server per test session and a Bus on a flushed database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .bus import Bus
from .testing import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def bus(redis_server: RedisServer) -> AsyncIterator[Bus]:
    b = Bus.from_url(redis_server.url)
    await b.redis.flushdb()
    yield b
    await b.close()
