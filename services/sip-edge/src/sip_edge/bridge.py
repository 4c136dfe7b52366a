"""asyncio <-> Redis for one call: the call is an ASP session on the libs/asp Redis layout.

Writes go through ``pipeline.bus.Bus`` (one MULTI/EXEC per event: the session log, the
work streams of the stages that consume it, the cancelled-responses set for a
response.cancel), in order, by one writer task per session:

==================  ====================================  =============================
event               session log ``asp:session:{<id>}``      work streams
==================  ====================================  =============================
session.start       yes                                   ``asp:work:llm`` (greeting)
audio.speech_start  yes
utterance           yes                                   ``asp:work:stt``
utterance.confirm   yes                                   ``asp:work:llm``
utterance.cancel    yes                                   ``asp:work:stt``, ``asp:work:llm``
audio.end           yes
response.cancel     yes                                   ``asp:work:llm``, ``asp:work:tts``
call.dtmf           yes                                   ``asp:work:llm``
session.end         yes                                   ``asp:work:llm``
session.ended       yes
turn.timing         yes
==================  ====================================  =============================

The edge owns the session's lifecycle (``asp.session``): its ``session.start`` opens it (the
bus writes, in the same transaction, the ``session.started`` answer, the state the stages
read and the active set), and after its ``session.end`` its ``session.ended`` (with the
statistics counted by :attr:`SessionBridge.stats` from the events published here) closes it:
the session's keys get their post-call TTL and it leaves the active set.

Reads the session log (XREAD, from the entry of its own session.start on) and hands
``response.audio``, ``response.cancel``, ``call.action`` and ``session.started/updated`` to the
call. Reading pauses while the playback buffer is above its high-water mark
(back-pressure: Redis holds the rest of a long answer).

``turn.timing`` events (the workers' and the edge's own) are skipped when reading. The
writer tells the call when each event is in Redis (``on_written``): the end of the turn is
measured up to the utterance actually published.

Faults: Redis unreachable -> the call stays up (``on_undelivered`` lets the call tell the
caller, e.g. with a short apology, when a turn cannot reach the pipeline); the writer keeps
its queue (bounded: the oldest events are dropped first, and counted) and both tasks retry
with exponential backoff.
A malformed entry is counted, logged without its content and skipped. A confirm or cancel
of a provisional utterance that is not provisional any more is refused by the bus (nothing
written): counted as malformed, logged, dropped.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asp import ASPError, SessionStats, from_entry
from asp import streams as layout
from asp.messages import Message, SessionEnded
from pipeline.backoff import Backoff
from pipeline.bus import Bus
from pipeline.redis_client import UNAVAILABLE

from .metrics import Metrics

__all__ = ["SessionBridge", "redis_backoff"]

EDGE_TYPES = frozenset(
    {
        "session.start",
        "session.update",
        "session.end",
        "audio.speech_start",
        "audio.speech_end",
        "audio.end",
        "utterance",
        "utterance.confirm",
        "utterance.cancel",
        "call.dtmf",
        "session.ended",
    }
)
"""Types this edge writes itself: seen again when reading the log, and skipped. (The
``session.started`` its start gets is read: the call takes its negotiated VAD.)"""
NOT_FOR_THE_EDGE = frozenset({"turn.timing"})
"""Types other writers put in the session log for people and dashboards: skipped unread."""
_SKIPPED_B = frozenset(t.encode() for t in EDGE_TYPES | NOT_FOR_THE_EDGE)

REDIS_ERRORS = UNAVAILABLE
"""Redis unreachable, too slow, or full (maxmemory): the call goes on, events wait."""


def redis_backoff(cap: float = 2.0) -> Backoff:
    """The edge's retries on Redis: 0.1 s doubling up to ``cap`` seconds, +-20 % jitter."""
    return Backoff(first=0.1, cap=cap, jitter=(0.8, 1.2))


Handler = Callable[[Message], None]

END_FLUSH_TIMEOUT_S = 30.0
"""How long a session's last events (its session.end above all) are retried after the
call ended, e.g. through a Redis restart."""


class SessionBridge:
    MAX_PENDING = 500

    def __init__(
        self,
        bus: Bus,
        session_id: str,
        metrics: Metrics,
        on_message: Handler,
        wants_more: Callable[[], bool],
        log: logging.LoggerAdapter[Any] | logging.Logger,
        block_ms: int = 500,
        on_undelivered: Handler | None = None,
        on_written: Handler | None = None,
    ) -> None:
        self._bus = bus
        self._on_undelivered = on_undelivered
        self._on_written = on_written
        self._reported: set[int] = set()
        self.session_id = session_id
        self.stream = layout.session_stream(session_id)
        self._metrics = metrics
        self._on_message = on_message
        self._wants_more = wants_more
        self._log = log
        self._block_ms = block_ms
        self._pending: collections.deque[Message] = collections.deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._read_from = "0-0"
        self._started = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ended_written = False
        self.connected = True
        self.stats = SessionStats()
        """The session's statistics so far, from the events published (session.ended)."""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, first: Message) -> None:
        """Queues session.start and starts the writer and reader tasks."""
        self.publish(first)
        self._writer = asyncio.create_task(self._write_loop(), name=f"w-{self.session_id}")
        self._reader = asyncio.create_task(self._read_loop(), name=f"r-{self.session_id}")

    def publish(self, msg: Message) -> None:
        """Queues an event for Redis; never blocks and never raises for Redis trouble."""
        if self._closed:
            return
        self.stats.observe(msg)
        if len(self._pending) >= self.MAX_PENDING:
            self._pending.popleft()
            self._metrics.redis_errors.inc()
            self._log.warning("Redis backlog full: dropped the oldest queued event")
        self._pending.append(msg)
        self._wake.set()
        if not self.connected:
            self._report_undelivered(msg)

    def _report_undelivered(self, msg: Message) -> None:
        """Tells the call, once per event, that it is waiting for Redis."""
        if self._on_undelivered is None or id(msg) in self._reported:
            return
        self._reported.add(id(msg))
        try:
            self._on_undelivered(msg)
        except Exception:
            self._log.exception("undelivered-event handler failed")

    async def close(
        self,
        last: Message,
        flush_timeout: float = END_FLUSH_TIMEOUT_S,
        ended: SessionEnded | None = None,
    ) -> None:
        """Publishes ``last`` (session.end) and ``ended`` (its session.ended, which ends the
        session on Redis), flushes what is queued and stops both tasks; without ``ended``,
        or when it could not be written, the session's keys are set to expire here.

        The writer keeps retrying (with its backoff) for up to ``flush_timeout`` seconds, so
        the end of a call that hangs up while Redis is away still reaches the pipeline once
        Redis is back; only then is what is left dropped, and counted."""
        self.publish(last)
        if ended is not None:
            self.publish(ended)
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
        if self._writer is not None:
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), flush_timeout)
            except TimeoutError:
                self._metrics.redis_errors.inc(len(self._pending))
                self._log.warning(
                    "Redis unreachable for %.0f s after the call ended: %d events not written (%s)",
                    flush_timeout,
                    len(self._pending),
                    ", ".join(m.TYPE for m in self._pending),
                )
                self._writer.cancel()
        for task in (self._reader, self._writer):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if not self._ended_written:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._bus.end_session(self.session_id)

    # --- writer ------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        backoff = redis_backoff()
        while True:
            if not self._pending:
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            msg = self._pending[0]
            try:
                entry_id = await self._write(msg)
            except ASPError as e:  # a stale confirm or cancel of a provisional utterance
                self._pending.popleft()
                self._metrics.malformed.inc()
                self._log.error("%s not published: %s", msg.TYPE, e.error.message)
                continue
            except REDIS_ERRORS as e:
                self._metrics.redis_errors.inc()
                if self.connected:
                    self._log.warning("Redis unreachable (%s); retrying", type(e).__name__)
                self.connected = False
                for waiting in self._pending:
                    self._report_undelivered(waiting)
                await asyncio.sleep(backoff.next_delay())
                continue
            if not self.connected:
                self._log.info("Redis reachable again")
            self.connected = True
            backoff.reset()
            self._reported.discard(id(self._pending.popleft()))
            if msg.TYPE == "session.start":
                self._read_from = entry_id
                self._started.set()
            elif msg.TYPE == "session.ended":
                self._ended_written = True
            if self._on_written is not None:
                try:
                    self._on_written(msg)
                except Exception:
                    self._log.exception("written-event handler failed")

    async def _write(self, msg: Message) -> str:
        return await self._bus.publish(msg, activate_session=msg.TYPE == "session.start")

    # --- reader ------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        await self._started.wait()
        backoff = redis_backoff()
        while True:
            # The media clock thread drains the pacer: polling it every 20 ms is simpler
            # than an event set across threads.
            while not self._wants_more():  # noqa: ASYNC110 - see the comment above
                await asyncio.sleep(0.02)
            try:
                entries = await self._bus.read_session(
                    self.session_id, self._read_from, block_ms=self._block_ms, count=50
                )
            except REDIS_ERRORS as e:
                self._metrics.redis_errors.inc()
                self._log.warning("reading the session stream failed (%s)", type(e).__name__)
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            self._dispatch(entries)

    def _dispatch(self, entries: Sequence[tuple[Any, Any]]) -> None:
        for entry_id, fields in entries:
            self._read_from = entry_id
            kind = fields.get(b"type") if isinstance(fields, dict) else None
            if kind in _SKIPPED_B:
                continue
            try:
                msg = from_entry(fields)
            except Exception as e:  # ASPError, or anything a hostile entry provokes
                self._metrics.malformed.inc()
                code = e.error.code if isinstance(e, ASPError) else type(e).__name__
                self._log.warning("skipped malformed entry %s (%s)", self._read_from, code)
                continue
            if getattr(msg, "session_id", None) != self.session_id:
                self._metrics.malformed.inc()
                self._log.warning("skipped entry %s of another session", self._read_from)
                continue
            try:
                self._on_message(msg)
            except Exception:
                self._log.exception("handling %s failed", msg.TYPE)


async def retry_forever(op: Callable[[], Awaitable[Any]], what: str, log: logging.Logger) -> Any:
    """Runs ``op`` until it succeeds, with backoff (used at startup for Redis)."""
    backoff = redis_backoff(cap=5.0)
    while True:
        try:
            return await op()
        except REDIS_ERRORS as e:
            log.warning("%s failed (%s); retrying", what, type(e).__name__)
            await asyncio.sleep(backoff.next_delay())
