"""How asp-debug prints: one line per event, as text or as JSON (sans-I/O)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import msgpack
from asp import ASPError, from_entry

from .audio import dbfs, format_dbfs


def plain(value: Any) -> Any:
    """A msgpack value made JSON-safe: bytes become ``"<N bytes>"``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def audio_summary(pcm: bytes, sample_rate: int | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"bytes": len(pcm), "dbfs": dbfs(pcm)}
    if sample_rate:
        summary["duration_ms"] = len(pcm) * 1000 // (2 * sample_rate)
    return summary


def format_audio(summary: Mapping[str, Any]) -> str:
    parts = [f"{summary['bytes']} bytes"]
    if "duration_ms" in summary:
        parts.append(f"{summary['duration_ms']} ms")
    parts.append(format_dbfs(summary.get("dbfs")))
    return "audio " + ", ".join(parts)


def decode_entry(
    entry_id: str, fields: Mapping[Any, Any], rates: dict[str, int] | None = None
) -> dict[str, Any]:
    """A session-log entry decoded: its readable fields, ``data`` (msgpack) as JSON, the
    audio as its length and level. Never raises: what cannot be read is reported in
    ``error``. ``rates`` (session -> sample rate) is filled from session.start/started
    so that response audio gets a duration too."""
    norm = {_text(k): v for k, v in fields.items()}
    record: dict[str, Any] = {"id": entry_id}
    for name in ("type", "session_id", "ts"):
        if name in norm:
            record[name] = _text(norm[name])
    data: Any = None
    raw = norm.get("data")
    if raw is None:
        record["error"] = "entry has no data field"
    else:
        try:
            data = msgpack.unpackb(raw if isinstance(raw, bytes) else _text(raw).encode())
        except (ValueError, TypeError, msgpack.UnpackException) as e:
            record["error"] = f"data is not msgpack: {e}"
        else:
            record["data"] = plain(data)
    if "error" not in record:
        try:
            from_entry(fields)
        except ASPError as e:
            record["error"] = f"not a valid ASP event ({e.code.value}): {e}"
    session = record.get("session_id", "")
    if rates is not None and isinstance(data, Mapping):
        rate = _rate_of(data)
        if rate:
            rates[session] = rate
    audio = norm.get("audio")
    if isinstance(audio, bytes):
        rate = data.get("sample_rate") if isinstance(data, Mapping) else None
        if not isinstance(rate, int) and rates is not None:
            rate = rates.get(session)
        record["audio"] = audio_summary(audio, rate if isinstance(rate, int) else None)
    return record


def _rate_of(data: Mapping[Any, Any]) -> int | None:
    for holder in (data.get("audio"), (data.get("negotiated") or {}).get("audio")):
        if isinstance(holder, Mapping) and isinstance(holder.get("sample_rate"), int):
            return int(holder["sample_rate"])
    return None


def format_entry(record: Mapping[str, Any]) -> str:
    head = [record["id"], record.get("ts", "-"), record.get("type", "?")]
    sid = record.get("session_id")
    if sid:
        head.append(sid[:8])
    line = " ".join(head)
    data = dict(record.get("data") or {})
    for name in ("type", "session_id", "timestamp"):
        data.pop(name, None)
    if data:
        line += " " + compact(data)
    if "audio" in record:
        line += " | " + format_audio(record["audio"])
    if "error" in record:
        line += f" !! {record['error']}"
    return line


class Printer:
    """Prints what a connection sees, stamped with the seconds since it started."""

    def __init__(
        self,
        *,
        as_json: bool = False,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self.clock = clock
        self.t0 = clock()

    def _emit(self, record: dict[str, Any], text: str) -> None:
        t = round(self.clock() - self.t0, 3)
        if self.as_json:
            self.out.write(compact({"t": t, **record}) + "\n")
        else:
            self.out.write(f"[{t:8.3f}s] {text}\n")
        self.out.flush()

    def message(self, direction: str, message: Mapping[str, Any]) -> None:
        arrow = "->" if direction == "out" else "<-"
        body = {k: v for k, v in message.items() if k != "type"}
        self._emit(
            {"dir": direction, "message": dict(message)},
            f"{arrow} {message.get('type', '?')} {compact(plain(body))}",
        )

    def audio(self, direction: str, summary: Mapping[str, Any], what: str = "audio") -> None:
        arrow = "->" if direction == "out" else "<-"
        self._emit(
            {"dir": direction, "audio": dict(summary), "what": what},
            f"{arrow} [{what}] {format_audio(summary)}",
        )

    def note(self, text: str, **extra: Any) -> None:
        self._emit({"note": text, **extra}, f"-- {text}")
