"""``asp-debug tail``: a session's Redis stream (``asp:session:{<id>}``), decoded.

One session: its log from the start, then new entries as they come, until the session
ends (``session.ended``) or, with ``follow=False``, at the end of what is there. ``--all``:
every live session of ``asp:sessions:active`` from the moment the command starts (and
sessions that start later from their first event), until interrupted.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, TextIO

from asp import streams as layout
from asp.fields import UUID_PATTERN
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .errors import EXIT_CONNECTION, EXIT_USAGE, DebugError
from .render import compact, decode_entry, format_entry

_UUID = re.compile(UUID_PATTERN.regex)
BLOCK_MS = 1000
BATCH = 500


@dataclass(slots=True)
class TailOptions:
    redis_url: str
    session_id: str | None = None
    all_sessions: bool = False
    follow: bool = True
    as_json: bool = False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Tail:
    def __init__(self, redis: Redis, options: TailOptions, out: TextIO) -> None:
        self.redis = redis
        self.options = options
        self.out = out
        self.rates: dict[str, int] = {}
        self.positions: dict[str, str] = {}  # stream key -> last id read

    def emit(self, entry_id: Any, fields: dict[Any, Any]) -> dict[str, Any]:
        record = decode_entry(_text(entry_id), fields, self.rates)
        self.out.write((compact(record) if self.options.as_json else format_entry(record)) + "\n")
        self.out.flush()
        return record

    async def one(self, session_id: str) -> int:
        key = layout.session_stream(session_id)
        if not await self.redis.exists(key):
            if not self.options.follow:
                raise DebugError(
                    f"no stream {key} in Redis (unknown or expired session)", EXIT_CONNECTION
                )
            self.out.write(f"-- waiting for {key}\n")
            self.out.flush()
        self.positions[key] = "0-0"
        while True:
            reply = await self._read()
            if not reply:
                if not self.options.follow:
                    return 0
                continue
            for _stream, entries in reply:
                for entry_id, fields in entries:
                    self.positions[key] = _text(entry_id)
                    if self.emit(entry_id, fields).get("type") == "session.ended" and (
                        self.options.follow
                    ):
                        return 0

    async def _read(self) -> Any:
        block = BLOCK_MS if self.options.follow else None
        return await self.redis.xread(_streams(self.positions), count=BATCH, block=block)

    async def _last_id(self, key: str) -> str:
        last = await self.redis.xrevrange(key, count=1)
        return _text(last[0][0]) if last else "0-0"

    async def every(self) -> int:
        known: set[str] = set()
        first = True
        while True:
            live = {_text(s) for s in await self.redis.zrange(layout.ACTIVE_SESSIONS, 0, -1)}
            for sid in sorted(live - known):
                if _UUID.fullmatch(sid) is None:
                    continue
                known.add(sid)
                key = layout.session_stream(sid)
                # sessions live at start: from now on; sessions that start later: whole log
                self.positions[key] = await self._last_id(key) if first else "0-0"
                self.out.write(f"-- following session {sid}\n")
                self.out.flush()
            first = False
            if not self.positions:
                if not self.options.follow:
                    return 0
                await asyncio.sleep(BLOCK_MS / 1000)
                continue
            reply = await self._read()
            if not reply and not self.options.follow:
                return 0
            for stream, entries in reply or []:
                key = _text(stream)
                for entry_id, fields in entries:
                    self.positions[key] = _text(entry_id)
                    if self.emit(entry_id, fields).get("type") == "session.ended":
                        self.positions.pop(key, None)
                        break


def check_session_id(session_id: str) -> str:
    if _UUID.fullmatch(session_id) is None:
        raise DebugError(
            f"bad session id {session_id!r}: a session id is a UUID "
            "(redis-cli ZRANGE asp:sessions:active 0 -1 lists the live ones)",
            EXIT_USAGE,
        )
    return session_id


async def run_tail(options: TailOptions, out: TextIO) -> int:
    if options.session_id is not None:
        check_session_id(options.session_id)
    try:
        redis = Redis.from_url(options.redis_url, socket_connect_timeout=3, socket_timeout=10)
    except ValueError as e:
        raise DebugError(f"bad Redis URL {options.redis_url!r}: {e}", EXIT_USAGE) from e
    try:
        try:
            await redis.ping()
        except RedisError as e:
            raise DebugError(
                f"cannot reach Redis at {options.redis_url}: {e}", EXIT_CONNECTION
            ) from e
        tail = Tail(redis, options, out)
        if options.all_sessions:
            return await tail.every()
        assert options.session_id is not None
        return await tail.one(options.session_id)
    finally:
        await redis.aclose()


def _streams(positions: dict[str, str]) -> dict[Any, Any]:
    """XREAD's argument (redis-py types it with invariant key and id unions)."""
    return dict(positions)
