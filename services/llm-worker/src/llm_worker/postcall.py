"""Post-call work on arq, where a delay does not matter (the real-time chain uses streams).

- ``summarize_call(session_id)``: enqueued when a call ends. Builds the transcript from the
  session log (caller: transcripts; agent: the sentences it said), asks the LLM for a short
  summary, writes both to ``asp:summary:{<session>}`` and POSTs them to POSTCALL_WEBHOOK_URL
  when one is configured. Live calls come first: the summary waits to start while any
  reply is being generated (up to POSTCALL_DEFER_MAX_S), and its own generation is held
  between tokens whenever one begins (at most POSTCALL_MAX_HOLD_S in one go).
  Once summarized (and delivered), the call's audio leaves Redis and its other raw keys
  (event log, history, state) follow POSTCALL_LOG_KEEP_S seconds later (10 minutes; 0: at
  once): the summary hash is the day-long record of the call, so Redis stays flat however
  many calls a day (KEEP_CALL_AUDIO=true keeps everything until its TTL instead).
- ``cleanup_sessions`` (cron, every 10 minutes): drops from ``asp:sessions:active`` the
  calls whose log expired or that outlived the maximum call duration.

Run: ``python -m llm_worker.postcall`` (or ``arq llm_worker.postcall.WorkerSettings``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from typing import Any

import aiohttp
from arq import cron
from arq.connections import ArqRedis, RedisSettings
from asp import ASPError, ResponseText, Transcript
from pipeline import Bus
from pipeline.envparse import EnvReader
from pipeline.logs import setup
from pipeline.redis_client import RedisOptions, connection_pool

from .events import ChatRequest, Message, TextDelta
from .persona import load_persona
from .priority import hold_while_live, wait_until_quiet
from .providers import create_provider
from .providers.base import Gate, LLMProvider
from .settings import Settings

log = logging.getLogger(__name__)

SUMMARY_PROMPT = (
    "Resuma a ligação abaixo em português, em no máximo três frases: o que o cliente "
    "queria e o que foi resolvido. Responda só com o resumo."
)
MAX_CALL_S = 4 * 3600
LOG_KEEP_S = 600
"""POSTCALL_LOG_KEEP_S's default: a summarized call's text log stays 10 minutes more (a
look at what just happened); its audio goes at once."""


def job_pool(options: RedisOptions) -> ArqRedis:
    """arq's client with the socket timeout and keepalive of every Redis client here
    (``arq.create_pool`` sets neither: a silent partition would hang it), on REDIS_URL's
    server or on the Sentinel master (REDIS_SENTINELS)."""
    return ArqRedis(connection_pool(options))


async def call_transcript(bus: Bus, session_id: str) -> list[dict[str, str]]:
    """The conversation as [{'role': 'caller'|'agent', 'text': ...}], in order."""
    turns: list[dict[str, str]] = []
    try:
        log_messages = await bus.session_log(session_id)
    except ASPError:
        return turns
    for msg in log_messages:
        if isinstance(msg, Transcript) and msg.text.strip():
            turns.append({"role": "caller", "text": msg.text})
        elif isinstance(msg, ResponseText) and msg.text.strip():
            if turns and turns[-1]["role"] == "agent":
                turns[-1]["text"] += " " + msg.text
            else:
                turns.append({"role": "agent", "text": msg.text})
    return turns


async def summarize(
    provider: LLMProvider, turns: list[dict[str, str]], gate: Gate | None = None
) -> str:
    if not turns:
        return ""
    text = "\n".join(
        f"{'Cliente' if t['role'] == 'caller' else 'Atendente'}: {t['text']}" for t in turns
    )
    request = ChatRequest(
        system=SUMMARY_PROMPT,
        messages=(Message("user", text),),
        tools=False,
        max_tokens=200,
        temperature=0.0,
    )
    parts: list[str] = []
    async with provider.stream(request, gate=gate) as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                parts.append(event.text)
    return "".join(parts).strip()


async def summarize_when_quiet(
    bus: Bus, provider: LLMProvider, turns: list[dict[str, str]], settings: Settings
) -> str:
    """The summary, generated only while no live reply needs the CPU (bounded waits)."""
    if not turns:
        return ""
    waited = await wait_until_quiet(bus, max_wait_s=settings.postcall_defer_max_s)
    if waited >= 1.0:
        log.info("summary deferred %.0f s for live calls", waited)
    gate = Gate()
    pacer = asyncio.create_task(hold_while_live(bus, gate, max_hold_s=settings.postcall_max_hold_s))
    try:
        return await summarize(provider, turns, gate)
    finally:
        pacer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pacer


async def summarize_call(ctx: dict[str, Any], session_id: str) -> str:
    bus: Bus = ctx["bus"]
    turns = await call_transcript(bus, session_id)
    settings: Settings = ctx.get("settings") or Settings()
    try:
        summary = await summarize_when_quiet(bus, ctx["provider"], turns, settings)
    except Exception as e:  # the transcript is still worth keeping
        log.warning("summary of %s failed: %s", session_id, e)
        summary = ""
    payload = {"session_id": session_id, "transcript": turns, "summary": summary}
    await bus.store_summary(session_id, json.dumps(turns, ensure_ascii=False), summary)
    url = ctx.get("webhook_url")
    if url:
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, json=payload) as response,
        ):
            response.raise_for_status()  # arq retries the job
    # Summarized (and delivered): the call's raw event log is no longer needed here.
    await bus.release_session(session_id, ctx.get("log_keep_s", LOG_KEEP_S))
    return summary


async def cleanup_sessions(ctx: dict[str, Any]) -> int:
    bus: Bus = ctx["bus"]
    removed = 0
    now = time.time()
    for session_id, started in await bus.active_sessions():
        try:
            alive = await bus.has_session_log(session_id)
        except ASPError:
            alive = False
        if not alive or now - started > MAX_CALL_S:
            await bus.deactivate_session(session_id)
            removed += 1
    return removed


async def startup(ctx: dict[str, Any]) -> None:
    settings = Settings.from_env()
    ctx.setdefault("settings", settings)
    ctx.setdefault("bus", Bus.connect(RedisOptions.from_env(os.environ)))
    ctx.setdefault("provider", create_provider(settings))
    ctx.setdefault("webhook_url", os.environ.get("POSTCALL_WEBHOOK_URL", "").strip())
    ctx.setdefault(
        "log_keep_s",
        EnvReader(os.environ).integer("POSTCALL_LOG_KEEP_S", LOG_KEEP_S, 0, 7 * 86400),
    )
    load_persona(settings.persona_path or None)  # fail early on a broken persona


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["bus"].close()


class WorkerSettings:
    functions = [summarize_call]  # noqa: RUF012 - arq reads class attributes
    cron_jobs = [cron(cleanup_sessions, minute=set(range(0, 60, 10)))]  # noqa: RUF012
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    max_tries = 3
    # A summary may wait for live calls (POSTCALL_DEFER_MAX_S) and be held while new
    # replies run: far longer than arq's 300 s default.
    job_timeout = 1800
    log_results = False  # a job's result is the summary: transcripts never go to logs


def main() -> None:
    from arq import run_worker

    setup("postcall-worker")
    run_worker(WorkerSettings, redis_pool=job_pool(RedisOptions.from_env(os.environ)))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
