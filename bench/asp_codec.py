"""Codec throughput of ASP events on one core.

Encode + decode of a 20 ms ``response.audio`` (8 kHz PCM16: 320 bytes) and of a
``session.start``, with msgpack (Redis) and JSON (WebSocket), plus the Redis entry form.
Goal: at least 200,000 audio events per second (1,000 calls x 50 frames/s = 50,000/s).

    .venv/bin/python bench/asp_codec.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import uuid
from collections.abc import Callable

from asp import (
    AudioConfig,
    ResponseAudio,
    SessionStart,
    VADConfig,
    decode_json,
    decode_msgpack,
    encode_json,
    encode_msgpack,
    from_entry,
    to_entry,
)
from asp.messages import Message

SID = str(uuid.uuid4())


def audio_event() -> ResponseAudio:
    return ResponseAudio(
        session_id=SID, response_id="r-1", seq=42, audio=bytes(320), is_final=False
    )


def start_event() -> SessionStart:
    return SessionStart(
        session_id=SID,
        call_id="a84b4c76e66710@pc33.example",
        audio=AudioConfig(),
        vad=VADConfig(),
        metadata={"caller_number": "1001", "language": "pt-BR"},
        version="1.1.0",
    )


def rate(fn: Callable[[], object], seconds: float) -> float:
    n, batch = 0, 2000
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            fn()
        n += batch
    return n / elapsed


def round_trips(m: Message) -> list[tuple[str, Callable[[], object]]]:
    """Per codec, a call that encodes ``m`` and decodes it back."""
    return [
        ("msgpack", lambda: decode_msgpack(encode_msgpack(m))),
        ("json", lambda: decode_json(encode_json(m))),
        ("entry", lambda: from_entry(to_entry(m))),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    cases: list[tuple[str, Message]] = [
        ("response.audio 20ms", audio_event()),
        ("session.start", start_event()),
    ]
    print(
        f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, pinned to one core"
    )
    print(f"{'event':<22}{'codec':<10}{'encode+decode/s':>18}{'µs each':>10}")
    for name, msg in cases:
        for codec, fn in round_trips(msg):
            assert fn() == msg
            r = rate(fn, args.seconds)
            print(f"{name:<22}{codec:<10}{r:>18,.0f}{1e6 / r:>10.2f}")


if __name__ == "__main__":
    main()
