"""Throughput and queue wait of the pipeline workers with 1, 2 and 4 replicas.

Each replica is a real process (``python -m stt_worker|llm_worker|tts_worker``, exactly
what ``make up`` and the container images run) with the packages' fake engines
(STT_PROVIDER=fake, LLM_PROVIDER=fake, TTS_PROVIDER=fake, TTS_FALLBACK=none), so the cost
measured is the worker runtime itself: Redis Streams consumer group, msgpack codec, audio
resampling/chunking, idempotence bookkeeping. A private redis-server per configuration.

For every stage and replica count, a burst of ``--jobs`` work entries (one session each:
an utterance of 2 s of 8 kHz audio for STT, a transcript for LLM, a sentence for TTS) is
written to ``asp:work:<stage>``; the run ends when the consumer group has every entry
acknowledged. Reported: throughput (entries/s), queue wait (mean and p95, from the workers'
own ``asp_worker_queue_wait_seconds`` histogram: event timestamp -> start of processing),
and the CPU the replicas and Redis used (cores busy during the run).

    .venv/bin/python bench/scale_workers.py                     # all stages, 1/2/4 replicas
    .venv/bin/python bench/scale_workers.py --stages stt --replicas 1,2,4,8 --jobs 2000
    .venv/bin/python bench/scale_workers.py --stages stt --real-stt --jobs 24 --concurrency 1

With ``--real-stt`` the STT replicas run faster-whisper base (the packaged model, one CPU
thread each, utterances of 2 s of silence: Whisper's encoder always processes its 30 s
window, so the cost per utterance is close to that of speech), which is CPU-bound the way
production is: throughput then stops growing once the machine's cores are busy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from asp import Message, ResponseText, Stage, Transcript, Utterance
from asp import streams as layout
from bench_support import cpu_model
from pipeline import Bus
from pipeline.testing import RedisServer, free_port, stop_processes

if TYPE_CHECKING:
    import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def speech_8k() -> bytes:
    """About 2.5 s of Portuguese speech at 8 kHz from espeak-ng (the STT skips silence)."""
    import numpy as np
    import soxr

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "u.wav"
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                "pt-br",
                "-s",
                "150",
                "-w",
                str(wav),
                "Bom dia, qual é o horário de atendimento da loja amanhã?",
            ],
            check=True,
        )
        with wave.open(str(wav)) as w:
            rate = w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    y: npt.NDArray[np.float32] = soxr.resample(x.astype(np.float32) / 32768, rate, 8000)
    return (np.clip(y, -1, 1) * 32767).astype(np.int16).tobytes()


SPEECH: bytes = b""


def job(stage: Stage, i: int) -> Message:
    sid = str(uuid.uuid4())
    if stage is Stage.STT:
        return Utterance(
            session_id=sid,
            utterance_id=f"u{i}",
            sample_rate=8000,
            encoding="pcm_s16le",
            duration_ms=len(SPEECH) // 16,
            audio=SPEECH,
        )
    if stage is Stage.LLM:
        return Transcript(
            session_id=sid,
            utterance_id=f"u{i}",
            text="Qual é o horário de atendimento?",
            language="pt",
            confidence=0.9,
        )
    return ResponseText(
        session_id=sid,
        response_id=f"r{i}",
        seq=0,
        text="Atendemos de segunda a sexta, das oito às dezoito horas.",
        is_final=True,
    )


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body: bytes = r.read()
        return body.decode()


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            status: int = r.status
            return status == 200
    except OSError:
        return False


HIST = re.compile(r"^asp_worker_queue_wait_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)$", re.M)


def queue_wait(texts: list[str]) -> tuple[float, float]:
    """Mean and p95 (upper bound of the bucket that holds it) over every replica."""
    total = count = 0.0
    buckets: dict[float, float] = {}
    for text in texts:
        for kind, labels, value in HIST.findall(text):
            if kind == "sum":
                total += float(value)
            elif kind == "count":
                count += float(value)
            else:
                le = re.search(r'le="([^"]+)"', labels)
                if le:
                    bound = float("inf") if le.group(1) == "+Inf" else float(le.group(1))
                    buckets[bound] = buckets.get(bound, 0.0) + float(value)
    if not count:
        return 0.0, 0.0
    p95 = next((b for b in sorted(buckets) if buckets[b] >= 0.95 * count), float("inf"))
    return total / count, p95


@dataclass
class Result:
    stage: str
    replicas: int
    jobs: int
    seconds: float
    throughput: float
    queue_wait_mean_s: float
    queue_wait_p95_le_s: float
    worker_cores: float
    redis_cores: float


async def run_one(
    stage: Stage, replicas: int, jobs: int, concurrency: int, real_stt: bool = False
) -> Result:
    with RedisServer() as redis:
        assert redis.proc is not None
        env = dict(
            os.environ,
            REDIS_URL=redis.url,
            STT_PROVIDER="fake",
            LLM_PROVIDER="fake",
            TTS_PROVIDER="fake",
            TTS_FALLBACK="none",
            WORKER_CONCURRENCY=str(concurrency),
            LOG_LEVEL="WARNING",
            METRICS_HOST="127.0.0.1",
        )
        if real_stt:  # faster-whisper base, one core per replica: CPU-bound like production
            env.update(STT_PROVIDER="faster_whisper", STT_CPU_THREADS="1")
        procs: list[tuple[subprocess.Popen[bytes], int]] = []
        try:
            for i in range(replicas):
                port = free_port()
                p = subprocess.Popen(  # noqa: ASYNC220 - started once, before the clock runs
                    [sys.executable, "-m", f"{stage.value}_worker"],
                    env=dict(env, METRICS_PORT=str(port), WORKER_NAME=f"bench-{stage}-{i}"),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                procs.append((p, port))
            deadline = time.monotonic() + 120
            while not all(healthy(port) for _, port in procs):
                if time.monotonic() > deadline or any(p.poll() is not None for p, _ in procs):
                    raise RuntimeError(f"{stage} workers did not become healthy")
                await asyncio.sleep(0.1)
            bus = Bus.from_url(redis.url)
            try:
                msgs = [job(stage, i) for i in range(jobs)]
                cpu0 = [cpu_seconds(p.pid) for p, _ in procs]
                rcpu0 = cpu_seconds(redis.proc.pid)
                t0 = time.monotonic()
                for k in range(0, jobs, 100):  # the burst, 100 entries per round trip
                    await asyncio.gather(
                        *(bus.publish(m, stages=(stage,)) for m in msgs[k : k + 100])
                    )
                stream, group = layout.work_stream(stage), layout.consumer_group(stage)
                while True:
                    groups = await bus.redis.xinfo_groups(stream)
                    info = next(g for g in groups if g["name"] in (group, group.encode()))
                    if info["entries-read"] == jobs and info["pending"] == 0:
                        break
                    await asyncio.sleep(0.02)
                seconds = time.monotonic() - t0
                cpu = sum(cpu_seconds(p.pid) for p, _ in procs) - sum(cpu0)
                rcpu = cpu_seconds(redis.proc.pid) - rcpu0
            finally:
                await bus.close()
            mean, p95 = queue_wait([scrape(port) for _, port in procs])
        finally:
            stop_processes([p for p, _ in procs], 15)
    return Result(
        stage.value + ("-whisper" if real_stt else ""),
        replicas,
        jobs,
        round(seconds, 3),
        round(jobs / seconds, 3),
        round(mean, 4),
        p95,
        round(cpu / seconds, 2),
        round(rcpu / seconds, 2),
    )


def machine() -> str:
    model = cpu_model() or "?"
    py = platform.python_version()
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, Python {py}"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--stages", default="stt,llm,tts")
    ap.add_argument("--replicas", default="1,2,4")
    ap.add_argument("--jobs", type=int, default=1500)
    ap.add_argument("--concurrency", type=int, default=4, help="WORKER_CONCURRENCY per replica")
    ap.add_argument(
        "--real-stt",
        action="store_true",
        help="STT on the real faster-whisper base model (1 thread per replica), not the fake",
    )
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args()
    print(f"# {machine()}; load average before: {os.getloadavg()[0]:.2f}")
    print("stage replicas jobs seconds  jobs/s wait_mean_ms wait_p95<=ms worker_cores redis_cores")
    global SPEECH
    SPEECH = speech_8k()
    results = []
    for name in args.stages.split(","):
        for n in (int(x) for x in args.replicas.split(",")):
            r = await run_one(Stage(name), n, args.jobs, args.concurrency, args.real_stt)
            results.append(r)
            print(
                f"{r.stage:5} {r.replicas:8} {r.jobs:4} {r.seconds:7.2f} {r.throughput:7.2f} "
                f"{r.queue_wait_mean_s * 1000:12.0f} {r.queue_wait_p95_le_s * 1000:12.0f} "
                f"{r.worker_cores:12.2f} {r.redis_cores:11.2f}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
