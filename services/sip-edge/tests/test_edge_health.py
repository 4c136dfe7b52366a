"""sip-edge's /live and /ready as a real process: Redis going away makes it unready, never
dead; a PBX that does not register it keeps it unready."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pipeline.testing import RedisServer, free_port
from sip_edge.testing import EdgeProcess

pytestmark = pytest.mark.integration  # sip-edge as its own process, a redis-server

PING_EVERY_S = 1.0  # pipeline.health: one PING a second, 2 s to answer
PING_TIMEOUT_S = 2.0


def status(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()


def until(port: int, path: str, code: int, timeout: float) -> float:
    """Polls ``path`` until it answers ``code``; returns how long that took."""
    start = time.monotonic()
    while status(port, path)[0] != code:
        assert time.monotonic() - start < timeout, f"{path} never answered {code}"
        time.sleep(0.05)
    return time.monotonic() - start


def test_redis_outage_makes_the_edge_unready_not_dead(tmp_path: Path) -> None:
    with RedisServer() as redis, EdgeProcess(tmp_path / "edge.log", REDIS_URL=redis.url) as edge:
        port = edge.metrics_port
        until(port, "/ready", 200, 15)
        assert status(port, "/live")[0] == 200
        assert status(port, "/health")[0] == 200  # the old name of /ready
        redis.stop()
        took = until(port, "/ready", 503, 10)
        assert took <= PING_EVERY_S + PING_TIMEOUT_S + 1.0, took
        assert "redis" in status(port, "/ready")[1]
        assert status(port, "/live")[0] == 200  # a Redis outage restarts nothing
        redis.start()
        until(port, "/ready", 200, 15)


def test_an_edge_its_pbx_does_not_register_is_not_ready(tmp_path: Path) -> None:
    silent_registrar = f"127.0.0.1:{free_port()}"  # nothing answers there
    with (
        RedisServer() as redis,
        EdgeProcess(
            tmp_path / "edge.log",
            REDIS_URL=redis.url,
            SIP_EDGE_REGISTRAR=silent_registrar,
            EXT_2000_PASSWORD="not-registered",  # noqa: S106 - a test value
        ) as edge,
    ):
        port = edge.metrics_port
        until(port, "/live", 200, 15)
        time.sleep(PING_EVERY_S + PING_TIMEOUT_S)  # Redis has answered by now
        code, body = status(port, "/ready")
        assert code == 503
        assert "registered" in body
        assert "redis" not in body
