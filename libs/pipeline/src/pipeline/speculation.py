"""Speculative turns on Redis (ASP 1.2, :mod:`asp.provisional`): the state of each
provisional utterance, the reply that waits for its confirmation, and the work it cost.

Everything lives in the session's ``asp.streams.provisional_key`` hash and every change is
one Lua script, so replicas of a stage never see half a move:

- :func:`resolve` moves an utterance from ``provisional`` to ``confirmed`` or ``cancelled``
  *and* appends the event to the session log and the stages' work streams, or does
  neither (a stale or unknown utterance: the ASPError says why);
- :func:`record_reply` keeps a provisional turn's reply (history and call actions) until
  the confirmation, and :func:`record_if_confirmed` writes it to the conversation history
  exactly once, whichever of the reply and the confirmation comes last;
- :func:`spend` and :func:`take_spent` count the seconds a stage spent on an utterance
  that ends cancelled, exactly once, whether the cancel came before or after the work.
"""

from __future__ import annotations

import json
from typing import Any

from asp import Stage, UtteranceCancel, UtteranceConfirm, to_entry
from asp import provisional as states
from asp import streams as layout
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from .redis_client import awaitable

__all__ = [
    "mark_provisional",
    "record_if_confirmed",
    "record_reply",
    "resolve",
    "spend",
    "state",
    "take_spent",
]

_RESOLVE = """
local before = redis.call('HGET', KEYS[1], ARGV[1])
if before ~= ARGV[6] then return before or '' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
redis.call('EXPIRE', KEYS[2], ARGV[5])
for i = 3, #KEYS do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
end
return before
"""
"""KEYS: provisional hash, session log, work streams. ARGV: utterance id, new state,
log MAXLEN, work MAXLEN, TTL, the state it must be in, then the entry's fields. Returns
the state it was in."""

_RECORD = """
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1] .. ':history', ARGV[2], ARGV[1] .. ':actions', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[5] then return false end
local history = redis.call('HGET', KEYS[1], ARGV[1] .. ':history')
if not history then return false end
local actions = redis.call('HGET', KEYS[1], ARGV[1] .. ':actions')
redis.call('SET', KEYS[2], history, 'EX', ARGV[4])
redis.call('HDEL', KEYS[1], ARGV[1] .. ':history', ARGV[1] .. ':actions')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[6])
return actions
"""
"""KEYS: provisional hash, history key. ARGV: utterance id, history JSON ('' to only
commit), actions JSON, TTL, 'confirmed', 'recorded'. Returns the actions JSON when this
call recorded the turn, else nil."""

_SPEND = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[4] then return 1 end
redis.call('HINCRBYFLOAT', KEYS[1], ARGV[1] .. ':spent:' .. ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 0
"""

_TAKE = """
local field = ARGV[1] .. ':spent:' .. ARGV[2]
local spent = redis.call('HGET', KEYS[1], field)
if spent then redis.call('HDEL', KEYS[1], field) end
return spent
"""


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def state(redis: Redis, session_id: str, utterance_id: str) -> str | None:
    """The utterance's state (:data:`asp.provisional.STATES`), None if never provisional."""
    key = layout.provisional_key(session_id)
    return _text(await awaitable(redis.hget(key, utterance_id)))


async def resolve(redis: Redis, msg: UtteranceConfirm | UtteranceCancel) -> None:
    """Confirms or cancels a provisional utterance and publishes ``msg``, atomically;
    ASPError (1003), with nothing written, when the utterance is not provisional."""
    entry = to_entry(msg)
    fields: list[Any] = []
    for name, value in entry.items():
        fields += [name, value]
    keys = [
        layout.provisional_key(msg.session_id),
        layout.session_stream(msg.session_id),
        *(layout.work_stream(stage) for stage in layout.stages_for(msg.TYPE)),
    ]
    args = [
        msg.utterance_id,
        states.target_state(msg),
        layout.SESSION_STREAM_MAXLEN,
        layout.WORK_STREAM_MAXLEN,
        layout.SESSION_IDLE_TTL_S,
        states.PROVISIONAL,
        *fields,
    ]
    before = _text(await awaitable(redis.eval(_RESOLVE, len(keys), *keys, *args)))
    error = states.resolution_error(msg, before or None)
    if error is not None:
        raise error


def mark_provisional(pipe: Pipeline, session_id: str, utterance_id: str) -> None:
    """Queues on ``pipe`` (the transaction that publishes the utterance) the commands that
    mark it provisional (a second publication of the same utterance does not undo its
    resolution)."""
    key = layout.provisional_key(session_id)
    pipe.hsetnx(key, utterance_id, states.PROVISIONAL)
    pipe.expire(key, layout.SESSION_IDLE_TTL_S)


async def record_reply(
    redis: Redis,
    session_id: str,
    utterance_id: str,
    history_json: str,
    actions: list[dict[str, Any]],
) -> list[dict[str, Any]] | None:
    """Keeps the reply of a provisional turn; records it at once if the turn is already
    confirmed. Returns the call actions to take now when this call recorded it."""
    return await _record(redis, session_id, utterance_id, history_json, json.dumps(actions))


async def record_if_confirmed(
    redis: Redis, session_id: str, utterance_id: str
) -> list[dict[str, Any]] | None:
    """Records the reply kept for a confirmed turn (after its confirmation arrived).
    Returns its call actions when this call recorded it; None when there is nothing to
    record (no reply yet, or already recorded)."""
    return await _record(redis, session_id, utterance_id, "", "[]")


async def _record(
    redis: Redis, session_id: str, utterance_id: str, history_json: str, actions_json: str
) -> list[dict[str, Any]] | None:
    keys = [layout.provisional_key(session_id), layout.history_key(session_id)]
    args: list[Any] = [
        utterance_id,
        history_json,
        actions_json,
        layout.SESSION_IDLE_TTL_S,
        states.CONFIRMED,
        states.RECORDED,
    ]
    raw = await awaitable(redis.eval(_RECORD, len(keys), *keys, *args))
    if raw is None:
        return None
    actions = json.loads(raw)
    return actions if isinstance(actions, list) else []


async def spend(
    redis: Redis, stage: Stage, session_id: str, utterance_id: str, seconds: float
) -> bool:
    """Counts ``seconds`` of ``stage``'s work on a provisional utterance. True when the
    utterance is already cancelled: the caller counts them as wasted now; else they are
    kept, and :func:`take_spent` returns them if it is cancelled later."""
    key = layout.provisional_key(session_id)
    args = [utterance_id, stage.value, f"{max(0.0, seconds):.6f}", states.CANCELLED]
    wasted = await awaitable(redis.eval(_SPEND, 1, key, *args, str(layout.SESSION_IDLE_TTL_S)))
    return bool(wasted)


async def take_spent(redis: Redis, stage: Stage, session_id: str, utterance_id: str) -> float:
    """The seconds ``stage`` spent on an utterance before it was cancelled (0.0 if none),
    taken once: a second call, or a redelivered cancel, gets 0.0."""
    key = layout.provisional_key(session_id)
    raw = await awaitable(redis.eval(_TAKE, 1, key, utterance_id, stage.value))
    return float(_text(raw) or 0.0)
