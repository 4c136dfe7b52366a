"""Fixtures of sip-edge's tests that run sip-edge as a process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sip_edge.testing import REDIS_URL


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    """A client of the shared Redis the edge under test is pointed at (REDIS_URL)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        client.close()
