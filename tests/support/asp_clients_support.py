"""Helpers of tests/integration/asp_clients: the agent behind the gateway (its address,
token and Redis) and what a turn left in Redis and in a WAV."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import redis
from asp import from_entry
from asp import streams as layout
from asp_debug.audio import dbfs
from pipeline.testing import RedisServer

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples" / "asp-client"


@dataclass(frozen=True)
class Agent:
    url: str
    token: str
    redis_url: str
    redis: RedisServer


def sessions(redis_url: str) -> set[str]:
    r = redis.Redis.from_url(redis_url)
    try:
        # asp:session:{<id>} (streams.session_stream): the id is the hash tag's content
        return {k.decode().split(":", 2)[2].strip("{}") for k in r.scan_iter("asp:session:*")}
    finally:
        r.close()


def session_types(redis_url: str, session_id: str) -> list[str]:
    r = redis.Redis.from_url(redis_url)
    try:
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]", r.xrange(layout.session_stream(session_id))
        )
        return [from_entry(f).TYPE for _id, f in entries]
    finally:
        r.close()


def check_turn_in_redis(redis_url: str, before: set[str]) -> str:
    """The one session the client opened went through the pipeline: the caller's
    utterance, its transcript, the answer's text and audio, and the session's end."""
    new = sessions(redis_url) - before
    assert len(new) == 1, f"expected one new session in Redis, got {new}"
    (sid,) = new
    types = session_types(redis_url, sid)
    for kind in (
        "session.start",
        "utterance",
        "transcript",
        "response.text",
        "response.audio",
        "response.end",
    ):
        assert kind in types, f"{kind} missing from asp:session:{sid}: {types}"
    return sid


def check_answer_wav(path: Path, rate: int) -> None:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == rate
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        pcm = w.readframes(w.getnframes())
    assert len(pcm) >= rate * 2 // 5, f"answer of {len(pcm)} bytes: under 200 ms of audio"
    level = dbfs(pcm)
    assert level is not None, "the answer is digital silence"
    assert level > -30, f"the answer is too quiet ({level} dBFS)"
