"""Waits on a session log, for tests that drive the LLM worker through a real Redis: a
session started and greeted, and the log once responses have ended."""

from __future__ import annotations

import asyncio
import uuid

from asp import AudioConfig, Message, ResponseText, SessionStart
from pipeline import Bus


async def final_texts(
    bus: Bus,
    sid: str,
    response_id: str,
    n: int = 1,
    *,
    prefix: bool = False,
    timeout_s: float = 20.0,
) -> list[Message]:
    """The session log once ``n`` responses ``response_id`` (with ``prefix``: whose id
    starts with it) have their final response.text; TimeoutError after ``timeout_s``."""

    def ended(m: Message) -> bool:
        if not (isinstance(m, ResponseText) and m.is_final):
            return False
        return m.response_id.startswith(response_id) if prefix else m.response_id == response_id

    async with asyncio.timeout(timeout_s):
        while True:
            log = await bus.session_log(sid)
            if sum(ended(m) for m in log) >= n:
                return log
            await asyncio.sleep(0.01)


async def greeted_session(bus: Bus, metadata: dict[str, str] | None = None) -> str:
    """A new session (8 kHz, ASP 1.1.0, ``metadata``) whose greeting the worker has
    answered; its id."""
    sid = str(uuid.uuid4())
    start = SessionStart(
        session_id=sid,
        audio=AudioConfig(sample_rate=8000),
        metadata=metadata or {},
        version="1.1.0",
    )
    await bus.publish(start)
    await final_texts(bus, sid, "greeting")
    return sid
