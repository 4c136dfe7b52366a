"""The bus: ASP events in and out of Redis, with the layout of ``asp.streams``.

Publishing an event appends it to its session's log and, in the same transaction, to the
work stream of every stage that consumes it (``asp.streams.stages_for``). Nothing else in
the services writes to Redis streams directly.

Redis stays bounded: a work entry is deleted when it is acknowledged (XACKDEL where the
server has it, Redis 8.2+, else XACK and XDEL in one transaction), so a work stream holds
only the work not yet done; once the post-call job summarized a call, the audio of its log
(the caller's utterances, the agent's speech) is deleted and the rest of its raw keys soon
after, unless ``keep_call_audio`` asks to keep them (KEEP_CALL_AUDIO, off by default:
LGPD, see docs/DEPLOY.md); dead letters keep the size of their audio, not the audio.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from asp import (
    Message,
    ResponseCancel,
    SessionEnded,
    SessionStart,
    Stage,
    Utterance,
    UtteranceCancel,
    UtteranceConfirm,
    from_entry,
    open_session,
    to_entry,
)
from asp import streams as layout
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError, WatchError
from redis.typing import EncodableT, FieldT, StreamIdT

from . import speculation
from .redis_client import RedisOptions, awaitable, connect

log = logging.getLogger(__name__)

Entry = tuple[str, dict[bytes, bytes]]

PHRASE_REGISTRY = layout.cache_key("tts", "phrases")
"""Sorted set of the fixed phrases the TTS keeps synthesized: member ``[language, text]``
(JSON), score the last time a worker registered it. Bounded to ``MAX_REGISTERED_PHRASES``."""
PHRASE_REGISTRY_VERSION = layout.cache_key("tts", "phrases-version")
"""Counter bumped when a registration adds a phrase the registry did not hold: the TTS
polls it (one GET) to fill new phrases at once instead of at its next periodic refresh."""
MAX_REGISTERED_PHRASES = 256
"""As many as TTS_CACHE_MAX_PHRASES may keep (its upper bound)."""
MAX_PHRASE_CHARS = 300
AUDIO_FIELD = layout.AUDIO_FIELD.encode()
DROP_AUDIO_BATCH = 500
"""Session-log entries read per round trip when the audio of an ended session is removed."""
XACKDEL_PROBE_KEY = f"{layout.PREFIX}:probe:xackdel"
"""A key no one writes: XACKDEL on it tells whether the server knows the command."""
DROP_AUDIO_TRIES = 5
"""Rewrites of a session log tried while other writers keep appending to it."""


def _fields(entry: dict[str, Any] | dict[bytes, bytes]) -> dict[FieldT, EncodableT]:
    """An entry as the argument redis-py's XADD is typed with (its own key and value
    unions; dict is invariant). The same dict, not a copy."""
    return cast(dict[FieldT, EncodableT], entry)


def _id(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _end(pipe: Pipeline, session_id: str) -> None:
    """Queues the end of a session on ``pipe``: its keys' post-call TTL, out of the active
    set."""
    for key in layout.session_keys(session_id):
        pipe.expire(key, layout.SESSION_ENDED_TTL_S)
    pipe.zrem(layout.ACTIVE_SESSIONS, session_id)


@dataclass(frozen=True)
class TurnAdvance:
    """A response's sentence went out: the next sentence and chunk seq that may follow
    (:meth:`Bus.publish_many` records it with the sentence's last chunks)."""

    session_id: str
    response_id: str
    next_sentence: int
    next_chunk: int
    ttl_s: int


class Bus:
    """The one way the services reach Redis: a typed method for each thing they keep
    there (work, session logs, state, history, active sessions, turn order, the phrase
    cache, the post-call record). Writes that must land with a publication or an
    acknowledgement are keyword arguments of :meth:`publish`, :meth:`publish_many` and
    :meth:`ack_done`, run in their transaction. ``redis`` is the raw client, for this
    module, tests and tools only."""

    def __init__(self, redis: Redis, *, keep_call_audio: bool = False) -> None:
        self.redis = redis
        self.keep_call_audio = keep_call_audio
        self._xackdel: bool | None = None  # whether the server has XACKDEL (asked once)

    @classmethod
    def from_url(cls, url: str) -> Bus:
        """A bus with the default options (tests, tools); services use :meth:`connect`."""
        return cls.connect(RedisOptions(url=url))

    @classmethod
    def connect(cls, options: RedisOptions) -> Bus:
        return cls(connect(options), keep_call_audio=options.keep_call_audio)

    async def close(self) -> None:
        await self.redis.aclose()

    async def ping(self) -> bool:
        """One PING (the readiness probe of :class:`pipeline.health.Health`)."""
        return bool(await self.redis.ping())

    # --- publishing --------------------------------------------------------------------

    async def publish(
        self,
        msg: Message,
        *,
        stages: Iterable[Stage] | None = None,
        activate_session: bool = False,
        tts_priority_ms: int | None = None,
    ) -> str:
        """Appends ``msg`` to its session log and to the consuming stages' work streams.

        The session's lifecycle goes with its two ends (:mod:`asp.session`, one owner: the
        ingress that publishes them). A ``session.start`` opens the session: in its
        transaction, its ``session.started`` answer goes to the log and, when accepted, the
        session's state (rate, encoding, language) is written, so every stage finds it
        before the first utterance; a rejected start reaches no stage. A
        ``session.ended`` closes it: every key of the session gets its post-call TTL and
        the session leaves the active set (:meth:`end_session`).

        In the same MULTI/EXEC transaction, ``activate_session`` adds the session to the
        active set (the call's ``session.start``, by the edge: the set's only writer) and
        ``tts_priority_ms`` raises the session's TTS-priority flag for that long (a reply's
        first clause: no window in which the LLM could read the flag before it exists).
        Returns the id of the session-log entry ("" for a confirm or cancel of a
        provisional utterance, which :func:`pipeline.speculation.resolve` publishes:
        ASPError, with nothing written, when it is stale).
        """
        if isinstance(msg, UtteranceConfirm | UtteranceCancel):
            await speculation.resolve(self.redis, msg)
            return ""
        entry = to_entry(msg)
        session_id = entry.get("session_id")
        if session_id is None and (activate_session or tts_priority_ms is not None):
            raise ValueError(f"{msg.TYPE} has no session to activate or prioritize")
        targets = layout.stages_for(msg.TYPE) if stages is None else tuple(stages)
        opening = open_session(msg) if isinstance(msg, SessionStart) else None
        if opening is not None and not opening.accepted:
            targets, activate_session = (), False
        async with self.redis.pipeline(transaction=True) as pipe:
            if session_id is not None:
                stream = layout.session_stream(session_id)
                pipe.xadd(
                    stream, _fields(entry), maxlen=layout.SESSION_STREAM_MAXLEN, approximate=True
                )
                pipe.expire(stream, layout.SESSION_IDLE_TTL_S)
                if isinstance(msg, ResponseCancel):
                    key = layout.cancelled_key(session_id)
                    pipe.sadd(key, msg.response_id)
                    pipe.expire(key, layout.SESSION_IDLE_TTL_S)
                if opening is not None:
                    self._open(pipe, session_id, opening.started, opening.state)
            for stage in targets:
                pipe.xadd(
                    layout.work_stream(stage),
                    _fields(entry),
                    maxlen=layout.WORK_STREAM_MAXLEN,
                    approximate=True,
                )
            if session_id is not None:
                if activate_session:
                    pipe.zadd(layout.ACTIVE_SESSIONS, {session_id: time.time()})
                if tts_priority_ms is not None:
                    pipe.psetex(layout.tts_priority_key(session_id), tts_priority_ms, b"1")
            if isinstance(msg, Utterance) and msg.provisional:
                speculation.mark_provisional(pipe, msg.session_id, msg.utterance_id)
            if isinstance(msg, SessionEnded):
                _end(pipe, msg.session_id)
            results = await pipe.execute()
        return _id(results[0]) if session_id is not None else ""

    @staticmethod
    def _open(
        pipe: Pipeline, session_id: str, started: Message, state: dict[str, str | int]
    ) -> None:
        """The rest of a ``session.start``'s transaction: its answer, then its state."""
        stream = layout.session_stream(session_id)
        pipe.xadd(
            stream,
            _fields(to_entry(started)),
            maxlen=layout.SESSION_STREAM_MAXLEN,
            approximate=True,
        )
        if state:
            key = layout.session_state_key(session_id)
            pipe.hset(key, mapping=state)
            pipe.expire(key, layout.SESSION_IDLE_TTL_S)

    async def publish_many(
        self, msgs: Sequence[Message], *, advance_turn: TurnAdvance | None = None
    ) -> None:
        """Several events of one session in one transaction (a sentence's audio chunks);
        ``advance_turn`` records, in the same transaction, that a response's sentence went
        out (see :meth:`turn_progress`)."""
        entries = [(msg, to_entry(msg)) for msg in msgs]
        async with self.redis.pipeline(transaction=True) as pipe:
            for msg, entry in entries:
                stream = layout.session_stream(entry["session_id"])
                pipe.xadd(
                    stream, _fields(entry), maxlen=layout.SESSION_STREAM_MAXLEN, approximate=True
                )
                for stage in layout.stages_for(msg.TYPE):
                    pipe.xadd(
                        layout.work_stream(stage),
                        _fields(entry),
                        maxlen=layout.WORK_STREAM_MAXLEN,
                        approximate=True,
                    )
            if entries:
                session_id = entries[0][1]["session_id"]
                pipe.expire(layout.session_stream(session_id), layout.SESSION_IDLE_TTL_S)
            if advance_turn is not None:
                key = layout.turn_key(advance_turn.session_id, advance_turn.response_id)
                pipe.hset(key, "next_chunk", str(advance_turn.next_chunk))
                pipe.hset(key, "next_sentence", str(advance_turn.next_sentence))
                pipe.expire(key, advance_turn.ttl_s)
            await pipe.execute()

    async def read_session(
        self, session_id: str, last_id: str = "0-0", block_ms: int = 1000, count: int = 100
    ) -> list[Entry]:
        """New entries of a session log after ``last_id`` (plain XREAD, for the edge)."""
        reply = await self.redis.xread(
            {layout.session_stream(session_id): last_id}, count=count, block=block_ms
        )
        return [(_id(i), f) for _, entries in reply or [] for i, f in entries]

    async def session_log(self, session_id: str) -> list[Message]:
        """Every event of a session, in order (tests and the post-call summary)."""
        entries = await self.redis.xrange(layout.session_stream(session_id))
        return [from_entry(f) for _, f in entries]

    # --- consumer groups ---------------------------------------------------------------

    async def ensure_group(self, stage: Stage) -> None:
        try:
            await self.redis.xgroup_create(
                layout.work_stream(stage), layout.consumer_group(stage), id="0", mkstream=True
            )
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    async def read_work(
        self, stage: Stage, consumer: str, count: int, block_ms: int
    ) -> list[Entry]:
        reply = await self.redis.xreadgroup(
            layout.consumer_group(stage),
            consumer,
            {layout.work_stream(stage): ">"},
            count=count,
            block=block_ms,
        )
        return [(_id(i), f) for _, entries in reply or [] for i, f in entries if f]

    async def claim_stale(
        self, stage: Stage, consumer: str, min_idle_ms: int, count: int = 50
    ) -> list[tuple[Entry, int]]:
        """Entries a dead or stuck replica left pending: claimed, with their delivery count."""
        reply = await self.redis.xautoclaim(
            layout.work_stream(stage),
            layout.consumer_group(stage),
            consumer,
            min_idle_time=min_idle_ms,
            start_id="0-0",
            count=count,
        )
        claimed = [(_id(i), f) for i, f in reply[1] if f]
        if not claimed:
            return []
        out = []
        for entry_id, fields in claimed:
            info = await self.redis.xpending_range(
                layout.work_stream(stage),
                layout.consumer_group(stage),
                min=entry_id,
                max=entry_id,
                count=1,
            )
            deliveries = int(info[0]["times_delivered"]) if info else 1
            out.append(((entry_id, fields), deliveries))
        return out

    async def keep_claimed(self, stage: Stage, consumer: str, entry_ids: list[str]) -> None:
        """Resets the idle time of entries still being worked on (a long LLM answer)."""
        if entry_ids:
            ids: list[StreamIdT] = list(entry_ids)
            await self.redis.xclaim(
                layout.work_stream(stage),
                layout.consumer_group(stage),
                consumer,
                min_idle_time=0,
                message_ids=ids,
                justid=True,
            )

    async def has_xackdel(self) -> bool:
        """Whether the server has XACKDEL (Redis 8.2+), asked once by trying it on a key
        that never exists: an older server answers "unknown command"."""
        if self._xackdel is None:
            try:
                await self.redis.execute_command(  # type: ignore[no-untyped-call]
                    "XACKDEL", XACKDEL_PROBE_KEY, "probe", "IDS", 1, "0-1"
                )
            except ResponseError as e:
                if "unknown command" not in str(e).lower():
                    raise
                self._xackdel = False
            else:
                self._xackdel = True
            log.info("Redis %s XACKDEL", "has" if self._xackdel else "lacks")
        return self._xackdel

    async def ack(self, stage: Stage, entry_id: str) -> None:
        """Acknowledges and deletes a work entry."""
        await self._acked(stage, entry_id, lambda pipe: None)

    async def ack_done(self, stage: Stage, entry_id: str, session_id: str, work_id: str) -> None:
        """Acknowledges and deletes a work entry and, in the same transaction, records its
        work as done (:meth:`is_done`) and releases its lock (:meth:`lock_work`)."""

        def done(pipe: Pipeline) -> None:
            key = layout.processed_key(stage, session_id)
            pipe.sadd(key, work_id)
            pipe.expire(key, layout.SESSION_IDLE_TTL_S)
            pipe.delete(layout.work_lock_key(stage, session_id, work_id))

        await self._acked(stage, entry_id, done)

    async def _acked(self, stage: Stage, entry_id: str, before: Callable[[Pipeline], None]) -> None:
        """Runs ``before`` then acknowledges and deletes the entry, in one transaction.
        A server that lost XACKDEL (a failover to an older replica) gets XACK + XDEL."""
        xackdel = await self.has_xackdel()
        try:
            await self._ack_transaction(stage, entry_id, before, xackdel)
        except ResponseError as e:
            if not xackdel or "unknown command" not in str(e).lower():
                raise
            log.warning("Redis no longer has XACKDEL: using XACK and XDEL")
            self._xackdel = False
            await self._ack_transaction(stage, entry_id, before, False)

    async def _ack_transaction(
        self, stage: Stage, entry_id: str, before: Callable[[Pipeline], None], xackdel: bool
    ) -> None:
        stream, group = layout.work_stream(stage), layout.consumer_group(stage)
        async with self.redis.pipeline(transaction=True) as pipe:
            before(pipe)
            if xackdel:
                pipe.execute_command("XACKDEL", stream, group, "IDS", 1, entry_id)
            else:
                pipe.xack(stream, group, entry_id)
                pipe.xdel(stream, entry_id)
            await pipe.execute()

    async def dead_letter(
        self, stage: Stage, entry_id: str, fields: dict[bytes, bytes], reason: str
    ) -> None:
        """Moves a work entry to the stage's dead-letter stream (its audio replaced by the
        audio's size unless ``keep_call_audio``)."""
        dead = dict(fields)
        audio = dead.get(AUDIO_FIELD)
        if audio is not None and not self.keep_call_audio:
            del dead[AUDIO_FIELD]
            dead[b"audio_bytes"] = str(len(audio)).encode()
        dead[b"dead_reason"] = reason.encode()[:500]
        dead[b"dead_entry"] = entry_id.encode()

        def keep(pipe: Pipeline) -> None:
            pipe.xadd(
                layout.dead_letter_stream(stage),
                _fields(dead),
                maxlen=layout.DEAD_LETTER_MAXLEN,
                approximate=True,
            )

        await self._acked(stage, entry_id, keep)

    # --- per-session state -------------------------------------------------------------

    async def is_done(self, stage: Stage, session_id: str, work_id: str) -> bool:
        return bool(
            await awaitable(self.redis.sismember(layout.processed_key(stage, session_id), work_id))
        )

    async def lock_work(self, stage: Stage, session_id: str, work_id: str, ttl_ms: int) -> bool:
        key = layout.work_lock_key(stage, session_id, work_id)
        return bool(await self.redis.set(key, b"1", nx=True, px=ttl_ms))

    async def refresh_work_lock(
        self, stage: Stage, session_id: str, work_id: str, ttl_ms: int
    ) -> None:
        await self.redis.pexpire(layout.work_lock_key(stage, session_id, work_id), ttl_ms)

    async def unlock_work(self, stage: Stage, session_id: str, work_id: str) -> None:
        await self.redis.delete(layout.work_lock_key(stage, session_id, work_id))

    async def is_cancelled(self, session_id: str, response_id: str) -> bool:
        return bool(
            await awaitable(self.redis.sismember(layout.cancelled_key(session_id), response_id))
        )

    async def state(self, session_id: str) -> dict[str, str]:
        raw = await awaitable(self.redis.hgetall(layout.session_state_key(session_id)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def set_state(self, session_id: str, values: dict[str, str | int | float]) -> None:
        key = layout.session_state_key(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=values)
            pipe.expire(key, layout.SESSION_IDLE_TTL_S)
            await pipe.execute()

    # --- active sessions (the calls in progress, whichever replica handles them) -------

    async def activate_session(self, session_id: str) -> None:
        """Adds the session to the active set, its score now (the call's start)."""
        await self.redis.zadd(layout.ACTIVE_SESSIONS, {session_id: time.time()})

    async def is_active(self, session_id: str) -> bool:
        return await self.redis.zscore(layout.ACTIVE_SESSIONS, session_id) is not None

    async def active_sessions(self) -> list[tuple[str, float]]:
        """Every active session as (session id, when it was activated, epoch seconds)."""
        raw = await self.redis.zrange(layout.ACTIVE_SESSIONS, 0, -1, withscores=True)
        return [(_id(member), float(score)) for member, score in raw]

    async def deactivate_session(self, session_id: str) -> None:
        await self.redis.zrem(layout.ACTIVE_SESSIONS, session_id)

    async def has_session_log(self, session_id: str) -> bool:
        """Whether the session's log still exists (it expires once the call is idle);
        ASPError for an id that is not a valid session id."""
        return bool(await self.redis.exists(layout.session_stream(session_id)))

    # --- conversation history (the LLM's turns, one JSON document per session) --------

    async def history(self, session_id: str) -> bytes | None:
        """The session's conversation history as stored by :meth:`save_history`."""
        raw = await self.redis.get(layout.history_key(session_id))
        return None if raw is None else bytes(raw)

    async def save_history(self, session_id: str, history_json: str) -> None:
        """Replaces the session's history; it expires with the session's other keys."""
        await self.redis.set(
            layout.history_key(session_id), history_json, ex=layout.SESSION_IDLE_TTL_S
        )

    # --- post-call record ---------------------------------------------------------------

    async def store_summary(self, session_id: str, transcript_json: str, summary: str) -> None:
        """Writes the call's ``asp:summary:{<id>}`` hash (its transcript and summary), the
        day-long record of the call once its raw keys are released."""
        key = layout.summary_key(session_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={"transcript": transcript_json, "summary": summary})
            pipe.expire(key, layout.SESSION_ENDED_TTL_S)
            await pipe.execute()

    # --- speculative turns (ASP 1.2, see :mod:`pipeline.speculation`) -----------------

    async def provisional_state(self, session_id: str, utterance_id: str) -> str | None:
        """The utterance's state (:data:`asp.provisional.STATES`), None if never provisional."""
        return await speculation.state(self.redis, session_id, utterance_id)

    async def spend_on_provisional(
        self, stage: Stage, session_id: str, utterance_id: str, seconds: float
    ) -> bool:
        """:func:`pipeline.speculation.spend`: True when the utterance is already cancelled."""
        return await speculation.spend(self.redis, stage, session_id, utterance_id, seconds)

    async def take_spent(self, stage: Stage, session_id: str, utterance_id: str) -> float:
        """:func:`pipeline.speculation.take_spent`: the seconds spent before the cancel, once."""
        return await speculation.take_spent(self.redis, stage, session_id, utterance_id)

    async def record_reply(
        self, session_id: str, utterance_id: str, history_json: str, actions: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """:func:`pipeline.speculation.record_reply`: the call actions to take now when this
        call recorded the provisional turn's reply."""
        return await speculation.record_reply(
            self.redis, session_id, utterance_id, history_json, actions
        )

    async def record_if_confirmed(
        self, session_id: str, utterance_id: str
    ) -> list[dict[str, Any]] | None:
        """:func:`pipeline.speculation.record_if_confirmed`: the held call actions when this
        call recorded the confirmed turn's reply."""
        return await speculation.record_if_confirmed(self.redis, session_id, utterance_id)

    # --- CPU priority between stages (a small host runs every stage on the same cores) ---

    async def set_tts_priority(self, session_id: str, ttl_ms: int) -> None:
        """Raises (or renews) the flag: the session's first clause is being synthesized.
        It expires on its own after ``ttl_ms``, so a dead TTS replica holds nobody long."""
        await self.redis.psetex(layout.tts_priority_key(session_id), ttl_ms, b"1")

    async def clear_tts_priority(self, session_id: str) -> None:
        await self.redis.delete(layout.tts_priority_key(session_id))

    async def has_tts_priority(self, session_id: str) -> bool:
        return bool(await self.redis.exists(layout.tts_priority_key(session_id)))

    async def begin_turn(self, session_id: str, response_id: str, ttl_s: float) -> None:
        """Marks a reply as being generated (post-call work waits); the mark lapses after
        ``ttl_s`` even if :meth:`end_turn` never comes (a replica died)."""
        member = layout.live_turn_member(session_id, response_id)
        await self.redis.zadd(layout.LIVE_TURNS, {member: time.time() + ttl_s})

    async def end_turn(self, session_id: str, response_id: str) -> None:
        await self.redis.zrem(layout.LIVE_TURNS, layout.live_turn_member(session_id, response_id))

    async def live_turns(self) -> int:
        """How many replies are being generated now, on every replica (lapsed marks dropped)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(layout.LIVE_TURNS, "-inf", time.time())
            pipe.zcard(layout.LIVE_TURNS)
            _, count = await pipe.execute()
        return int(count)

    async def end_session(self, session_id: str) -> None:
        """The call is over: every key of the session now expires in a day (the post-call
        job releases them much sooner, see :meth:`release_session`)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            _end(pipe, session_id)
            await pipe.execute()

    async def release_session(self, session_id: str, keep_s: int = 0) -> None:
        """The call was summarized (``asp:summary:{<id>}`` holds its transcript): the audio
        of its log goes now, and its raw keys (log, history, state, marks) go now too
        (``keep_s`` 0) or in ``keep_s`` seconds, instead of a day after the call. With
        ``keep_call_audio`` nothing changes: the log is what retention asked to keep."""
        if self.keep_call_audio:
            return
        await self.drop_audio(session_id)
        keys = layout.session_keys(session_id)
        if keep_s <= 0:
            await self.redis.delete(*keys)
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.expire(key, keep_s, lt=True)
            await pipe.execute()

    async def drop_audio(self, session_id: str) -> int:
        """Removes the entries of a session log that carry audio (utterances, the agent's
        speech); the rest of the log (texts, timings) stays, with its ids and TTL.

        The log is rewritten without them rather than XDEL'd: XDEL only marks an entry
        deleted, and its bytes stay in memory (and in RDB snapshots) while any other
        entry of its stream node lives, which a text entry next to a 100 ms audio chunk
        always does. The rewrite is optimistic (WATCH): a write in between starts it over.
        Returns how many entries went."""
        stream = layout.session_stream(session_id)
        for _ in range(DROP_AUDIO_TRIES):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(stream)
                    kept: list[tuple[bytes, dict[bytes, bytes]]] = []
                    dropped, start = 0, "-"
                    while True:
                        batch = await pipe.xrange(
                            stream, min=start, max="+", count=DROP_AUDIO_BATCH
                        )
                        for entry_id, fields in batch:
                            if AUDIO_FIELD in fields:
                                dropped += 1
                            else:
                                kept.append((entry_id, fields))
                        if len(batch) < DROP_AUDIO_BATCH:
                            break
                        start = "(" + _id(batch[-1][0])
                    if not dropped:
                        return 0
                    ttl = await pipe.pttl(stream)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.delete(stream)
                    for entry_id, fields in kept:
                        pipe.xadd(stream, _fields(fields), id=entry_id)
                    if kept and ttl > 0:
                        pipe.pexpire(stream, ttl)
                    await pipe.execute()
                    return dropped
                except WatchError:
                    continue
        log.warning("session log still being written: its audio is left to its TTL")
        return 0

    # --- response turns (the TTS orders a response's sentences across replicas) ---------

    async def turn_progress(self, session_id: str, response_id: str) -> tuple[int, int]:
        """(next sentence, next chunk seq) of a response: what has been published so far."""
        sentence, chunk = await awaitable(
            self.redis.hmget(
                layout.turn_key(session_id, response_id), ["next_sentence", "next_chunk"]
            )
        )
        return int(sentence or 0), int(chunk or 0)

    async def skip_sentence(
        self, session_id: str, response_id: str, next_sentence: int, ttl_s: int
    ) -> None:
        """A cut sentence: the next one may go out. The turn key expires in ``ttl_s``, as
        :meth:`publish_many` sets it: a response cut in its first sentence makes the key
        here, and a key without a TTL would outlive the call forever."""
        key = layout.turn_key(session_id, response_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "next_sentence", str(next_sentence))
            pipe.expire(key, ttl_s)
            await pipe.execute()

    # --- shared caches (the TTS phrase cache) ---------------------------------------------

    async def cached(self, key: str, ttl_s: int) -> bytes | None:
        """The bytes cached under ``key``, its TTL renewed (what is used does not expire)."""
        raw = await self.redis.getex(key, ex=ttl_s)
        return None if raw is None else bytes(raw)

    async def cache(self, key: str, value: bytes, ttl_s: int) -> None:
        await self.redis.set(key, value, ex=ttl_s)

    async def refresh_cached(self, keys: Sequence[str], ttl_s: int) -> list[bool]:
        """Renews the TTL of each key; True where the key exists."""
        if not keys:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.expire(key, ttl_s)
            return [bool(r) for r in await pipe.execute()]

    async def register_phrases(self, language: str, texts: Iterable[str]) -> int:
        """Asks the TTS to keep these phrases synthesized (a persona's greeting, apology,
        goodbye, the first pieces of the facts' fixed answers), the most important first:
        they are listed in this order (:meth:`registered_phrases`), so a TTS that keeps
        fewer keeps the first ones. Re-registering refreshes them; the oldest beyond the
        bound go. Returns how many the registry did not hold (then the registry's version
        is bumped, so the TTS fills them at once)."""
        now = time.time()
        members: dict[str, float] = {}
        for text in texts:
            if text.strip() and len(text) <= MAX_PHRASE_CHARS:
                member = json.dumps([language, text], ensure_ascii=False)
                # 1 µs apart, in the given order (a double near 1.7e9 resolves 0.24 µs)
                members.setdefault(member, now - len(members) * 1e-6)
        if not members:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(PHRASE_REGISTRY, members)
            pipe.zremrangebyrank(PHRASE_REGISTRY, 0, -MAX_REGISTERED_PHRASES - 1)
            added, _ = await pipe.execute()
        if added:
            await self.redis.incr(PHRASE_REGISTRY_VERSION)
        return int(added)

    async def phrases_version(self) -> int:
        """The registry's version (:data:`PHRASE_REGISTRY_VERSION`); 0 when never bumped."""
        raw = await self.redis.get(PHRASE_REGISTRY_VERSION)
        return int(raw) if raw is not None else 0

    async def registered_phrases(self) -> list[tuple[str, str]]:
        """The registered phrases as (language, text), most recently registered first."""
        raw = await self.redis.zrevrange(PHRASE_REGISTRY, 0, MAX_REGISTERED_PHRASES - 1)
        out: list[tuple[str, str]] = []
        for member in raw:
            try:
                value = json.loads(member)
            except ValueError:
                continue  # not written by register_phrases: ignored
            if (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, str) and v.strip() for v in value)
            ):
                out.append((value[0], value[1]))
        return out
