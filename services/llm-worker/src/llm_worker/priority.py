"""Who gets the CPU on a small host: the caller's first words, then the rest.

On a 2-core host the LLM, the TTS and the STT share the same cores. Two rules, both
coordinated through Redis so that they hold across processes and replicas:

* **first clause first**: when the LLM hands a reply's first clause to the TTS it raises
  the session's TTS-priority flag (in the same transaction); the TTS renews it while it
  synthesizes that clause and clears it when done. Meanwhile a local generation of that
  session is held between two tokens (:func:`hold_for_first_clause`), for a bounded time:
  the caller hears the first words sooner, and the rest of the reply is generated while
  they play;
* **live calls before post-call work**: each reply being generated is marked in
  ``asp:turns:live``; the post-call summary waits to start while any is
  (:func:`wait_until_quiet`) and holds its own generation while one begins
  (:func:`hold_while_live`).

All waits are bounded: a dead TTS replica or a stuck mark never stops a call.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pipeline import Bus

from llm_worker.providers.base import Gate

log = logging.getLogger(__name__)

POLL_S = 0.02


async def hold_for_first_clause(
    bus: Bus, session_id: str, gate: Gate, *, max_wait_s: float, poll_s: float = POLL_S
) -> float:
    """Keeps ``gate`` closed until the session's TTS-priority flag clears, at most
    ``max_wait_s``; returns how long it waited. The gate is open again on return."""
    gate.close()
    started = time.monotonic()
    deadline = started + max_wait_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not await bus.has_tts_priority(session_id):
                break
            await asyncio.sleep(min(poll_s, left))
    finally:
        gate.open()
    return time.monotonic() - started


async def wait_until_quiet(bus: Bus, *, max_wait_s: float, poll_s: float = 0.5) -> float:
    """Waits until no reply is being generated anywhere, at most ``max_wait_s``; returns
    how long it waited (post-call work then starts anyway, held by :func:`hold_while_live`)."""
    started = time.monotonic()
    deadline = started + max_wait_s
    while True:
        if time.monotonic() >= deadline or await bus.live_turns() == 0:
            break
        await asyncio.sleep(poll_s)
    return time.monotonic() - started


async def hold_while_live(bus: Bus, gate: Gate, *, max_hold_s: float, poll_s: float = 0.1) -> None:
    """Runs until cancelled: closes ``gate`` while a reply is being generated somewhere,
    but never longer than ``max_hold_s`` in one go (then lets a poll interval of tokens
    through, so the provider's idle timeout never fires). Opens the gate when cancelled."""
    held_since: float | None = None
    try:
        while True:
            busy = await bus.live_turns() > 0
            now = time.monotonic()
            if busy and (held_since is None or now - held_since < max_hold_s):
                if held_since is None:
                    held_since = now
                gate.close()
            else:
                held_since = None
                gate.open()
            await asyncio.sleep(poll_s)
    finally:
        gate.open()
