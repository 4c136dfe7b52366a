from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pipeline import Bus
from pipeline.testing import RedisServer


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def bus(redis_server: RedisServer) -> AsyncIterator[Bus]:
    b = Bus.from_url(redis_server.url)
    await b.redis.flushdb()
    yield b
    await b.close()
