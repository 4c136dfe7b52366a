"""``asp-debug tail`` against a real redis-server, reading events the real ASP codec wrote
(pipeline.Bus.publish, as every service writes them). The command runs as the installed
console script, in its own process."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from asp import (
    AudioConfig,
    ResponseAudio,
    ResponseEnd,
    ResponseStart,
    SessionEnded,
    SessionStart,
    Transcript,
)
from asp import streams as layout
from asp.testing import utterance
from pipeline import Bus
from pipeline.testing import RedisServer, free_port

pytestmark = pytest.mark.integration  # asp-debug as its own process, a redis-server

ASP_DEBUG = Path(sys.executable).with_name("asp-debug")
LOUD = struct.pack("<2h", 16384, -16384) * 800  # 100 ms at 16 kHz, -6 dBFS


def _cmd(*args: str) -> list[str]:
    assert ASP_DEBUG.exists(), f"{ASP_DEBUG} is not installed: run make bootstrap"
    return [str(ASP_DEBUG), *args]


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cmd(*args), capture_output=True, text=True, timeout=timeout, env=_env())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    return env


async def publish_turn(bus: Bus, sid: str, *, end: bool = True) -> None:
    await bus.publish(SessionStart(session_id=sid, audio=AudioConfig(sample_rate=16000)))
    await bus.publish(utterance(sid, "u-1", LOUD, rate=16000, ms=100))
    await bus.publish(
        Transcript(
            session_id=sid, utterance_id="u-1", text="Como eu pago?", language="pt", confidence=0.9
        )
    )
    await bus.publish(ResponseStart(session_id=sid, response_id="r-u-1"))
    await bus.publish(
        ResponseAudio(session_id=sid, response_id="r-u-1", seq=0, audio=LOUD, is_final=True)
    )
    await bus.publish(ResponseEnd(session_id=sid, response_id="r-u-1", interrupted=False))
    if end:
        await bus.publish(SessionEnded(session_id=sid, duration_seconds=1.5))


async def test_tail_prints_a_session_decoded(bus: Bus, redis_server: RedisServer) -> None:
    sid = str(uuid.uuid4())
    await publish_turn(bus, sid)
    out = run("tail", sid, "--no-follow", "--redis-url", redis_server.url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    kinds = [line.split()[2] for line in lines]
    assert kinds == [
        "session.start",
        "session.started",  # written with the start (the bus opens the session)
        "utterance",
        "transcript",
        "response.start",
        "response.audio",
        "response.end",
        "session.ended",
    ]
    assert '"text":"Como eu pago?"' in lines[3]  # the msgpack payload, as JSON
    assert "audio 3200 bytes, 100 ms, -6.0 dBFS" in lines[2]
    assert "audio 3200 bytes, 100 ms, -6.0 dBFS" in lines[5]  # rate from session.start
    assert "!!" not in out.stdout


async def test_tail_json_is_one_object_per_event(bus: Bus, redis_server: RedisServer) -> None:
    sid = str(uuid.uuid4())
    await publish_turn(bus, sid)
    out = run("tail", sid, "--no-follow", "--json", "--redis-url", redis_server.url)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(records) == 8
    assert records[3]["data"]["text"] == "Como eu pago?"
    assert records[2]["audio"] == {"bytes": 3200, "dbfs": -6.0, "duration_ms": 100}
    assert all(r["session_id"] == sid for r in records)


async def _lines(proc: asyncio.subprocess.Process, n: int, limit_s: float = 15) -> list[str]:
    """Reads n lines of the process's stdout."""
    assert proc.stdout is not None
    out: list[str] = []
    async with asyncio.timeout(limit_s):
        while len(out) < n:
            line = (await proc.stdout.readline()).decode()
            assert line, f"the command ended after {out!r}"
            out.append(line.rstrip("\n"))
    return out


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *_cmd(*args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=_env(),
    )


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def test_tail_follows_until_the_session_ends(bus: Bus, redis_server: RedisServer) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(SessionStart(session_id=sid, audio=AudioConfig(sample_rate=16000)))
    proc = await _spawn("tail", sid, "--redis-url", redis_server.url)
    try:
        first = await _lines(proc, 1)
        assert "session.start" in first[0]
        await publish_turn(bus, sid)  # a second session.start, then the turn and the end
        rest = await _lines(proc, 9)  # the first start's session.started, then those 8
        assert "session.ended" in rest[-1]
        assert await asyncio.wait_for(proc.wait(), 10) == 0  # it stops by itself at the end
    finally:
        await _kill(proc)


async def test_tail_all_follows_sessions_that_start_later(
    bus: Bus, redis_server: RedisServer
) -> None:
    old = str(uuid.uuid4())
    await bus.publish(SessionStart(session_id=old, audio=AudioConfig()))
    await bus.redis.zadd(layout.ACTIVE_SESSIONS, {old: time.time()})
    proc = await _spawn("tail", "--all", "--json", "--redis-url", redis_server.url)
    try:
        assert await _lines(proc, 1) == [f"-- following session {old}"]
        new = str(uuid.uuid4())
        await bus.redis.zadd(layout.ACTIVE_SESSIONS, {new: time.time()})
        # seen live first: its session.ended takes it out of the active set at once
        assert await _lines(proc, 1) == [f"-- following session {new}"]
        await publish_turn(bus, new)
        records = [json.loads(line) for line in await _lines(proc, 8)]
        assert [r["session_id"] for r in records] == [new] * 8  # the old session's start: not
        assert records[0]["type"] == "session.start"
        await bus.publish(ResponseStart(session_id=old, response_id="late"))
        (late,) = await _lines(proc, 1)
        assert json.loads(late)["data"]["response_id"] == "late"
    finally:
        await _kill(proc)


def test_tail_rejects_a_bad_session_id() -> None:
    out = run("tail", "not-a-uuid")
    assert out.returncode == 2
    assert "bad session id 'not-a-uuid'" in out.stderr


def test_tail_reports_an_unreachable_redis() -> None:
    out = run("tail", str(uuid.uuid4()), "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert out.returncode == 3
    assert "cannot reach Redis" in out.stderr


async def test_tail_reports_an_unknown_session(redis_server: RedisServer, bus: Bus) -> None:
    sid = str(uuid.uuid4())
    out = run("tail", sid, "--no-follow", "--redis-url", redis_server.url)
    assert out.returncode == 3
    assert f"no stream {layout.session_stream(sid)} in Redis" in out.stderr


async def test_tail_survives_a_malformed_entry(bus: Bus, redis_server: RedisServer) -> None:
    sid = str(uuid.uuid4())
    await bus.redis.xadd(layout.session_stream(sid), {"type": "transcript", "data": b"\xc1"})
    await bus.publish(SessionEnded(session_id=sid))
    out = run("tail", sid, "--no-follow", "--redis-url", redis_server.url)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert "!! data is not msgpack" in first
    assert "session.ended" in second
    assert "!!" not in second


def test_the_console_script_is_installed() -> None:
    out = run("--help")
    assert out.returncode == 0
    assert "connect" in out.stdout
    assert "tail" in out.stdout
