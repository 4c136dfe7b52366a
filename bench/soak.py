"""A soak (issue 14 item 6): ``--calls`` concurrent calls for ``--minutes``, a turn every few
seconds, calls hung up and replaced every ``--call-minutes``; memory of every process and
the Redis keys must stay flat, and no session may leak.

    .venv/bin/python bench/soak.py --minutes 60 --calls 10 --json docs/perf/soak.json
    .venv/bin/python bench/soak.py --minutes 3 --calls 4 --call-minutes 1 --log-keep-s 15

The second is a quick check: a run shorter than POSTCALL_LOG_KEEP_S (600 s) never sees an
ended call's log released, so without ``--log-keep-s`` its key checks fail by design.

What runs (no Asterisk): a private redis-server with the settings the product ships
(``--maxmemory 768mb --maxmemory-policy noeviction``, AOF ``everysec``, as compose and
k8s), the STT, LLM and TTS workers and the post-call worker as their own processes with
their fake engines (STT: a fixed question; LLM: a fixed short reply; TTS: a tone, 50 ms a
character), one sip-edge, and one PJSUA2 caller process (this file, ``--caller``) that
places the calls straight to sip-edge's SIP port (bench/sip_edge_direct_load.py's
endpoint) and keeps ``--calls`` of them up at all times. Each call plays an espeak-ng
question followed by ``--pause-s`` of silence, in a loop, so sip-edge's VAD ends a turn
every few seconds; a call is hung up after ``--call-minutes`` (the first ones staggered,
so replacements are spread out) and another takes its place at once: session start and
end run all the time.

Every ``--sample-s`` (60 s; shorter runs sample at least 12 times) one sample: resident
memory (RSS) of sip-edge, each worker, redis-server and the caller; Redis ``used_memory``,
the key count, session logs (``asp:session:*``), state keys, the active-session set, live
turn marks, work entries left in the work streams and dead letters; from sip-edge's
metrics the calls answered, the turns answered (first audio of an answer played after the
caller's end of turn), the no-answer apologies, Redis errors, refused calls; from the
caller, the calls placed, up and failed (ended by the far end, or no media in 20 s);
ERROR lines and tracebacks in every service's log.

At the end the caller hangs up every call; after ``--settle-s`` the leak checks (what
docs and libs/pipeline/bus.py design): the active set empty, sip-edge's active-calls gauge
0, no live turn mark, no work entry pending or left in the work streams, and every key of a
session (``{<uuid>}`` in its name) with a TTL (an ended call's keys expire within
SESSION_ENDED_TTL_S, 24 h, or POSTCALL_LOG_KEEP_S after its summary). Three kinds grow
through an hour by design and are only reported (each sample's ``key_kinds``): the
summaries (``asp:summary``, 24 h), the TTS's turn keys (``asp:turn``, one per response,
TURN_TTL_S 1 h) and the post-call jobs' results (``arq:result``, arq's own expiry).

Verdict ("flat"), from the samples in the second quarter of the run (Q2) and the last one
(Q4): each process's mean RSS in Q4 at most max(5 MiB, 10 %) above its Q2 mean; Redis
``used_memory`` at the end within 2x of its value after 10 minutes (after a quarter of the
run when it is shorter than 40 minutes); the session logs and state keys in Q4 at most
max(1.25x, Q2 + calls) of Q2 (they plateau once the post-call worker releases ended calls,
POSTCALL_LOG_KEEP_S 600 s after their summary); at least one turn answered; no service
died; no leak. The exit status is 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import redis
from asp import Stage
from asp import streams as layout
from pipeline.testing import RedisServer, WorkerProcess, start_worker, stop_processes
from sip_edge.testing import EdgeProcess, speech_wav

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_support import RunRecord, add_log_keep_option, key_kind
from sip_edge_direct_load import looping_call_class, open_endpoint, rss_mb

QUESTION = "Qual é o horário de atendimento da loja?"
REPLY = "Das oito às dezoito horas."  # about 1.3 s of tone from the fake TTS
WORKER_ENV = {
    "STT_PROVIDER": "fake",
    "STT_FAKE_TEXT": QUESTION,
    "LLM_PROVIDER": "fake",
    "LLM_FAKE_TEXT": REPLY,
    "TTS_PROVIDER": "fake",
    "TTS_FALLBACK": "none",
    "LOG_LEVEL": "WARNING",
}
WORKERS = {  # name: module, as make up and the images run them
    "stt": "stt_worker",
    "llm": "llm_worker",
    "tts": "tts_worker",
    "postcall": "llm_worker.postcall",
}
REDIS_ARGS = (  # compose/docker-compose.yml and k8s/base/redis.yaml (no ACL file here)
    "--appendonly", "yes", "--appendfsync", "everysec",
    "--maxmemory", "768mb", "--maxmemory-policy", "noeviction",
)  # fmt: skip
RSS_TOLERANCE_MB = 5.0
RSS_TOLERANCE = 0.10
REDIS_GROWTH_MAX = 2.0
KEYS_GROWTH_MAX = 1.25
MEDIA_TIMEOUT_S = 20.0
SESSION_TAG = re.compile(r"\{[0-9a-f-]{36}\}")


# -- the caller process ----------------------------------------------------------------------


def caller_main(target: str, calls: int, wav: str, call_s: float) -> None:
    """Keeps ``calls`` calls to ``target`` up until SIGTERM, each hung up after ``call_s``
    (the first ones after a share of it, so hang-ups are spread out) and replaced at once.
    Prints its counts as a JSON line every 5 s and once more after hanging up all."""
    import gc

    import pjsua2 as pj

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    base = looping_call_class()

    class Call(base):  # type: ignore[misc, valid-type]
        def __init__(self, acc: Any, wav: str, hang_at: float) -> None:
            super().__init__(acc, wav)
            self.hang_at = hang_at
            self.placed_at = time.monotonic()
            self.ended = False
            self.hung_up = False

        def onCallState(self, prm: Any) -> None:
            if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.ended = True

    ep, acc = open_endpoint(calls * 2 + 2)
    counts = {"placed": 0, "up": 0, "ended": 0, "failed": 0, "place_errors": 0}
    live: list[Call] = []

    def place(lifetime: float) -> None:
        c = Call(acc, wav, time.monotonic() + lifetime)
        try:
            c.makeCall(target, pj.CallOpParam(True))
        except pj.Error:
            counts["place_errors"] += 1
            return
        counts["placed"] += 1
        live.append(c)

    def report() -> None:
        counts["up"] = sum(c.up and not c.ended for c in live)
        print(json.dumps(counts), flush=True)

    for i in range(calls):
        place(call_s * (i + 1) / calls)
        ep.libHandleEvents(50)
    next_report = time.monotonic()
    while not stop.is_set():
        ep.libHandleEvents(20)
        now = time.monotonic()
        for c in list(live):
            if not c.hung_up and not c.ended:
                no_media = not c.up and now - c.placed_at > MEDIA_TIMEOUT_S
                if now >= c.hang_at or no_media:
                    counts["failed"] += no_media
                    c.hung_up = True
                    c.hang_at = now
                    with contextlib.suppress(pj.Error):
                        c.hangup(pj.CallOpParam(True))
            if c.ended:
                counts["ended"] += 1
                counts["failed"] += not c.hung_up  # the far end hung up on us
                live.remove(c)
                c.player = None
            elif c.hung_up and now - c.hang_at > MEDIA_TIMEOUT_S:  # no answer to our BYE
                counts["failed"] += 1
                live.remove(c)
        for _ in range(calls - sum(not c.hung_up for c in live)):
            place(call_s)
        if now >= next_report:
            report()
            next_report = now + 5
    ep.hangupAllCalls()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(not c.ended for c in live):
        ep.libHandleEvents(20)
    for c in live:
        counts["ended"] += c.ended
        c.player = None
    live.clear()
    report()
    acc.shutdown()
    acc = None  # the account goes before the library
    gc.collect()
    ep.libDestroy()


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Sample:
    t_s: float
    rss_mb: dict[str, float]
    used_memory: int
    keys: int
    session_logs: int
    state_keys: int
    summaries: int
    active_sessions: int
    live_turns: int
    work_entries: int
    dead_letters: int
    calls_answered: int
    turns_answered: int
    no_answers: int
    redis_errors: int
    calls_rejected: int
    caller: dict[str, int]
    log_errors: int
    key_kinds: dict[str, int]  # keys by kind (asp:session, asp:turn, arq:result...)


@dataclass
class Result(RunRecord):
    samples: list[Sample] = field(default_factory=list)
    after_hangup: dict[str, Any] = field(default_factory=dict)
    key_kinds_at_end: dict[str, int] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    died: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    ok: bool = False


class Caller:
    """The caller process; a thread keeps its last JSON line."""

    def __init__(self, target: str, calls: int, wav: Path, call_s: float, log: Path) -> None:
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, __file__, "--caller", target, str(calls), str(wav), str(call_s)],
                stdout=subprocess.PIPE, stderr=err, text=True,
            )  # fmt: skip
        self.last: dict[str, int] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.last = json.loads(line)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        time.sleep(0.2)  # the reader thread takes the last line


def edge_metric(text: str, name: str) -> int:
    """A sample of sip-edge's metrics (0 when it has none yet)."""
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def count_log_errors(folder: Path) -> int:
    n = 0
    for log in folder.glob("*.log"):
        text = log.read_text(errors="replace")
        n += len(re.findall(r"\bERROR\b|Traceback \(most recent call last\)", text))
    return n


def sample(
    t0: float,
    r: redis.Redis,
    pids: dict[str, int],
    edge: EdgeProcess,
    caller: Caller,
    folder: Path,
) -> Sample:
    kinds = key_kinds(r)
    work = sum(cast(int, r.xlen(layout.work_stream(s))) for s in Stage)
    dead = sum(cast(int, r.xlen(layout.dead_letter_stream(s))) for s in Stage)
    text = edge.metrics()
    return Sample(
        t_s=round(time.monotonic() - t0, 1),
        rss_mb={name: round(rss_mb(pid), 1) for name, pid in pids.items()},
        used_memory=int(cast(dict[str, Any], r.info("memory"))["used_memory"]),
        keys=cast(int, r.dbsize()),
        session_logs=kinds.get("asp:session", 0),
        state_keys=kinds.get("asp:state", 0),
        summaries=kinds.get("asp:summary", 0),
        key_kinds=kinds,
        active_sessions=cast(int, r.zcard(layout.ACTIVE_SESSIONS)),
        live_turns=cast(int, r.zcard(layout.LIVE_TURNS)),
        work_entries=work,
        dead_letters=dead,
        calls_answered=edge_metric(text, "sip_edge_calls_total"),
        turns_answered=edge_metric(text, "sip_edge_end_of_turn_to_first_audio_seconds_count"),
        no_answers=edge_metric(text, "sip_edge_no_answers_total"),
        redis_errors=edge_metric(text, "sip_edge_redis_errors_total"),
        calls_rejected=edge_metric(text, "sip_edge_calls_rejected_total"),
        caller=dict(caller.last),
        log_errors=count_log_errors(folder),
    )


def key_kinds(r: redis.Redis) -> dict[str, int]:
    """How many keys of each kind (bench_support.key_kind), as bench/redis_memory.py counts."""
    kinds: dict[str, int] = {}
    for key in r.scan_iter(count=1000):
        kind = key_kind(key)
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def leaks(r: redis.Redis, edge: EdgeProcess) -> dict[str, Any]:
    """What is left after every call hung up (see the module's docstring)."""
    untimed: list[str] = []
    max_ttl = -1
    for key in r.scan_iter(count=1000):
        name = key.decode(errors="replace")
        if not SESSION_TAG.search(name):
            continue
        ttl = cast(int, r.ttl(key))
        if ttl == -1:
            untimed.append(name)
        max_ttl = max(max_ttl, ttl)
    pending = 0
    for s in Stage:
        with contextlib.suppress(redis.ResponseError):
            pending += int(
                cast(dict[str, Any], r.xpending(layout.work_stream(s), layout.consumer_group(s)))[
                    "pending"
                ]
            )
    text = edge.metrics()
    return {
        "active_sessions": cast(int, r.zcard(layout.ACTIVE_SESSIONS)),
        "edge_active_calls": edge_metric(text, "sip_edge_active_calls"),
        "live_turns": cast(int, r.zcard(layout.LIVE_TURNS)),
        "work_pending": pending,
        "work_entries": sum(cast(int, r.xlen(layout.work_stream(s))) for s in Stage),
        "session_keys_without_ttl": untimed[:20],
        "session_keys_without_ttl_count": len(untimed),
        "session_keys_max_ttl_s": max_ttl,
        "session_ended_ttl_s": layout.SESSION_ENDED_TTL_S,
    }


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def verdict(result: Result, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    total = args.minutes * 60
    ss = [s for s in result.samples if s.t_s > 0]
    q2 = [s for s in ss if total / 4 <= s.t_s < total / 2] or ss[:1]
    q4 = [s for s in ss if s.t_s >= 3 * total / 4] or ss[-1:]
    checks: dict[str, dict[str, Any]] = {}
    for name in result.samples[0].rss_mb:
        if name == "caller":  # the test's own process, reported only
            continue
        a = mean([s.rss_mb.get(name, 0.0) for s in q2])
        b = mean([s.rss_mb.get(name, 0.0) for s in q4])
        bound = max(RSS_TOLERANCE_MB, RSS_TOLERANCE * a)
        checks[f"rss {name}"] = {
            "q2_mb": round(a, 1), "q4_mb": round(b, 1), "growth_mb": round(b - a, 1),
            "bound_mb": round(bound, 1), "ok": b - a <= bound,
        }  # fmt: skip
    ref_t = min(600.0, total / 4)
    ref = next((s for s in ss if s.t_s >= ref_t), ss[0])
    end = ss[-1]
    checks["redis used_memory"] = {
        "reference_t_s": ref.t_s, "reference": ref.used_memory, "end": end.used_memory,
        "ratio": round(end.used_memory / ref.used_memory, 2),
        "ok": end.used_memory <= REDIS_GROWTH_MAX * ref.used_memory,
    }  # fmt: skip
    for attr in ("session_logs", "state_keys"):
        a = mean([getattr(s, attr) for s in q2])
        b = mean([getattr(s, attr) for s in q4])
        bound = max(KEYS_GROWTH_MAX * a, a + args.calls)
        checks[f"keys {attr}"] = {
            "q2": round(a, 1), "q4": round(b, 1), "bound": round(bound, 1), "ok": b <= bound,
        }  # fmt: skip
    checks["turns answered"] = {"turns": end.turns_answered, "ok": end.turns_answered > 0}
    left = result.after_hangup
    checks["no leaked session"] = {
        "ok": bool(left)
        and left["active_sessions"] == 0
        and left["edge_active_calls"] == 0
        and left["live_turns"] == 0
        and left["work_pending"] == 0
        and left["session_keys_without_ttl_count"] == 0
        and left["session_keys_max_ttl_s"] <= layout.SESSION_ENDED_TTL_S
    }
    checks["no service died"] = {"died": result.died, "ok": not result.died}
    return checks


def run(args: argparse.Namespace) -> Result:
    result = Result.starting(
        "bench/soak.py",
        settings={
            "minutes": args.minutes, "calls": args.calls, "call_minutes": args.call_minutes,
            "pause_s": args.pause_s, "sample_s": args.sample_s, "settle_s": args.settle_s,
            "log_keep_s": args.log_keep_s,
        },
    )  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="pabx-soak-"))
    print(f"logs in {folder}", file=sys.stderr)
    clip = speech_wav(QUESTION, folder / "question.wav")
    wav = folder / "question-padded.wav"
    subprocess.run(["sox", str(clip), str(wav), "pad", "0", str(args.pause_s)], check=True)
    with RedisServer(args=REDIS_ARGS) as server:
        assert server.proc is not None
        r = redis.Redis.from_url(server.url)
        result.redis_version = str(cast(dict[str, Any], r.info("server"))["redis_version"])
        workers: dict[str, WorkerProcess] = {}
        caller: Caller | None = None
        edge = EdgeProcess(
            folder / "sip-edge.log",
            REDIS_URL=server.url,
            SIP_EDGE_MAX_CALLS=str(args.calls * 2 + 2),
            SIP_EDGE_LOG_LEVEL="WARNING",
        )
        try:
            for name, module in WORKERS.items():
                workers[name] = start_worker(
                    module,
                    folder,
                    server.url,
                    **WORKER_ENV,
                    POSTCALL_LOG_KEEP_S=str(args.log_keep_s),
                )
            deadline = time.monotonic() + 180
            while not all(workers[n].ready() for n in ("stt", "llm", "tts")):
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers were not ready in 180 s")
                time.sleep(0.5)
            edge.__enter__()
            assert edge.proc is not None
            target = f"sip:2000@127.0.0.1:{edge.sip_port}"
            caller = Caller(target, args.calls, wav, args.call_minutes * 60, folder / "caller.log")
            procs: dict[str, subprocess.Popen[Any]] = {
                "sip-edge": edge.proc,
                **{name: w.proc for name, w in workers.items()},
                "redis-server": server.proc,
                "caller": caller.proc,
            }  # fmt: skip
            pids = {name: p.pid for name, p in procs.items()}
            t0 = time.monotonic()
            next_at = t0
            while True:
                now = time.monotonic()
                result.died = [
                    f"{n} exited {p.returncode}" for n, p in procs.items() if p.poll() is not None
                ]
                if result.died:
                    break
                if now >= next_at:
                    s = sample(t0, r, pids, edge, caller, folder)
                    result.samples.append(s)
                    print(json.dumps(asdict(s)), flush=True)
                    if s.t_s >= args.minutes * 60 - 1:
                        break
                    next_at += args.sample_s
                time.sleep(min(1.0, max(0.0, next_at - time.monotonic())))
            caller.stop()
            deadline = time.monotonic() + args.settle_s
            while time.monotonic() < deadline:  # the edge ends sessions, the workers go idle
                time.sleep(1)
            if not result.died:
                result.after_hangup = leaks(r, edge)
                result.after_hangup["caller"] = dict(caller.last)
            result.key_kinds_at_end = key_kinds(r)
            result.elapsed_s = round(time.monotonic() - t0, 1)
        finally:
            if caller is not None and caller.proc.poll() is None:
                caller.stop()
            edge.stop()
            stop_processes([w.proc for w in workers.values()], 20)
            r.close()
            with contextlib.suppress(OSError):  # the server's folder goes with it
                shutil.copy(server.log_path, folder / "redis-server.log")
    result.load_after = os.getloadavg()
    if result.samples:
        result.checks = verdict(result, args)
        result.ok = all(c["ok"] for c in result.checks.values())
    return result


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--caller":
        caller_main(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--calls", type=int, default=10, help="calls up at all times")
    ap.add_argument("--call-minutes", type=float, default=3.0, help="each call's length")
    ap.add_argument("--pause-s", type=float, default=4.0, help="silence after each question")
    ap.add_argument("--sample-s", type=float, help="between samples (60, or minutes*5 if less)")
    ap.add_argument("--settle-s", type=float, default=20.0, help="after hanging up all")
    product = " (600 s, the product's): how long an ended call's log stays after its summary"
    add_log_keep_option(ap, 600, product + "; a run shorter than that sees the logs pile up")
    ap.add_argument("--json", type=Path, help="the whole result (samples, checks)")
    args = ap.parse_args()
    if args.sample_s is None:
        args.sample_s = min(60.0, args.minutes * 5)
    result = run(args)
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=1) + "\n")
    print(json.dumps({"after_hangup": result.after_hangup, "keys": result.key_kinds_at_end}))
    for name, check in result.checks.items():
        rest = {k: v for k, v in check.items() if k != "ok"}
        print(f"{'ok  ' if check['ok'] else 'FAIL'} {name}: {json.dumps(rest)}")
    last = result.samples[-1] if result.samples else None
    if last is not None:
        print(
            f"{last.turns_answered} turns answered in {last.calls_answered} calls over "
            f"{result.elapsed_s / 60:.1f} min; load average {result.load_after[0]:.1f} at the end"
        )
    print(f"verdict: {'FLAT, no leak' if result.ok else 'NOT met'}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
