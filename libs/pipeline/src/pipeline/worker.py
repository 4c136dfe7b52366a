"""The stateless stage worker: a consumer group on the stage's work stream.

N replicas of a stage share its work. Delivery is at least once and made idempotent:
each piece of work has an id (``work_id``) recorded in ``asp:done:<stage>:{<session>}``
in the same transaction as its acknowledgement, so a redelivered entry whose work is done
is acknowledged without producing its output again. Entries a dead replica left pending
are claimed by another (XAUTOCLAIM) once idle for ``claim_idle_ms`` (5 s by default);
a replica keeps the entries it is still working on fresh, so a long job is not stolen.
After ``max_deliveries`` attempts an entry goes to the dead-letter stream and the caller
hears an apology. Work older than ``max_age_s`` is acknowledged and dropped (a backlog is
not replayed); when it was a caller's turn (:meth:`StreamWorker.owes_answer`) and the call
is still live, the caller hears the apology for it too. SIGTERM stops reading, lets
running jobs finish for a grace period and leaves whatever is unfinished pending for
another replica.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict

from asp import (
    ASPError,
    Message,
    ResponseText,
    Stage,
    Transcript,
    TurnTiming,
    Utterance,
    UtteranceCancel,
    UtteranceConfirm,
    from_entry,
    provisional,
)
from asp.messages import parse_timestamp
from redis.exceptions import ResponseError

from . import metrics
from .backoff import Backoff
from .bus import Bus, Entry
from .logs import for_session
from .redis_client import UNAVAILABLE

log = logging.getLogger(__name__)

APOLOGY_PT = "Desculpe, tive um problema técnico. Pode repetir, por favor?"


@dataclass
class Job:
    entry_id: str
    msg: Message
    deliveries: int


class StreamWorkerOptions(TypedDict, total=False):
    """The tuning keyword arguments of :class:`StreamWorker` that a subclass passes on
    (``**kw: Unpack[StreamWorkerOptions]``)."""

    concurrency: int
    block_ms: int
    claim_idle_ms: int
    max_deliveries: int
    max_age_s: float


class StreamWorker(abc.ABC):
    stage: Stage

    def __init__(
        self,
        bus: Bus,
        consumer: str,
        *,
        concurrency: int = 4,
        block_ms: int = 500,
        claim_idle_ms: int = 5000,
        max_deliveries: int = 3,
        max_age_s: float = 120.0,
        apology: str = APOLOGY_PT,
    ) -> None:
        self.bus = bus
        self.consumer = consumer
        self.concurrency = concurrency
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.max_age_s = max_age_s
        self.apology = apology
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, tuple[str, str]] = {}  # entry id -> (session_id, work_id)
        self._stopping = asyncio.Event()
        self.ready = False
        self.jobs_done = 0

    # --- what a stage implements -------------------------------------------------------

    @abc.abstractmethod
    async def handle(self, job: Job) -> None:
        """Processes one event; publishes its output through ``self.bus``."""

    async def on_ready(self) -> None:  # noqa: B027 - an optional hook
        """Called each time the worker (re)connects to Redis, before it reads work (its
        /health stays unhealthy until this returns). Nothing by default."""

    def turn_timing(
        self,
        session_id: str,
        steps_s: Mapping[str, float],
        *,
        utterance_id: str | None = None,
        response_id: str | None = None,
    ) -> TurnTiming:
        """The ``turn.timing`` event of this stage for ``steps_s`` (step name without the
        ``_ms`` suffix -> seconds, e.g. ``{"stt": 0.21}``); each step is also observed in
        ``asp_turn_step_seconds``. The caller publishes it with its output."""
        ms: dict[str, int] = {}
        for step, seconds in steps_s.items():
            value = max(0.0, seconds)
            metrics.TURN_STEP_SECONDS.labels(step).observe(value)
            ms[f"{step}_ms"] = round(value * 1000)
        return TurnTiming(
            session_id=session_id,
            stage=self.stage.value,
            utterance_id=utterance_id,
            response_id=response_id,
            **ms,  # type: ignore[arg-type]
        )

    # --- speculative turns (ASP 1.2) ---------------------------------------------------------

    async def spent_on_provisional(
        self, session_id: str, utterance_id: str, seconds: float
    ) -> bool:
        """Records ``seconds`` of work on a provisional utterance; True (and the waste
        counted) when it is already cancelled, so its output must not go out."""
        if await self.bus.spend_on_provisional(self.stage, session_id, utterance_id, seconds):
            await self._wasted(session_id, utterance_id, seconds)
            return True
        return False

    async def provisional_cancelled(self, msg: UtteranceCancel) -> None:
        """``utterance.cancel`` taken from the work stream: the seconds this stage had spent
        on the utterance are counted as wasted (a stale cancel is rejected, and logged)."""
        state = await self.bus.provisional_state(msg.session_id, msg.utterance_id)
        if self.rejected(msg, state):
            return
        spent = await self.bus.take_spent(self.stage, msg.session_id, msg.utterance_id)
        if spent > 0:
            await self._wasted(msg.session_id, msg.utterance_id, spent)

    def rejected(self, msg: UtteranceConfirm | UtteranceCancel, state: str | None) -> bool:
        """True (counted and logged with the reason) when ``msg`` does not match the
        utterance's state: it changes nothing."""
        error = provisional.delivery_error(msg, state)
        if error is None:
            return False
        metrics.SPECULATIVE_REJECTED.labels(self.stage.value, msg.TYPE).inc()
        for_session(log, msg.session_id).error("%s", error.error.message)
        return True

    async def _wasted(self, session_id: str, utterance_id: str, seconds: float) -> None:
        metrics.SPECULATIVE_WASTED_SECONDS.labels(self.stage.value).observe(seconds)
        await self.bus.publish(
            TurnTiming(
                session_id=session_id,
                stage=self.stage.value,
                utterance_id=utterance_id,
                wasted_ms=round(seconds * 1000),
            )
        )

    def work_id(self, msg: Message) -> str | None:
        """The id of the work an event stands for (None: not deduplicated)."""
        if isinstance(msg, UtteranceConfirm | UtteranceCancel):
            # One per event, not per utterance: a rejected stale one must not make the
            # real one look done.
            return f"{msg.TYPE}:{msg.utterance_id}:{msg.timestamp}"
        for name in ("utterance_id", "response_id"):
            value = getattr(msg, name, None)
            if value is not None:
                seq = getattr(msg, "seq", None)
                return f"{msg.TYPE}:{value}" + (f":{seq}" if seq is not None else "")
        return None

    async def give_up(self, job: Job) -> None:
        """Called once an entry exhausted its retries: by default the caller hears an apology."""
        await self.apologize(job)

    def owes_answer(self, msg: Message) -> bool:
        """True when ``msg`` is a caller's turn (dropping it unanswered leaves the caller
        in silence): an utterance, a transcript, a response's first sentence. A
        provisional one is not the turn yet (its confirmation is)."""
        if isinstance(msg, Utterance | Transcript):
            return not msg.provisional
        return isinstance(msg, ResponseText) and msg.seq == 0

    async def stale(self, job: Job) -> None:
        """Called for work older than ``max_age_s`` (acknowledged, not done): a caller's
        turn of a call still live gets the apology."""
        session_id = getattr(job.msg, "session_id", None)
        if session_id is None or not self.owes_answer(job.msg):
            return
        if not await self.bus.is_active(session_id):
            return  # the call is over: nobody to apologise to
        for_session(log, session_id).warning(
            "%s: a turn waited past %.0f s: the caller hears the apology",
            self.stage.value,
            self.max_age_s,
        )
        await self.apologize(job)

    async def apologize(self, job: Job) -> None:
        """The caller hears the apology instead of the answer to ``job``: by default a
        sentence for the TTS stage (the TTS stage voices it itself)."""
        session_id = getattr(job.msg, "session_id", None)
        if session_id is None or self.stage is Stage.TTS:
            return
        await self.bus.publish(
            ResponseText(
                session_id=session_id,
                response_id=f"apology-{job.entry_id}",
                seq=0,
                text=self.apology,
                is_final=True,
            ),
            stages=(Stage.TTS,),
        )

    # --- the loop ----------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, grace_s: float = 10.0) -> None:
        """Reads and processes work until ``stop()``; survives Redis going away."""
        backoff = Backoff(first=0.2, cap=5.0)
        maintain: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                try:
                    if not self.ready:
                        await self.bus.ensure_group(self.stage)
                        await self.on_ready()
                        self.ready = True
                        backoff.reset()
                        if maintain is None:
                            maintain = asyncio.create_task(
                                self._maintain(), name=f"{self.stage}:maintain"
                            )
                    await self._read_once()
                except UNAVAILABLE as e:
                    self.ready = False
                    delay = backoff.next_delay()
                    log.warning(
                        "%s: Redis unavailable (%s); retrying in %.1f s",
                        self.stage.value,
                        e,
                        delay,
                    )
                    await asyncio.sleep(delay)
                except ResponseError as e:
                    if "NOGROUP" not in str(e):
                        raise
                    self.ready = False  # Redis restarted empty: create the group again
        finally:
            self.ready = False
            if self._tasks:
                _, pending = await asyncio.wait(list(self._tasks.values()), timeout=grace_s)
                for task in pending:  # left pending in Redis: another replica claims them
                    task.cancel()
            if maintain is not None:
                maintain.cancel()

    async def _read_once(self) -> None:
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            await asyncio.wait(
                list(self._tasks.values()), timeout=0.5, return_when=asyncio.FIRST_COMPLETED
            )
            return
        for entry in await self.bus.read_work(self.stage, self.consumer, free, self.block_ms):
            self._spawn(entry, 1)

    async def _maintain(self) -> None:
        """Keeps running jobs claimed and claims what dead replicas left, twice per idle time."""
        while True:
            await asyncio.sleep(self.claim_idle_ms / 2000)
            try:
                await self._claim()
            except Exception:
                log.exception("%s: claiming pending work failed", self.stage.value)

    async def _claim(self) -> None:
        await self.bus.keep_claimed(self.stage, self.consumer, list(self._tasks))
        for session_id, work_id in list(self._locks.values()):
            await self.bus.refresh_work_lock(self.stage, session_id, work_id, self.claim_idle_ms)
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return
        for entry, deliveries in await self.bus.claim_stale(
            self.stage, self.consumer, self.claim_idle_ms, count=free
        ):
            if entry[0] in self._tasks:
                continue
            metrics.CLAIMED.labels(self.stage.value).inc()
            self._spawn(entry, deliveries)

    def _spawn(self, entry: Entry, deliveries: int) -> None:
        entry_id = entry[0]
        task = asyncio.create_task(
            self._process(entry, deliveries), name=f"{self.stage}:{entry_id}"
        )
        self._tasks[entry_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(entry_id, None))

    async def _process(self, entry: Entry, deliveries: int) -> None:
        entry_id, fields = entry
        stage = self.stage.value
        try:
            msg = from_entry(fields)
        except ASPError as e:
            metrics.MALFORMED.labels(stage).inc()
            log.warning("%s: malformed work entry %s skipped: %s", stage, entry_id, e)
            await self.bus.dead_letter(self.stage, entry_id, fields, f"malformed: {e}")
            return
        job = Job(entry_id, msg, deliveries)
        session_id = getattr(msg, "session_id", None)
        work_id = self.work_id(msg) if session_id else None
        if session_id and work_id:
            if await self.bus.is_done(self.stage, session_id, work_id):
                await self.bus.ack(self.stage, entry_id)
                metrics.JOBS.labels(stage, "duplicate").inc()
                return
            if not await self.bus.lock_work(self.stage, session_id, work_id, self.claim_idle_ms):
                # Another replica is doing this very work: leave the entry pending; once
                # claimed again it is found done (or, if that replica died, redone).
                metrics.JOBS.labels(stage, "busy").inc()
                return
            self._locks[entry_id] = (session_id, work_id)
            try:
                await self._run_job(job, fields, session_id, work_id)
            finally:
                self._locks.pop(entry_id, None)
            return
        await self._run_job(job, fields, None, None)

    async def _run_job(
        self, job: Job, fields: dict[bytes, bytes], session_id: str | None, work_id: str | None
    ) -> None:
        entry_id, msg, deliveries, stage = job.entry_id, job.msg, job.deliveries, self.stage.value
        if deliveries > self.max_deliveries:
            metrics.DEAD.labels(stage).inc()
            log.error(
                "%s: entry %s failed %d times: dead-lettered", stage, entry_id, deliveries - 1
            )
            await self.bus.dead_letter(self.stage, entry_id, fields, "max deliveries")
            if session_id and work_id:
                await self.bus.unlock_work(self.stage, session_id, work_id)
            await self.give_up(job)
            return
        ts = getattr(msg, "timestamp", None)
        if ts:
            try:
                wait = (datetime.now(UTC) - parse_timestamp(ts)).total_seconds()
            except ASPError:
                wait = 0.0
            metrics.QUEUE_WAIT.labels(stage).observe(max(wait, 0.0))
            if wait > self.max_age_s:
                # No caller waits this long: a backlog (workers were down) is not replayed.
                log.warning("%s: entry %s is %.0f s old: skipped", stage, entry_id, wait)
                metrics.JOBS.labels(stage, "stale").inc()
                await self.bus.ack(self.stage, entry_id)
                try:
                    await self.stale(job)
                except UNAVAILABLE:
                    raise
                except Exception:
                    log.exception("%s: the apology for stale entry %s failed", stage, entry_id)
                return
        metrics.IN_FLIGHT.labels(stage).inc()
        start = time.perf_counter()
        try:
            await self.handle(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            metrics.JOBS.labels(stage, "error").inc()
            log.exception("%s: entry %s (%s) failed; it will be retried", stage, entry_id, msg.TYPE)
            if session_id and work_id:
                await self.bus.unlock_work(self.stage, session_id, work_id)
            return
        finally:
            metrics.IN_FLIGHT.labels(stage).dec()
            metrics.JOB_SECONDS.labels(stage).observe(time.perf_counter() - start)
        if session_id and work_id:
            await self.bus.ack_done(self.stage, entry_id, session_id, work_id)
        else:
            await self.bus.ack(self.stage, entry_id)
        metrics.JOBS.labels(stage, "ok").inc()
        self.jobs_done += 1
