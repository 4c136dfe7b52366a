"""Fixtures of the agent tests through Asterisk: a private redis-server, and sip-edge as its
own process registered to the session's Asterisk as 2000 (EXT_2000_PASSWORD from
compose/.env), accepting INVITEs only from Asterisk and only with digest authentication,
and writing to that Redis. Asterisk, the PJSUA2 test phones (1001, 1002, 1003)
and the lock come from tests/integration/conftest.py.

sip-edge takes up to 24 simultaneous calls (the 20-call test) and plays a short apology while
Redis is unreachable (the Redis restart test restarts ``redis_server``, on the same port).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from edge_support import registered_edge
from pipeline.testing import RedisServer
from sip_edge.testing import EdgeProcess, speech_wav


@pytest.fixture(scope="package")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server, server.watched("redis_server"):
        yield server


@pytest.fixture
def r(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture(scope="package")
def edge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent")


APOLOGY = "Desculpe, um momento."


@pytest.fixture(scope="package")
def apology(edge_dir: Path) -> Path:
    """What sip-edge says while Redis is unreachable (the 8 kHz file: the calls' rate)."""
    speech_wav(APOLOGY, edge_dir / "apology-16000.wav", rate=16000)
    return speech_wav(APOLOGY, edge_dir / "apology-8000.wav")


@pytest.fixture(scope="package")
def sip_edge(
    redis_server: RedisServer, passwords: dict[str, str], edge_dir: Path, apology: Path
) -> Iterator[EdgeProcess]:
    """sip-edge registered to Asterisk as 2000; the calls to 2000 reach it."""
    with registered_edge(
        edge_dir / "sip-edge.log",
        redis_server.url,
        passwords["2000"],
        SIP_EDGE_MAX_CALLS="24",
        # Asterisk answers sip-edge's digest challenge (endpoint 2000's outbound_auth): every
        # call of these tests goes through it (issue 15)
        SIP_EDGE_DIGEST_AUTH="true",
        SIP_EDGE_APOLOGY_WAV=str(edge_dir / "apology-{rate}.wav"),
    ) as edge:
        yield edge
