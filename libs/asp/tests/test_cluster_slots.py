"""Redis Cluster: every key of a session hashes to the session's slot.

The slot is computed here as Redis computes it (CRC16/XMODEM of the hash tag, mod 16384),
checked first against the values of the Redis Cluster specification."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable

import pytest
from asp import Stage
from asp import streams as s
from asp.testing import SESSION_ID

SLOTS = 16384


def crc16(data: bytes) -> int:
    """CRC16/XMODEM (polynomial 0x1021, initial 0), the CRC of Redis Cluster."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def hash_tag(key: str) -> str | None:
    """What Redis hashes of a key with a tag: between the first ``{`` and the next ``}``,
    when that is not empty; None when the key has no tag (the whole key is hashed)."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1 : end]


def key_slot(key: str) -> int:
    tag = hash_tag(key)
    return crc16((key if tag is None else tag).encode()) % SLOTS


def test_slot_function_matches_the_cluster_specification() -> None:
    assert crc16(b"123456789") == 0x31C3  # the check value of the specification
    assert key_slot("foo") == 12182
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers")
    assert key_slot("foo{}{bar}") == crc16(b"foo{}{bar}") % SLOTS  # empty tag: whole key
    assert key_slot("foo{{bar}}zap") == crc16(b"{bar") % SLOTS
    assert key_slot("foo{bar}{zap}") == key_slot("bar")


ARGUMENTS: dict[str, object] = {"stage": Stage.STT, "work_id": "u-1{x}", "response_id": "r-1}{"}
"""Values for the other parameters of a key function (with braces: an id that carries
``{`` or ``}`` must not move the key out of the session's slot)."""


def session_key_functions() -> dict[str, Callable[..., str]]:
    """Every function of asp.streams that builds a Redis key from a session id."""
    found: dict[str, Callable[..., str]] = {}
    for name, fn in inspect.getmembers(s, inspect.isfunction):
        if fn.__module__ != s.__name__ or name.startswith("_"):
            continue
        params = inspect.signature(fn).parameters
        if "session_id" not in params or name in ("session_keys", "session_tag"):
            continue
        key = fn(**{p: SESSION_ID if p == "session_id" else ARGUMENTS[p] for p in params})
        if isinstance(key, str) and key.startswith(f"{s.PREFIX}:"):
            found[name] = fn
    return found


def test_every_session_key_pattern_carries_the_session_hash_tag() -> None:
    functions = session_key_functions()
    # the discovery finds every known pattern (a new one is found too, and checked)
    assert {
        "session_stream",
        "history_key",
        "session_state_key",
        "processed_key",
        "summary_key",
        "work_lock_key",
        "cancelled_key",
        "provisional_key",
        "turn_key",
        "tts_priority_key",
    } <= set(functions)
    for sid in (SESSION_ID, str(uuid.uuid4()), str(uuid.uuid4())):
        for name, fn in functions.items():
            params = inspect.signature(fn).parameters
            stages = list(Stage) if "stage" in params else [None]
            for stage in stages:
                args = {
                    p: sid if p == "session_id" else stage if p == "stage" else ARGUMENTS[p]
                    for p in params
                }
                key = fn(**args)
                assert hash_tag(key) == sid, f"{name}: {key} lacks the tag {{{sid}}}"
                assert key_slot(key) == key_slot(s.session_tag(sid)), name


def test_all_keys_of_a_session_share_one_slot_and_sessions_spread() -> None:
    slots = set()
    for _ in range(50):
        sid = str(uuid.uuid4())
        keys = s.session_keys(sid)
        assert {key_slot(k) for k in keys} == {key_slot(sid)}
        slots.add(key_slot(sid))
    assert len(slots) > 40  # one slot per session, not one slot for all


@pytest.mark.parametrize(
    "key",
    [
        *(s.work_stream(stage) for stage in Stage),
        *(s.dead_letter_stream(stage) for stage in Stage),
        s.ACTIVE_SESSIONS,
        s.LIVE_TURNS,
        s.cache_key("tts", "phrases"),
    ],
)
def test_shared_keys_have_no_tag(key: str) -> None:
    """The keys every session shares are one key each (one slot each), with no tag."""
    assert hash_tag(key) is None
