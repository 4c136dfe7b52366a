"""One call in model turn mode, without SIP: CallSession with real Redis, a hand-written
end-of-turn model that answers only when the test lets it, and a worker thread. The event
loop keeps taking the caller's frames while the model thinks; the answer comes back to the
loop and ends the turn (or not)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from asp import streams as layout
from pipeline.bus import Bus
from pipeline.testing import RedisServer, until
from sip_edge.calls import CallSession, wait_sessions_closed
from sip_edge.metrics import Metrics
from sip_edge.settings import Settings
from sip_edge.sip import CallInfo
from sip_edge.testing import LoudIsSpeech, NoHandle

pytestmark = pytest.mark.integration  # a redis-server

FB = 320
VOICE = b"\x00\x10" * (FB // 2)
QUIET = bytes(FB)


class HeldModel:
    """Answers each check with the next probability given by ``answer``, or raises the
    exception given; blocks its worker thread until then."""

    def __init__(self) -> None:
        self.asked: list[bytes] = []
        self.started = threading.Semaphore(0)
        self._answers: list[float | Exception] = []
        self._ready = threading.Semaphore(0)

    def answer(self, value: float | Exception) -> None:
        self._answers.append(value)
        self._ready.release()

    def probability(self, pcm: bytes, sample_rate: int) -> float:
        assert sample_rate == 8000
        self.asked.append(pcm)
        self.started.release()
        if not self._ready.acquire(timeout=10):
            raise TimeoutError("the test never answered")
        value = self._answers.pop(0)
        if isinstance(value, Exception):
            raise value
        return value


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as s:
        yield s


@pytest.fixture
async def client(server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(server.url)
    yield c
    await c.aclose()


def call(
    client: aioredis.Redis, model: HeldModel | None, executor: concurrent.futures.Executor | None
) -> CallSession:
    settings = Settings(turn_mode="model", turn_pause_ms=200, turn_max_silence_ms=1200)
    info = CallInfo(1, "sip-call-id", "1001", "sip:1001@127.0.0.1")
    session = CallSession(
        info,
        NoHandle(),
        settings,
        Metrics(),
        Bus(client),
        lambda _s: None,
        turn_model=model,
        turn_executor=executor,
    )
    session.on_media(8000, "PCMU/8000")
    session.classifier = LoudIsSpeech()
    return session


async def end(session: CallSession) -> None:
    session.on_ended("test")
    assert await wait_sessions_closed(10)


def feed(session: CallSession, frames: list[bytes]) -> None:
    for f in frames:
        session.on_frame(f)


async def session_types(client: aioredis.Redis, sid: str, want: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        entries = await client.xrange(layout.session_stream(sid))
        types = [f[b"type"].decode() for _i, f in entries]
        if want in types or time.monotonic() > deadline:
            return types
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def model_asked(client: aioredis.Redis) -> AsyncIterator[tuple[CallSession, HeldModel]]:
    """A call in model turn mode whose caller spoke, then paused 200 ms: the model is being
    asked; the call ends when the test is done with it."""
    model = HeldModel()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        session = call(client, model, pool)
        feed(session, [QUIET] * 20 + [VOICE] * 30 + [QUIET] * 10)
        yield session, model
        await end(session)


def turn_checks(session: CallSession, verdict: str) -> float:
    checks: float = session.metrics.turn_checks.labels(verdict)._value.get()
    return checks


async def test_frames_keep_flowing_while_the_model_thinks_then_complete_ends_the_turn(
    client: aioredis.Redis,
) -> None:
    async with model_asked(client) as (session, model):
        assert await asyncio.to_thread(model.started.acquire, True, 5)
        started = time.perf_counter()
        feed(session, [QUIET] * 5)  # the model is busy; the loop is not
        assert time.perf_counter() - started < 0.5
        assert session.turns is not None
        assert session.turns.segmenter.frame_index == 65
        assert len(model.asked[0]) == (15 + 30 + 10) * FB  # 300 ms prefix, speech, pause
        types = await session_types(client, session.session_id, "utterance", 0.3)
        assert "utterance" not in types  # not before the model said so
        model.answer(0.92)
        types = await session_types(client, session.session_id, "utterance", 5)
        assert types.count("utterance") == 1
        assert "audio.end" in types
        assert turn_checks(session, "complete") == 1
        assert session.metrics.turn_model_seconds._sum.get() > 0


async def test_incomplete_keeps_listening_and_the_cap_ends_the_turn(
    client: aioredis.Redis,
) -> None:
    async with model_asked(client) as (session, model):
        model.answer(0.1)
        await until(lambda: turn_checks(session, "incomplete") == 1, timeout=5.0, interval=0.01)
        feed(session, [QUIET] * 45)  # 1100 ms of silence in all: still listening
        types = await session_types(client, session.session_id, "utterance", 0.3)
        assert "utterance" not in types
        feed(session, [QUIET] * 5)  # 1200 ms: the cap
        types = await session_types(client, session.session_id, "utterance", 5)
        assert types.count("utterance") == 1


async def test_speech_before_the_answer_makes_it_stale(client: aioredis.Redis) -> None:
    async with model_asked(client) as (session, model):
        assert await asyncio.to_thread(model.started.acquire, True, 5)
        feed(session, [VOICE] * 5)  # the caller goes on
        model.answer(0.99)
        await until(lambda: turn_checks(session, "stale") == 1, timeout=5.0, interval=0.01)
        types = await session_types(client, session.session_id, "utterance", 0.3)
        assert "utterance" not in types
        assert session.turns is not None
        assert session.turns.segmenter.in_speech


async def test_a_failing_model_is_counted_and_the_cap_still_ends_the_turn(
    client: aioredis.Redis,
) -> None:
    async with model_asked(client) as (session, model):
        model.answer(RuntimeError("onnx exploded"))
        await until(lambda: turn_checks(session, "error") == 1, timeout=5.0, interval=0.01)
        feed(session, [QUIET] * 50)
        types = await session_types(client, session.session_id, "utterance", 5)
        assert types.count("utterance") == 1


async def test_without_a_model_the_call_is_in_silence_mode(client: aioredis.Redis) -> None:
    session = call(client, None, None)
    assert session.turn_params.mode == "silence"
    feed(session, [QUIET] * 20 + [VOICE] * 30 + [QUIET] * 25)  # 500 ms of silence ends the turn
    types = await session_types(client, session.session_id, "utterance", 5)
    assert types.count("utterance") == 1
    await end(session)
