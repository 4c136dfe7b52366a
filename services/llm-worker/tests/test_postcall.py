"""Post-call jobs on arq with a real Redis: transcript + summary, webhook, cleanup."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from aiohttp import web
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from asp import ResponseText, SessionStart, Transcript
from asp import streams as layout
from llm_worker.postcall import cleanup_sessions, summarize_call
from llm_worker.testing.fake_provider import FakeProvider
from pipeline import Bus
from pipeline.testing import RedisServer, free_port

# arq 0.28 closes its pool with redis' deprecated close(); nothing of ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


async def a_call(bus: Bus) -> str:
    sid = str(uuid.uuid4())
    await bus.publish(SessionStart(session_id=sid), stages=())
    await bus.publish(ResponseText(session_id=sid, response_id="greeting", seq=0,
                                   text="Olá, em que posso ajudar?", is_final=True), stages=())
    await bus.publish(Transcript(session_id=sid, utterance_id="u-1", text="Qual o horário?",
                                 language="pt", confidence=1.0), stages=())
    for seq, text in enumerate(["Das 8h às 18h.", "Algo mais?"]):
        await bus.publish(ResponseText(session_id=sid, response_id="r-u-1", seq=seq, text=text,
                                       is_final=False), stages=())
    return sid


async def run_jobs(redis_server: RedisServer, bus: Bus, webhook: str) -> None:
    worker = Worker(
        functions=[summarize_call],
        redis_settings=RedisSettings.from_dsn(redis_server.url),
        burst=True,
        poll_delay=0.05,
        ctx={"bus": bus, "webhook_url": webhook,
             "provider": FakeProvider(default_text="O cliente perguntou o horário.")},
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_summary_and_webhook(bus: Bus, redis_server: RedisServer) -> None:
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
        pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
        await pool.enqueue_job("summarize_call", sid, _job_id=f"summary:{sid}")
        assert await pool.enqueue_job("summarize_call", sid, _job_id=f"summary:{sid}") is None
        await pool.aclose()
        await run_jobs(redis_server, bus, f"http://127.0.0.1:{port}/hook")
    finally:
        await runner.cleanup()
    stored = await bus.redis.hgetall(layout.summary_key(sid))
    assert stored[b"summary"].decode() == "O cliente perguntou o horário."
    turns = json.loads(stored[b"transcript"])
    assert turns == [
        {"role": "agent", "text": "Olá, em que posso ajudar?"},
        {"role": "caller", "text": "Qual o horário?"},
        {"role": "agent", "text": "Das 8h às 18h. Algo mais?"},
    ]
    assert received == [{"session_id": sid, "transcript": turns,
                         "summary": "O cliente perguntou o horário."}]


async def test_cleanup_drops_expired_and_overlong_sessions(bus: Bus) -> None:
    live, expired, old = (await a_call(bus)), str(uuid.uuid4()), await a_call(bus)
    now = time.time()
    await bus.redis.zadd(layout.ACTIVE_SESSIONS, {live: now, expired: now, old: now - 5 * 3600})
    assert await cleanup_sessions({"bus": bus}) == 2
    remaining = await bus.redis.zrange(layout.ACTIVE_SESSIONS, 0, -1)
    assert remaining == [live.encode()]
    await asyncio.sleep(0)
