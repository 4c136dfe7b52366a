"""The Redis layout of ASP, as code: every key, stream, group, trim length and TTL.

Session log: every event of a session is appended, in order, to ``asp:session:{<id>}``, so
``redis-cli XRANGE asp:session:{<id>} - +`` shows the whole call. Each entry has plain,
readable fields (``type``, ``session_id``, the event's ids, ``ts``), the rest of the event
as msgpack in ``data``, and audio raw in ``audio``.

Work streams: each pipeline stage reads its work from ``asp:work:<stage>`` through the
consumer group ``{stage}-workers`` (entries in the same format); what a stage cannot
process after its retries goes to ``asp:dead:<stage>``.

Redis Cluster: every key of a session carries the session id as its hash tag
(``{<id>}``, :func:`session_tag`), so a session's log, state, history, marks and locks land
in one hash slot and a transaction or script on several of them never spans two slots.
The shared keys (work streams, dead letters, the sorted sets of live sessions and turns,
caches) have no tag: each is one key in one slot. The bus still joins a session's keys
with the work streams in one MULTI/EXEC or script (publish, acknowledge), which Redis
Cluster refuses (CROSSSLOT): docs/SCALING.md says what that means for a deployment.

This module builds names and entries; it never talks to Redis.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

import msgpack

from .codec import unpack_msgpack
from .errors import ASPError, ErrorCode
from .fields import UUID_PATTERN
from .messages import TIMING_STEPS, Message, now_iso, parse_message

PREFIX = "asp"

SESSION_STREAM_MAXLEN = 20_000
"""Approximate MAXLEN (XADD MAXLEN ~) of a session log: about an hour of a busy call."""
WORK_STREAM_MAXLEN = 100_000
"""Approximate MAXLEN of each stage's work stream (entries already acknowledged go first)."""
DEAD_LETTER_MAXLEN = 10_000
SESSION_IDLE_TTL_S = 6 * 3600
"""TTL refreshed on every write while a call is up: a crashed edge leaves no key forever."""
SESSION_ENDED_TTL_S = 24 * 3600
"""TTL set when the session ends: its log stays readable for a day, then goes."""
HISTORY_MAX_TURNS = 20
"""Conversation turns kept per session in ``asp:history:{<id>}`` (the LLM context)."""


class Stage(enum.StrEnum):
    STT = "stt"
    LLM = "llm"
    TTS = "tts"


# Which event types each stage consumes from its work stream.
STAGE_INPUT: dict[Stage, tuple[str, ...]] = {
    Stage.STT: ("utterance", "utterance.cancel"),
    Stage.LLM: (
        "transcript",
        "session.start",
        "session.end",
        "response.cancel",
        "call.dtmf",
        "utterance.confirm",
        "utterance.cancel",
    ),
    Stage.TTS: ("response.text", "response.cancel"),
}

_UUID = re.compile(UUID_PATTERN.regex)


def _checked(session_id: str) -> str:
    if not isinstance(session_id, str) or _UUID.fullmatch(session_id) is None:
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_FORMAT, "session_id must be a UUID", {"field": "session_id"}
        )
    return session_id


def session_tag(session_id: str) -> str:
    """``{<id>}``: the Redis Cluster hash tag of a session. Only the part between the
    first ``{`` and the next ``}`` is hashed, so every key that carries it (and no ``{``
    before it) lands in the session's slot."""
    return "{" + _checked(session_id) + "}"


def session_stream(session_id: str) -> str:
    return f"{PREFIX}:session:{session_tag(session_id)}"


def history_key(session_id: str) -> str:
    return f"{PREFIX}:history:{session_tag(session_id)}"


def session_state_key(session_id: str) -> str:
    """A hash with the negotiated settings and counters of a live session."""
    return f"{PREFIX}:state:{session_tag(session_id)}"


def processed_key(stage: Stage, session_id: str) -> str:
    """A set of the work ids a stage finished for a session (idempotent redelivery)."""
    return f"{PREFIX}:done:{stage.value}:{session_tag(session_id)}"


def summary_key(session_id: str) -> str:
    """Hash written after the call: its transcript and an LLM summary (post-call job)."""
    return f"{PREFIX}:summary:{session_tag(session_id)}"


def work_lock_key(stage: Stage, session_id: str, work_id: str) -> str:
    """Held (SET NX PX) by the replica doing a piece of work, against duplicate deliveries."""
    return f"{PREFIX}:lock:{stage.value}:{session_tag(session_id)}:{work_id}"


def cancelled_key(session_id: str) -> str:
    """A set of the response_ids cancelled in a session (barge-in), seen by every replica."""
    return f"{PREFIX}:cancelled:{session_tag(session_id)}"


def provisional_key(session_id: str) -> str:
    """Hash of a session's provisional utterances (ASP 1.2, :mod:`asp.provisional`):
    ``{utterance_id}`` -> its state; ``{utterance_id}:history`` and ``{utterance_id}:actions``
    -> its reply, waiting for the confirmation to be recorded; ``{utterance_id}:spent:{stage}``
    -> seconds a stage spent on it (wasted if it is cancelled)."""
    return f"{PREFIX}:provisional:{session_tag(session_id)}"


def turn_key(session_id: str, response_id: str) -> str:
    """Hash that orders a response's sentences across TTS replicas (next sentence, next seq)."""
    return f"{PREFIX}:turn:{session_tag(session_id)}:{response_id}"


def tts_priority_key(session_id: str) -> str:
    """Set (SET PX, short TTL) while a session's first clause waits for or is in speech
    synthesis: the LLM holds that session's generation meanwhile (CPU priority)."""
    return f"{PREFIX}:ttsprio:{session_tag(session_id)}"


def session_keys(session_id: str) -> tuple[str, ...]:
    """Every per-session key whose TTL follows the call (the turn keys expire on their own).
    All of them carry :func:`session_tag`: one hash slot, so one command may name them all."""
    return (
        session_stream(session_id),
        history_key(session_id),
        session_state_key(session_id),
        cancelled_key(session_id),
        provisional_key(session_id),
        *(processed_key(stage, session_id) for stage in Stage),
    )


def stages_for(event_type: str) -> tuple[Stage, ...]:
    """The stages whose work stream receives an event of this type besides the session log."""
    return tuple(stage for stage, kinds in STAGE_INPUT.items() if event_type in kinds)


ACTIVE_SESSIONS = f"{PREFIX}:sessions:active"
"""Sorted set: session_id -> start time (epoch seconds) of every live call."""

LIVE_TURNS = f"{PREFIX}:turns:live"
"""Sorted set: ``{session_id}:{response_id}`` -> deadline (epoch seconds) of every reply
being generated now; post-call work waits while it has live members."""


def live_turn_member(session_id: str, response_id: str) -> str:
    """The member of :data:`LIVE_TURNS` that stands for one reply."""
    return f"{_checked(session_id)}:{response_id}"


def cache_key(kind: str, digest: str) -> str:
    """Shared caches, e.g. cache_key('tts', sha256 of (text, voice, rate))."""
    return f"{PREFIX}:cache:{kind}:{digest}"


def work_stream(stage: Stage) -> str:
    return f"{PREFIX}:work:{stage.value}"


def consumer_group(stage: Stage) -> str:
    return f"{stage.value}-workers"


def dead_letter_stream(stage: Stage) -> str:
    return f"{PREFIX}:dead:{stage.value}"


ID_FIELDS = ("call_id", "utterance_id", "response_id", "seq")
READABLE_FIELDS = (*ID_FIELDS, "stage", *TIMING_STEPS, "provisional", "provisional_cancelled")
"""Fields copied as plain entry fields (besides ``data``), so XRANGE shows them: the
event's ids, ``provisional`` (1.2) and, for ``turn.timing``, the stage and its steps in ms."""
AUDIO_FIELD = "audio"


def to_entry(msg: Message) -> dict[str, Any]:
    """The stream entry of a message: readable fields, msgpack ``data``, raw ``audio``.

    The readable fields are copies; ``from_entry`` reads ``type``, ``data`` and ``audio``."""
    data = msg.serialize()
    data.pop("type")
    entry: dict[str, Any] = {"type": msg.TYPE}
    session_id = data.get("session_id")
    if session_id is not None:
        entry["session_id"] = session_id
    for name in READABLE_FIELDS:
        value = data.get(name)
        if isinstance(value, bool):  # Redis fields hold text and numbers only
            value = "true" if value else None
        if value is not None:
            entry[name] = value
    entry["ts"] = data.get("timestamp") or now_iso()
    audio = data.get(AUDIO_FIELD)
    if isinstance(audio, bytes):  # raw audio gets a binary field of its own
        del data[AUDIO_FIELD]
        entry[AUDIO_FIELD] = audio
    entry["data"] = msgpack.packb(data, use_bin_type=True)
    return entry


def _text(value: Any, name: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ASPError(
                ErrorCode.INVALID_MESSAGE_FORMAT, f"entry field {name} is not UTF-8"
            ) from e
    if isinstance(value, str):
        return value
    raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"entry field {name} is not text")


def from_entry(fields: Mapping[Any, Any]) -> Message:
    """Parses a stream entry as redis-py returns it (bytes or str keys and values)."""
    if not isinstance(fields, Mapping):
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "a stream entry must be a mapping")
    norm: dict[str, Any] = {}
    for key, value in fields.items():
        norm[_text(key, "name")] = value
    if "type" not in norm or "data" not in norm:
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "entry lacks the type or data field")
    raw = norm["data"]
    data = unpack_msgpack(raw if isinstance(raw, bytes) else _text(raw, "data").encode())
    if not isinstance(data, dict):
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "entry data is not a map")
    data["type"] = _text(norm["type"], "type")
    if AUDIO_FIELD in norm:
        audio = norm[AUDIO_FIELD]
        if not isinstance(audio, bytes | bytearray | memoryview):
            raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "entry field audio is not bytes")
        data[AUDIO_FIELD] = bytes(audio)
    msg = parse_message(data)
    if "session_id" in norm and _text(norm["session_id"], "session_id") != data.get("session_id"):
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_FORMAT, "entry session_id differs from its data", {}
        )
    return msg
