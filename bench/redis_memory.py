"""Redis memory after 100 and after 1,000 simulated call-minutes (issue 14, item 2).

The workers are the real processes (``python -m stt_worker|llm_worker|tts_worker`` and the
post-call worker ``python -m llm_worker.postcall``, what ``make up`` and the images run)
with the packages' fake engines (STT_PROVIDER=fake, LLM_PROVIDER=fake, TTS_PROVIDER=fake),
on a private redis-server. The edge is simulated here with the bus calls sip-edge makes:
``session.start`` (and the active-sessions mark), one ``utterance`` per turn with real-size
audio, reading the session log until the reply's ``response.end``, ``session.end`` and
``Bus.end_session`` when the call hangs up.

Time is compressed (below), so the post-call worker's POSTCALL_LOG_KEEP_S (how long a
summarized call's text log stays: 600 s by default) is divided by the same factor
(``--log-keep-s``, 25 s); the other TTLs (1 h turn keys, 24 h summaries) are not scaled and
so never expire during the run.

A call-minute is ``--turns-per-minute`` turns (6 by default: a turn every 10 s, the
caller speaking ``--utterance-s`` seconds, the agent answering about 3.5 s of audio with
the fake TTS). Time is compressed: a turn starts as soon as the previous one was
answered, so 1,000 call-minutes take minutes, not hours; ``--concurrent`` calls of
``--call-minutes`` each are up at any time. Redis ``used_memory`` is read when the count
of finished call-minutes crosses each checkpoint, and once more after the last call
ended and the workers went idle ("at rest").

Acceptance (issue 14): used_memory after 1,000 call-minutes within 2x of its value after
100.

    .venv/bin/python bench/redis_memory.py                         # 1,000 call-minutes
    .venv/bin/python bench/redis_memory.py --total-minutes 200 --concurrent 4   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from asp import AudioConfig, ResponseEnd, SessionEnd, SessionStart, Stage, Utterance, from_entry
from asp import streams as layout
from bench_support import RunRecord, add_log_keep_option, key_kind
from pipeline import Bus
from pipeline.testing import RedisServer, stop_processes

ROOT = Path(__file__).resolve().parents[1]
RATE = 8000  # the edge's narrowband default (SIP_EDGE_WIDEBAND=false)
TURN_TIMEOUT_S = 60.0


def caller_audio(seconds: float) -> bytes:
    """A voiced-like signal (the fake STT skips near-silence), PCM16 at 8 kHz."""
    t = np.arange(int(seconds * RATE), dtype=np.float32) / RATE
    x = 0.2 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (x * 32767).astype(np.int16).tobytes()


@dataclass
class Sample:
    call_minutes: float
    used_memory: int
    used_memory_dataset: int
    keys: int
    live_calls: int
    work_entries: int  # entries left in the three work streams
    elapsed_s: float


@dataclass
class Result(RunRecord):
    samples: list[Sample] = field(default_factory=list)
    at_rest: Sample | None = None
    key_kinds_at_rest: dict[str, int] = field(default_factory=dict)
    turns: int = 0
    compression: float = 0.0  # real seconds per bench second (a turn every 10 s in reality)
    failed_turns: int = 0
    calls: int = 0
    elapsed_s: float = 0.0


def spawn(
    module: str, name: str, url: str, log_dir: Path, log_keep_s: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": url,
        "WORKER_NAME": name,
        "METRICS_PORT": "0",
        "STT_PROVIDER": "fake",
        "LLM_PROVIDER": "fake",
        "TTS_PROVIDER": "fake",
        "TTS_FALLBACK": "none",
        "POSTCALL_DEFER_MAX_S": "5",
        "POSTCALL_LOG_KEEP_S": str(log_keep_s),
        "LOG_LEVEL": "WARNING",
    }
    out = (log_dir / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT
    )


async def memory(bus: Bus, call_minutes: float, live: int, started: float) -> Sample:
    info = await bus.redis.info("memory")
    work = 0
    for stage in Stage:
        work += int(await bus.redis.xlen(layout.work_stream(stage)))
    return Sample(
        call_minutes=round(call_minutes, 1),
        used_memory=int(info["used_memory"]),
        used_memory_dataset=int(info["used_memory_dataset"]),
        keys=int(await bus.redis.dbsize()),
        live_calls=live,
        work_entries=work,
        elapsed_s=round(time.monotonic() - started, 1),
    )


async def key_kinds(bus: Bus) -> dict[str, int]:
    """How many keys of each kind (the name up to its id: asp:session, arq:result...)."""
    kinds: dict[str, int] = {}
    async for key in bus.redis.scan_iter(count=1000):
        kind = key_kind(key)
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


class Edge:
    """What sip-edge does on the bus for each call, many calls at once."""

    def __init__(self, bus: Bus, args: argparse.Namespace) -> None:
        self.bus = bus
        self.args = args
        self.audio = caller_audio(args.utterance_s)
        self.turns = 0
        self.failed = 0
        self.calls = 0
        self.live = 0

    @property
    def call_minutes(self) -> float:
        per_minute: float = self.args.turns_per_minute
        return self.turns / per_minute

    async def call(self) -> None:
        sid = str(uuid.uuid4())
        self.live += 1
        self.calls += 1
        try:
            last = await self.bus.publish(
                SessionStart(session_id=sid, audio=AudioConfig(), metadata={"language": "pt-BR"}),
                activate_session=True,
            )
            last = await self.wait_end(sid, "greeting", last)
            for n in range(round(self.args.call_minutes * self.args.turns_per_minute)):
                await self.bus.publish(
                    Utterance(
                        session_id=sid,
                        utterance_id=f"u-{n}",
                        sample_rate=RATE,
                        encoding="pcm_s16le",
                        duration_ms=round(self.args.utterance_s * 1000),
                        audio=self.audio,
                    )
                )
                try:
                    last = await self.wait_end(sid, f"r-u-{n}", last)
                except TimeoutError:
                    self.failed += 1
                self.turns += 1
            await self.bus.publish(SessionEnd(session_id=sid, reason="hangup"))
            await self.bus.end_session(sid)
        finally:
            self.live -= 1

    async def wait_end(self, sid: str, response_id: str, last: str) -> str:
        """Reads the session log (XREAD, as the edge) until the reply's response.end."""
        deadline = time.monotonic() + TURN_TIMEOUT_S
        while time.monotonic() < deadline:
            for entry_id, fields in await self.bus.read_session(sid, last, block_ms=500):
                last = entry_id
                if fields.get(b"type") != b"response.end":
                    continue
                msg = from_entry(fields)
                if isinstance(msg, ResponseEnd) and msg.response_id == response_id:
                    return last
        raise TimeoutError(response_id)


async def run(args: argparse.Namespace) -> Result:
    result = Result.starting(
        "bench/redis_memory.py",
        settings={
            "total_minutes": args.total_minutes,
            "concurrent": args.concurrent,
            "call_minutes": args.call_minutes,
            "turns_per_minute": args.turns_per_minute,
            "utterance_s": args.utterance_s,
            "log_keep_s": args.log_keep_s,
        },
    )
    checkpoints = sorted(float(c) for c in args.checkpoints.split(","))
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="redis-memory-") as tmp:
        bus = Bus.from_url(server.url)
        result.redis_version = str((await bus.redis.info("server"))["redis_version"])
        named = {
            name: spawn(module, name, server.url, Path(tmp), args.log_keep_s)
            for module, name in (
                ("stt_worker", "stt-0"),
                ("llm_worker", "llm-0"),
                ("tts_worker", "tts-0"),
                ("llm_worker.postcall", "postcall-0"),
            )
        }
        procs = list(named.values())
        try:
            edge = Edge(bus, args)
            started = time.monotonic()
            # one warm-up call, so the baseline includes the workers' steady keys
            await edge.call()
            edge.turns = edge.calls = edge.failed = 0
            result.samples.append(await memory(bus, 0, 0, started))
            pending: set[asyncio.Task[None]] = set()
            next_check = 0
            while edge.call_minutes < args.total_minutes or pending:
                while (
                    len(pending) < args.concurrent
                    and edge.call_minutes + edge.live * args.call_minutes < args.total_minutes
                ):
                    pending.add(asyncio.create_task(edge.call()))
                done, pending = await asyncio.wait(pending, timeout=0.2)
                for task in done:
                    task.result()
                while (
                    next_check < len(checkpoints) and edge.call_minutes >= checkpoints[next_check]
                ):
                    sample = await memory(bus, edge.call_minutes, edge.live, started)
                    result.samples.append(sample)
                    print(json.dumps(asdict(sample)), flush=True)
                    next_check += 1
                for name, p in named.items():
                    if p.poll() is not None:
                        log = (Path(tmp) / f"{name}.log").read_text(errors="replace")
                        raise RuntimeError(f"{name} exited {p.returncode}: {log[-2000:]}")
            await asyncio.sleep(args.rest_s)  # summaries written, nothing in flight
            result.at_rest = await memory(bus, edge.call_minutes, 0, started)
            result.key_kinds_at_rest = await key_kinds(bus)
            result.turns, result.failed_turns, result.calls = edge.turns, edge.failed, edge.calls
            result.elapsed_s = round(time.monotonic() - started, 1)
            bench_turn_s = result.elapsed_s * args.concurrent / max(edge.turns, 1)
            result.compression = round(60 / args.turns_per_minute / bench_turn_s, 1)
        finally:
            stop_processes(procs, 20)
            await bus.close()
    result.load_after = os.getloadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-minutes", type=float, default=1000)
    parser.add_argument("--checkpoints", default="100,250,500,750,1000")
    parser.add_argument("--concurrent", type=int, default=10, help="calls up at once")
    parser.add_argument("--call-minutes", type=float, default=2.0, help="length of each call")
    parser.add_argument("--turns-per-minute", type=float, default=6.0)
    parser.add_argument("--utterance-s", type=float, default=3.0)
    parser.add_argument("--rest-s", type=float, default=8.0)
    compressed = ": its 600 s default divided by the time compression (about 24x on 2 loaded "
    add_log_keep_option(parser, 25, compressed + "cores, printed as 'compression')")
    parser.add_argument("--out", type=Path, help="JSON result file")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    text = json.dumps(asdict(result), indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    by_minutes = {s.call_minutes: s.used_memory for s in result.samples}
    at_100 = next((v for k, v in sorted(by_minutes.items()) if k >= 100), None)
    at_end = result.samples[-1].used_memory
    if at_100:
        ratio = at_end / at_100
        verdict = "met" if ratio <= 2 else "NOT met"
        print(
            f"used_memory after {result.samples[-1].call_minutes} call-minutes / after 100: "
            f"{ratio:.2f} (goal <= 2: {verdict})"
        )


if __name__ == "__main__":
    main()
