"""Redis without a single point of failure: a call in progress survives a Sentinel failover.

Real parts on loopback: a master, its replica and three sentinels (``redis-server
--sentinel``); the STT, LLM and TTS workers as real processes (fake engines) that find the
master through the sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER). The test plays the
edge with the same client the edge uses. A turn is answered, the master goes (SENTINEL
FAILOVER, or SIGKILL), and the next turn of the same call is answered by the new master
with the history of the first turn intact.

What can be lost: replication is asynchronous, so writes acknowledged by the master in
the last moment before it dies may not have reached the replica. The test asks WAIT (one
replica) after the first turn, as a deployment can for the writes it cannot lose; see
docs/SCALING.md.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from asp import AudioConfig, ResponseAudio, ResponseEnd, SessionStart, Utterance
from asp import streams as layout
from asp.testing import utterance as sample_utterance
from pipeline import Bus
from pipeline.redis_client import UNAVAILABLE
from pipeline.sentinel_testing import SentinelSet
from pipeline.testing import spawn_replica, stop_processes

TIMEOUT_S = 40.0
T = TypeVar("T")


@pytest.fixture
def sentinels() -> Iterator[SentinelSet]:
    with SentinelSet() as s:
        yield s


def spawn(kind: str, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # The URL is no server: only the sentinels say where Redis is.
    return spawn_replica(kind, name, "redis://127.0.0.1:1/0", **env)


async def retried(op: Callable[[], Awaitable[T]], what: str) -> T:
    """Runs ``op`` until Redis takes it, as the edge does (its writer retries on outages)."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while True:
        try:
            return await op()
        except UNAVAILABLE:
            assert asyncio.get_running_loop().time() < deadline, f"{what}: Redis never came back"
            await asyncio.sleep(0.2)


async def answered(bus: Bus, sid: str, response_id: str) -> list[ResponseAudio]:
    """Waits for the end of a response; its audio chunks."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while True:
        log = await retried(lambda: bus.session_log(sid), "reading the session log")
        if any(isinstance(m, ResponseEnd) and m.response_id == response_id for m in log):
            return [m for m in log if isinstance(m, ResponseAudio) and m.response_id == response_id]
        assert asyncio.get_running_loop().time() < deadline, f"{response_id} never ended"
        await asyncio.sleep(0.05)


def utterance(sid: str, n: int) -> Utterance:
    return sample_utterance(sid, f"u-{n}", b"\x00\x10\x00\xf0" * 2000)


async def history(bus: Bus, sid: str, turns: int) -> list[dict[str, str]]:
    """The conversation history once it holds ``turns`` caller turns (the LLM worker saves
    it after the reply's last sentence, so it may trail the reply's end a moment)."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while True:
        raw = await retried(lambda: bus.redis.get(layout.history_key(sid)), "reading history")
        messages: list[dict[str, str]] = json.loads(raw)["messages"] if raw else []
        if [m["role"] for m in messages].count("user") >= turns:
            return messages
        assert asyncio.get_running_loop().time() < deadline, f"history: {messages}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("how", ["sentinel-failover", "master-killed"])
async def test_a_call_survives_a_sentinel_failover(sentinels: SentinelSet, how: str) -> None:
    env = sentinels.env()
    procs = [spawn(f"{kind}_worker", f"{kind}-0", env) for kind in ("stt", "llm", "tts")]
    bus = Bus.connect(sentinels.options())
    try:
        sid = str(uuid.uuid4())
        await bus.publish(
            SessionStart(session_id=sid, audio=AudioConfig(), metadata={"language": "pt-BR"})
        )
        assert await answered(bus, sid, "greeting")
        await bus.publish(utterance(sid, 1))
        first_audio = await answered(bus, sid, "r-u-1")
        assert first_audio
        assert first_audio[-1].is_final
        before = await history(bus, sid, 1)
        # the first turn is on the replica before the master goes (see the module's note)
        # redis-py leaves execute_command untyped
        waited = await bus.redis.execute_command("WAIT", 1, 5000)  # type: ignore[no-untyped-call]
        assert waited == 1
        old_port = sentinels.master_port()
        log_before = len(await bus.session_log(sid))

        new_port = sentinels.failover() if how == "sentinel-failover" else sentinels.kill_master()
        assert new_port != old_port

        # the edge's next utterance of the same call, published through the new master
        await retried(lambda: bus.publish(utterance(sid, 2)), "publishing the next utterance")
        second_audio = await answered(bus, sid, "r-u-2")
        assert second_audio
        assert second_audio[-1].is_final
        assert [c.seq for c in second_audio] == list(range(len(second_audio)))

        after = await history(bus, sid, 2)
        assert after[: len(before)] == before, "the first turn's history was lost"
        assert [m["role"] for m in after].count("user") == 2
        log_after = await bus.session_log(sid)
        assert len(log_after) > log_before  # the log of the first turn is still there
        assert any(isinstance(m, ResponseEnd) and m.response_id == "r-u-1" for m in log_after)
        info = await bus.redis.info("server")
        assert int(info["tcp_port"]) == new_port  # the client follows the new master
        for p in procs:
            assert p.poll() is None, f"a worker exited ({p.args!r}) during the failover"
    finally:
        await bus.close()
        stop_processes(procs, 15)
