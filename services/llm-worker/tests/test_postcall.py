"""Post-call jobs on arq with a real Redis: transcript + summary, webhook, cleanup."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from typing import Any

import pytest
from aiohttp import web
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from asp import ResponseText, SessionStart, Transcript, Utterance
from asp import streams as layout
from asp.testing import utterance as sample_utterance
from llm_worker.postcall import cleanup_sessions, summarize_call
from llm_worker.settings import Settings
from llm_worker.testing import FakeEngineProvider
from llm_worker.testing.fake_provider import FakeProvider
from pipeline import Bus
from pipeline.redis_client import awaitable
from pipeline.testing import RedisServer, free_port
from redis.asyncio import Redis

# arq 0.28 closes its pool with redis' deprecated close(); nothing of ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


async def a_call(bus: Bus) -> str:
    sid = str(uuid.uuid4())
    await bus.publish(SessionStart(session_id=sid), stages=())
    await bus.publish(
        ResponseText(
            session_id=sid,
            response_id="greeting",
            seq=0,
            text="Olá, em que posso ajudar?",
            is_final=True,
        ),
        stages=(),
    )
    await bus.publish(
        Transcript(
            session_id=sid,
            utterance_id="u-1",
            text="Qual o horário?",
            language="pt",
            confidence=1.0,
        ),
        stages=(),
    )
    for seq, text in enumerate(["Das 8h às 18h.", "Algo mais?"]):
        await bus.publish(
            ResponseText(session_id=sid, response_id="r-u-1", seq=seq, text=text, is_final=False),
            stages=(),
        )
    return sid


async def run_jobs(redis_server: RedisServer, bus: Bus, webhook: str) -> None:
    worker = Worker(
        functions=[summarize_call],
        redis_settings=RedisSettings.from_dsn(redis_server.url),
        burst=True,
        poll_delay=0.05,
        ctx={
            "bus": bus,
            "webhook_url": webhook,
            "provider": FakeProvider(default_text="O cliente perguntou o horário."),
        },
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_summary_and_webhook(bus: Bus, redis_server: RedisServer, raw_redis: Redis) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        sid = await a_call(bus)
        await bus.publish(
            sample_utterance(sid, "u-1", bytes(1600), ms=100),
            stages=(),
        )
        pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
        await pool.enqueue_job("summarize_call", sid, _job_id=f"summary:{sid}")
        assert await pool.enqueue_job("summarize_call", sid, _job_id=f"summary:{sid}") is None
        await pool.aclose()
        await run_jobs(redis_server, bus, f"http://127.0.0.1:{port}/hook")
    finally:
        await runner.cleanup()
    stored = await awaitable(raw_redis.hgetall(layout.summary_key(sid)))
    assert stored[b"summary"].decode() == "O cliente perguntou o horário."
    turns = json.loads(stored[b"transcript"])
    assert turns == [
        {"role": "agent", "text": "Olá, em que posso ajudar?"},
        {"role": "caller", "text": "Qual o horário?"},
        {"role": "agent", "text": "Das 8h às 18h. Algo mais?"},
    ]
    assert received == [
        {"session_id": sid, "transcript": turns, "summary": "O cliente perguntou o horário."}
    ]
    # summarized and delivered: the call's audio is gone, its text log goes within
    # POSTCALL_LOG_KEEP_S (600 s by default); the summary hash is the record that stays
    log = await bus.session_log(sid)
    assert log
    assert not [m for m in log if isinstance(m, Utterance)]
    assert 0 < await raw_redis.ttl(layout.session_stream(sid)) <= 600


async def test_cleanup_drops_expired_and_overlong_sessions(bus: Bus, raw_redis: Redis) -> None:
    live, expired, old = (await a_call(bus)), str(uuid.uuid4()), await a_call(bus)
    now = time.time()
    await raw_redis.zadd(layout.ACTIVE_SESSIONS, {live: now, expired: now, old: now - 5 * 3600})
    assert await cleanup_sessions({"bus": bus}) == 2
    remaining = await raw_redis.zrange(layout.ACTIVE_SESSIONS, 0, -1)
    assert remaining == [live.encode()]
    await asyncio.sleep(0)


async def test_the_summary_waits_for_live_replies(bus: Bus) -> None:
    sid = await a_call(bus)
    live = str(uuid.uuid4())
    await bus.begin_turn(live, "r-u-9", ttl_s=60)
    provider = FakeProvider(default_text="Resumo.")
    ctx = {"bus": bus, "provider": provider, "webhook_url": "",
           "settings": Settings(postcall_defer_max_s=30, postcall_max_hold_s=1)}  # fmt: skip
    job = asyncio.create_task(summarize_call(ctx, sid))
    await asyncio.sleep(0.8)
    assert provider.requests == []  # not started while a reply is being generated
    assert not job.done()
    await bus.end_turn(live, "r-u-9")
    assert await asyncio.wait_for(job, 5) == "Resumo."


async def test_a_lapsed_live_mark_does_not_block_the_summary(bus: Bus) -> None:
    sid = await a_call(bus)
    await bus.begin_turn(str(uuid.uuid4()), "r-dead", ttl_s=0.3)  # its replica died
    ctx = {"bus": bus, "provider": FakeProvider(default_text="Resumo."), "webhook_url": "",
           "settings": Settings(postcall_defer_max_s=30)}  # fmt: skip
    started = time.monotonic()
    assert await asyncio.wait_for(summarize_call(ctx, sid), 10) == "Resumo."
    assert time.monotonic() - started < 3


async def test_a_local_summary_is_held_while_replies_run_but_never_stalls(bus: Bus) -> None:
    """Past the deferral bound the summary starts, held between tokens while a reply
    runs (at most max_hold in one go); once the calls are quiet it runs at full pace."""
    sid = await a_call(bus)
    live = str(uuid.uuid4())
    await bus.begin_turn(live, "r-1", ttl_s=60)
    tokens = [f"t{i} " for i in range(12)]
    engine = FakeEngineProvider(tokens, token_s=0.01)
    ctx = {"bus": bus, "provider": engine, "webhook_url": "",
           "settings": Settings(postcall_defer_max_s=0.2, postcall_max_hold_s=0.5)}  # fmt: skip
    job = asyncio.create_task(summarize_call(ctx, sid))
    async with asyncio.timeout(10):
        while len(engine.produced) < 3:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.7)
    times = [t for t, _ in engine.produced]
    assert max(b - a for a, b in itertools.pairwise(times)) >= 0.4  # it was held
    await bus.end_turn(live, "r-1")
    assert await asyncio.wait_for(job, 10) == "".join(tokens).strip()


@pytest.mark.parametrize("value", ["soon", "-1", "1e9"])
async def test_a_malformed_log_keep_time_is_named(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_worker.postcall import startup

    monkeypatch.setenv("LLM_PROVIDER", "fake")
    monkeypatch.setenv("POSTCALL_LOG_KEEP_S", value)
    with pytest.raises(ValueError, match="POSTCALL_LOG_KEEP_S"):
        await startup({})
