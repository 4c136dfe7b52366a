"""Pipeline overhead on Redis Streams: end of the caller's turn -> first response audio.

Instant fake engines (FakeSTT, FakeProvider, FakeTTS) so that only what lies between the
stages is measured: the queues (XADD/XREADGROUP), the codec, the workers' bookkeeping.
One replica of each worker runs as its own process against a private redis-server; N
simulated calls each publish an utterance (as sip-edge does) and wait, with a blocking
XREAD on their session stream (as sip-edge does), for the first response.audio.

    .venv/bin/python bench/pipeline_overhead.py --calls 1 50 --turns 20

sip-edge's own share (playback start) is measured by bench/sip_edge_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid

from asp import SessionStart, Utterance
from pipeline import Bus
from pipeline.testing import RedisServer


def spawn(kind: str, url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": url,
        "WORKER_NAME": f"bench-{kind}",
        "METRICS_PORT": "0",
        "STT_PROVIDER": "fake",
        "LLM_PROVIDER": "fake",
        "TTS_PROVIDER": "fake",
        "TTS_FALLBACK": "none",
        "WORKER_CONCURRENCY": "64",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", f"{kind}_worker"], env=env)


async def one_call(
    bus: Bus, turns: int, out: list[float], think: tuple[float, float], rng: random.Random
) -> None:
    sid = str(uuid.uuid4())
    await bus.publish(SessionStart(session_id=sid))
    last = "0-0"
    audio = b"\x00\x01" * 8000  # 1 s of 8 kHz PCM16
    for n in range(turns):
        # wait until the previous response (or the greeting) ended, then speak
        while True:
            entries = await bus.read_session(sid, last, block_ms=2000)
            if not entries:
                continue
            last = entries[-1][0]
            if any(f.get(b"type") == b"response.end" for _, f in entries):
                break
        await asyncio.sleep(rng.uniform(*think))  # the caller's speech
        t0 = time.perf_counter()
        await bus.publish(
            Utterance(
                session_id=sid,
                utterance_id=f"u-{n}",
                sample_rate=8000,
                encoding="pcm_s16le",
                duration_ms=1000,
                audio=audio,
            )
        )
        got = False
        while not got:
            entries = await bus.read_session(sid, last, block_ms=2000)
            for entry_id, f in entries:
                last = entry_id
                if f.get(b"type") == b"response.audio":
                    out.append((time.perf_counter() - t0) * 1000)
                    got = True
                    break
            # keep reading to the response.end in the next loop


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run(calls: int, turns: int, url: str, think: tuple[float, float]) -> list[float]:
    bus = Bus.from_url(url)
    out: list[float] = []
    rng = random.Random(calls)
    await asyncio.gather(*(one_call(bus, turns, out, think, rng) for _ in range(calls)))
    await bus.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, nargs="+", default=[1, 50])
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(1.0, 3.0),
        help="caller speech between turns, seconds (min max)",
    )
    args = ap.parse_args()
    with RedisServer() as redis:
        procs = [spawn(k, redis.url) for k in ("stt", "llm", "tts")]
        try:
            time.sleep(4)  # imports and consumer groups
            asyncio.run(run(1, 2, redis.url, (0.0, 0.0)))  # warm-up
            print(
                f"# {platform.machine()}, {os.cpu_count()} CPUs, Python "
                f"{platform.python_version()}; 1 replica per worker, fake engines"
            )
            print(f"{'calls':>6}{'turns':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
            for calls in args.calls:
                lat = asyncio.run(run(calls, args.turns, redis.url, tuple(args.think)))
                print(
                    f"{calls:>6}{len(lat):>8}{statistics.median(lat):>10.1f}"
                    f"{pct(lat, 99):>10.1f}{max(lat):>10.1f}"
                )
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)


if __name__ == "__main__":
    main()
