"""sip-edge under load through Asterisk: N simultaneous calls to 2000, a responder that answers
every utterance; CPU per call, inter-frame jitter at the phone, underruns, turn latency.

    .venv/bin/python bench/sip_edge_load.py --calls 10 20 50 --seconds 60 [--json FILE]

Parts, all real and on this machine:

- Asterisk with the test profile (scripts/asterisk.sh, as tests/integration does, holding
  /tmp/pabx-asterisk.lock the whole time; an Asterisk already running is reused and gets
  its normal configuration back at the end). Its RTP range is widened for the run
  (rtp.conf's 10000-10299 holds ~150 RTP sessions and each call to 2000 takes two).
- For each N: a private redis-server and sip-edge (``python -m sip_edge``) registered as
  2000 with ``SIP_EDGE_MAX_CALLS=N``.
- The responder (a thread here): for each session.start on ``asp:work:llm`` it writes a short
  greeting, and for each ``utterance`` on ``asp:work:stt`` an answer of ``--answer-s``
  seconds of speech (espeak-ng) as response.audio chunks, at once, or paced at ``--pace``
  times real time. The agent's audio carries a faint noise floor, so at the phone every
  frame of an answer differs from digital silence.
- The phones: N calls from 1001 through Asterisk, by a minimal SIP UA with raw RTP sockets
  (tests/support/rtpphone.py; no PJSUA: a PJSUA2 phone runs its own conference bridge and
  jitter buffer on the same two cores and cannot say when each packet arrived). Each
  received packet is stamped by the kernel (SO_TIMESTAMPNS). Each caller says a phrase,
  waits for the answer to finish, pauses 0.5-2 s, and speaks again, so utterances keep
  coming, never during the agent's speech (no barge-ins).

Calls are placed one after another (each waits for its session.start, which maps calls to
sessions). After ``--settle`` s the steady window of ``--seconds`` s starts. Measured over it:

- CPU: user+system time (from /proc) of sip-edge, Asterisk, redis-server and this process,
  per call as % of one core; the whole machine's busy share (others = what is not ours,
  e.g. other test runs: a disturbed run shows here); per sip-edge thread, CPU, time spent
  runnable waiting for a core, and context switches (blocking ones: the GIL, I/O).
- Jitter: |inter-arrival - 20 ms| of consecutive packets (by sequence number) while the
  agent speaks (both packets carry answer audio), p50/p99/max; the same over all packets;
  and the packet delay variation: arrival - RTP timestamp, relative to the earliest packet of
  the call (what a jitter buffer at the phone would need to hold), p99.
- Underruns: sip-edge's sip_edge_underruns_total over the window, and at the phone, silent
  frames inside an answer (runs of up to 500 ms of digital silence between answer frames).
- Turn latency: sip-edge's histogram sip_edge_end_of_turn_to_first_audio_seconds (end of the
  caller's turn to the first answer audio queued for playback; includes the responder's
  share, measured separately with Redis entry ids); first answer chunk in Redis -> first
  answer packet at the phone (sip-edge reading and playing + Asterisk); the caller's end of
  speech -> utterance in Redis (includes the VAD's 500 ms of silence), split at the time
  sip-edge stamped on its audio.end (frames and VAD | the write to Redis); and the turn gap
  the caller hears (end of speech -> first answer audio).

Knobs for the analysis: ``--edge-env SIP_EDGE_VAD=webrtc`` (any sip-edge setting) and
``--py-spy DIR`` (sip-edge's Python stacks over the window, and which thread holds the GIL).

Results: docs/perf/sip-edge.md. Ctrl-C (or SIGTERM) hangs up, stops everything and
releases the lock.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import dataclasses
import heapq
import itertools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import redis
from bench_support import REPO, cpu_model, use_test_support
from redis.typing import KeyT, StreamIdT

# what XRANGE gives: (id, fields) pairs
Entries = list[tuple[bytes, dict[bytes, bytes]]]

use_test_support()

from asp import streams as layout  # noqa: E402
from asp.messages import parse_timestamp  # noqa: E402
from pbx_support import cli, locked_asterisk, read_env  # noqa: E402
from pipeline.testing import RedisServer  # noqa: E402
from rtpphone import (  # noqa: E402
    FRAME_MS,
    Leg,
    MediaEngine,
    SipError,
    SipUA,
    sdp_media_address,
    ulaw_frames,
)
from sip_edge.testing import EdgeProcess, metric, read_wav, speech_wav, write_response  # noqa: E402
from sip_edge_direct_load import cpu_seconds, rss_mb  # noqa: E402
from sipphone import PhoneError, poll_until  # noqa: E402

CALLER_TEXT = "Eu queria saber o saldo da minha conta, por favor."
GREETING_TEXT = "Olá, em que posso ajudar?"
ANSWER_TEXT = (
    "Claro. O seu saldo hoje é de mil duzentos e trinta reais. Posso ajudar em mais alguma coisa?"
)
RATE = 8000
NOISE_FLOOR = 200  # peak of the agent audio's noise floor (int16; about -47 dBov RMS)
CHUNK_BYTES = 3200  # 200 ms of 8 kHz PCM16 per response.audio
TURN_HIST = "sip_edge_end_of_turn_to_first_audio_seconds"
GREETING_HIST = "sip_edge_answer_to_greeting_seconds"


# --- audio ---------------------------------------------------------------------------------


def _spoken(text: str, path: Path) -> npt.NDArray[Any]:
    samples, rate = read_wav(speech_wav(text, path))
    assert rate == RATE
    loud = np.nonzero(np.abs(samples) > 300)[0]
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def agent_audio(text: str, path: Path, seconds: float | None = None) -> bytes:
    """Speech as the agent's PCM16, with a faint noise floor, cut or padded to ``seconds``."""
    x = _spoken(text, path)
    if seconds is not None:
        n = int(seconds * RATE)
        x = np.concatenate([x, np.zeros(max(0, n - len(x)))])[:n]
    noise = np.random.default_rng(len(text)).uniform(-NOISE_FLOOR, NOISE_FLOOR, len(x))
    return np.clip(x + noise, -32768, 32767).astype("<i2").tobytes()


@dataclasses.dataclass
class Assets:
    phrase: list[bytes]
    greeting: bytes
    answer: bytes


def make_assets(tmp: Path, answer_s: float) -> Assets:
    return Assets(
        phrase=ulaw_frames(_spoken(CALLER_TEXT, tmp / "caller.wav")),
        greeting=agent_audio(GREETING_TEXT, tmp / "greeting.wav"),
        answer=agent_audio(ANSWER_TEXT, tmp / "answer.wav", answer_s),
    )


# --- the responder -------------------------------------------------------------------------


@dataclasses.dataclass
class Turn:
    session_id: str
    utterance_ms: int
    """Redis time (entry id) of the utterance on asp:work:stt."""
    first_chunk_ms: int
    """Redis time of the answer's first response.audio."""


def _entry_ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


class Responder(threading.Thread):
    """Plays the pipeline's workers: a greeting per session.start, an answer per utterance."""

    def __init__(self, url: str, assets: Assets, pace: float) -> None:
        super().__init__(name="responder", daemon=True)
        self.r = redis.Redis.from_url(url)
        self.assets = assets
        self.pace = pace
        self.sessions: list[str] = []
        self.turns: list[Turn] = []
        self.errors: list[str] = []
        self._due: list[tuple[float, int, str, str, int, bytes]] = []
        self._count = 0
        self._order = itertools.count()
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True
        self.join(5)
        self.r.close()

    def run(self) -> None:
        llm = layout.work_stream(layout.Stage.LLM)
        stt = layout.work_stream(layout.Stage.STT)
        last: dict[KeyT, StreamIdT] = {llm: "0-0", stt: "0-0"}
        while not self._stopping:
            try:
                self._write_due()
                block = 50
                if self._due:
                    block = max(1, min(block, int((self._due[0][0] - time.monotonic()) * 1000)))
                replies = cast(
                    "list[tuple[bytes, Entries]] | None",
                    self.r.xread(last, block=block, count=500),
                )
                for key, entries in replies or []:
                    for entry_id, fields in entries:
                        last[key.decode()] = entry_id.decode()
                        self._on_entry(entry_id, fields)
            except redis.RedisError as e:
                self.errors.append(repr(e))
                time.sleep(0.1)

    def _on_entry(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        kind = fields.get(b"type")
        sid = fields.get(b"session_id", b"").decode()
        if kind == b"session.start":
            self.sessions.append(sid)
            self._answer(sid, "greeting", self.assets.greeting)
        elif kind == b"utterance":
            self._count += 1
            first = self._answer(sid, f"answer-{self._count}", self.assets.answer)
            self.turns.append(Turn(sid, _entry_ms(entry_id), first))

    def _answer(self, sid: str, rid: str, audio: bytes) -> int:
        """Writes the answer (its first chunk only when paced); the Redis ms of chunk 0."""
        n = -(-len(audio) // CHUNK_BYTES)
        pipe = self.r.pipeline(transaction=False)
        write_response(pipe, sid, rid, audio, CHUNK_BYTES, None if self.pace <= 0 else [0])
        ids = pipe.execute()
        if self.pace > 0:
            now = time.monotonic()
            chunk_s = CHUNK_BYTES / 2 / RATE / self.pace
            for seq in range(1, n):
                item = (now + seq * chunk_s, next(self._order), sid, rid, seq, audio)
                heapq.heappush(self._due, item)
        return _entry_ms(ids[0])

    def _write_due(self) -> None:
        now = time.monotonic()
        if not self._due or self._due[0][0] > now:
            return
        pipe = self.r.pipeline(transaction=False)
        while self._due and self._due[0][0] <= now:
            _t, _n, sid, rid, seq, audio = heapq.heappop(self._due)
            write_response(pipe, sid, rid, audio, CHUNK_BYTES, [seq])
        pipe.execute()


# --- processes and counters ----------------------------------------------------------------


def asterisk_pid() -> int:
    """The Asterisk daemon (``asterisk -f ...``; the chroot's shares our /proc)."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (d / "comm").read_text().strip() == "asterisk":
                argv = (d / "cmdline").read_bytes().split(b"\0")
                if b"-f" in argv:
                    return int(d.name)
    raise RuntimeError("no running Asterisk daemon found")


@dataclasses.dataclass(frozen=True)
class ThreadTimes:
    name: str
    cpu_s: float
    """On a CPU (schedstat)."""
    runqueue_s: float
    """Runnable but waiting for a CPU (schedstat)."""
    voluntary: int
    """Context switches where the thread blocked (I/O, a lock: the GIL, a futex)."""
    involuntary: int
    """Context switches where the scheduler took the CPU away."""


def thread_times(pid: int) -> dict[int, ThreadTimes]:
    out: dict[int, ThreadTimes] = {}
    for t in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            run_ns, wait_ns, _slices = (t / "schedstat").read_text().split()
            status = dict(line.split(":", 1) for line in (t / "status").read_text().splitlines())
            out[int(t.name)] = ThreadTimes(
                name=status["Name"].strip(),
                cpu_s=int(run_ns) / 1e9,
                runqueue_s=int(wait_ns) / 1e9,
                voluntary=int(status["voluntary_ctxt_switches"]),
                involuntary=int(status["nonvoluntary_ctxt_switches"]),
            )
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    clk = os.sysconf("SC_CLK_TCK")
    total = sum(fields[:8])
    idle = fields[3] + fields[4]
    return (total - idle) / clk, total / clk


def histogram(text: str, name: str) -> tuple[list[tuple[float, float]], float, float]:
    """Prometheus histogram from exposition text: [(le, cumulative count)], sum, count."""
    buckets: list[tuple[float, float]] = []
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
        elif line.startswith(name + "_sum "):
            total = float(line.split()[-1])
        elif line.startswith(name + "_count "):
            count = float(line.split()[-1])
    return buckets, total, count


def hist_delta(
    a: tuple[list[tuple[float, float]], float, float],
    b: tuple[list[tuple[float, float]], float, float],
) -> tuple[list[tuple[float, float]], float, float]:
    return (
        [(le, cb - ca) for (le, ca), (_, cb) in zip(a[0], b[0], strict=True)],
        b[1] - a[1],
        (b[2] - a[2]),
    )


def hist_bound(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The upper bound of the bucket that holds quantile ``q`` (None: no observations)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    return next(le for le, cum in buckets if cum >= rank)


def hist_share(buckets: list[tuple[float, float]], le: float) -> float | None:
    """The share of observations at most ``le`` (a bucket bound)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    return round(dict(buckets)[le] / buckets[-1][1], 3)


@dataclasses.dataclass
class Sample:
    t_ns: int
    cpu: dict[str, float]
    threads: dict[int, ThreadTimes]
    machine: tuple[float, float]
    metrics: str
    load: tuple[float, float, float]


def sample(pids: dict[str, int], edge: EdgeProcess) -> Sample:
    return Sample(
        t_ns=time.time_ns(),
        cpu={name: cpu_seconds(pid) for name, pid in pids.items()},
        threads=thread_times(pids["sip-edge"]),
        machine=machine_cpu(),
        metrics=edge.metrics(),
        load=os.getloadavg(),
    )


# --- analysis ------------------------------------------------------------------------------


def _pct(values: Sequence[float] | npt.NDArray[Any], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if len(values) else None


def phone_stats(legs: list[Leg], t0: int, t1: int) -> dict[str, Any]:
    """Jitter, losses and silent frames inside answers, from what the phones received."""
    speech_dev: list[npt.NDArray[Any]] = []
    all_dev: list[npt.NDArray[Any]] = []
    delay_var: list[npt.NDArray[Any]] = []
    packets = voiced_packets = lost = silent_inside = 0
    for leg in legs:
        rx = [p for p in leg.rx if t0 <= p[0] <= t1]
        if len(rx) < 2:
            continue
        t = np.array([p[0] for p in rx], dtype=np.int64)
        seq = np.array([p[1] for p in rx], dtype=np.int64)
        ts = np.array([p[2] for p in rx], dtype=np.int64)
        voiced = np.array([p[3] for p in rx], dtype=bool)
        packets += len(rx)
        voiced_packets += int(voiced.sum())
        step = (seq[1:] - seq[:-1]) & 0xFFFF
        lost += int(np.sum(np.where((step > 1) & (step < 1000), step - 1, 0)))
        consecutive = step == 1
        dev = np.abs(np.diff(t) / 1e6 - FRAME_MS)
        all_dev.append(dev[consecutive])
        speech_dev.append(dev[consecutive & voiced[1:] & voiced[:-1]])
        # Delay variation: arrival minus media time, per stretch of continuous timestamps.
        ts_step = (ts[1:] - ts[:-1]) & 0xFFFFFFFF
        breaks = np.nonzero(ts_step != step * 160)[0] + 1
        for part in np.split(np.arange(len(rx)), breaks):
            if len(part) < 2:
                continue
            media_ms = np.concatenate([[0], np.cumsum(ts_step[part[:-1]])]) / 8.0
            d = (t[part] - t[part[0]]) / 1e6 - media_ms
            delay_var.append((d - d.min())[voiced[part]])
        # Silent frames inside an answer: short silent runs between answer frames.
        run = 0
        seen_voice = False
        for v in voiced:
            if v:
                if seen_voice and 0 < run <= 500 // FRAME_MS:
                    silent_inside += run
                run, seen_voice = 0, True
            else:
                run += 1

    def cat(parts: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
        return np.concatenate(parts) if parts else np.array([])

    sd, ad, dv = cat(speech_dev), cat(all_dev), cat(delay_var)
    return {
        "packets": packets,
        "answer_packets": voiced_packets,
        "lost": lost,
        "jitter_speech_ms": {
            "p50": _pct(sd, 50),
            "p99": _pct(sd, 99),
            "max": _pct(sd, 100),
            "over_10ms": int(np.sum(sd > 10)),
            "n": len(sd),
        },
        "jitter_all_ms": {"p50": _pct(ad, 50), "p99": _pct(ad, 99), "max": _pct(ad, 100)},
        "delay_variation_ms": {"p50": _pct(dv, 50), "p99": _pct(dv, 99), "max": _pct(dv, 100)},
        "silent_frames_inside_answers": silent_inside,
    }


def turn_decisions(url: str, sessions: list[str]) -> dict[str, list[int]]:
    """Per session, when sip-edge decided each turn had ended (the ``ts`` it gave each
    audio.end, ns): splits the capture latency into frames + VAD and the write to Redis."""
    out: dict[str, list[int]] = {}
    r = redis.Redis.from_url(url)
    try:
        for sid in sessions:
            ends = out.setdefault(sid, [])
            for _id, fields in cast(Entries, r.xrange(layout.session_stream(sid))):
                if fields.get(b"type") == b"audio.end" and b"ts" in fields:
                    stamp = parse_timestamp(fields[b"ts"].decode()).timestamp()
                    ends.append(int(stamp * 1e9))
    finally:
        r.close()
    return out


def latency_stats(
    legs: list[Leg],
    sessions: list[str],
    turns: list[Turn],
    decisions: dict[str, list[int]],
    t0: int,
    t1: int,
) -> dict[str, Any]:
    leg_of = {sid: legs[i] for i, sid in enumerate(sessions) if i < len(legs)}
    voiced_at: dict[int, list[int]] = {
        leg.index: sorted(p[0] for p in leg.rx if p[3]) for leg in legs
    }
    responder, to_phone, capture, heard, decided, written = [], [], [], [], [], []
    for turn in turns:
        if not t0 <= turn.utterance_ms * 1_000_000 <= t1 or turn.session_id not in leg_of:
            continue
        leg = leg_of[turn.session_id]
        responder.append(turn.first_chunk_ms - turn.utterance_ms)
        stamps = voiced_at[leg.index]
        i = bisect.bisect_left(stamps, turn.first_chunk_ms * 1_000_000)
        first_audio = stamps[i] if i < len(stamps) else None
        if first_audio is not None:
            to_phone.append((first_audio - turn.first_chunk_ms * 1_000_000) / 1e6)
        j = bisect.bisect_right(leg.speech_ends, turn.utterance_ms * 1_000_000) - 1
        if j < 0:
            continue
        end = leg.speech_ends[j]
        capture.append(turn.utterance_ms - end / 1e6)
        if first_audio is not None:
            heard.append((first_audio - end) / 1e6)
        ends = decisions.get(turn.session_id, [])
        k = bisect.bisect_right(ends, (turn.utterance_ms + 1) * 1_000_000) - 1
        if k >= 0 and ends[k] > end:
            decided.append((ends[k] - end) / 1e6)
            written.append(turn.utterance_ms - ends[k] / 1e6)

    def summary(values: Sequence[float]) -> dict[str, float | int | None]:
        return {"p50": _pct(values, 50), "p99": _pct(values, 99), "n": len(values)}

    return {
        "responder_ms": summary(responder),
        "redis_to_phone_ms": summary(to_phone),
        "speech_end_to_utterance_ms": summary(capture),
        "speech_end_to_edge_turn_end_ms": summary(decided),
        "edge_turn_end_to_redis_ms": summary(written),
        "speech_end_to_answer_at_phone_ms": summary(heard),
    }


def cpu_stats(a: Sample, b: Sample, calls: int) -> dict[str, Any]:
    span = (b.t_ns - a.t_ns) / 1e9
    out: dict[str, Any] = {}
    ours = 0.0
    for name in a.cpu:
        used = b.cpu[name] - a.cpu[name]
        ours += used
        out[name] = {
            "percent_of_one_core": round(100 * used / span, 1),
            "percent_per_call": round(100 * used / span / max(calls, 1), 2),
        }
    busy = b.machine[0] - a.machine[0]
    out["machine_busy_percent_of_all_cores"] = round(100 * busy / span / (os.cpu_count() or 1), 1)
    out["others_percent_of_one_core"] = round(100 * max(0.0, busy - ours) / span, 1)
    threads: list[dict[str, Any]] = []
    for tid, end in b.threads.items():
        start = a.threads.get(tid)
        if start is None:
            continue
        threads.append(
            {
                "tid": tid,
                "name": end.name,
                "cpu_percent": round(100 * (end.cpu_s - start.cpu_s) / span, 1),
                "runqueue_wait_percent": round(100 * (end.runqueue_s - start.runqueue_s) / span, 1),
                "blocking_switches_per_s": round((end.voluntary - start.voluntary) / span),
                "preemptions_per_s": round((end.involuntary - start.involuntary) / span),
            }
        )
    threads.sort(key=lambda t: -t["cpu_percent"])
    out["sip_edge_threads_top"] = threads[:5]
    return out


def edge_stats(a: Sample, b: Sample) -> dict[str, Any]:
    def value(text: str, name: str) -> float:
        try:
            return metric(text, name)
        except KeyError:  # a labelled sample appears with its first event
            return 0.0

    def delta(name: str) -> float:
        return value(b.metrics, name) - value(a.metrics, name)

    buckets, total, count = hist_delta(
        histogram(a.metrics, TURN_HIST), histogram(b.metrics, TURN_HIST)
    )
    g_buckets, g_total, g_count = histogram(b.metrics, GREETING_HIST)

    def ms(v: float | None) -> float | None:
        return None if v is None else round(1000 * v, 1)

    return {
        "underruns": delta("sip_edge_underruns_total"),
        "late_chunks_dropped": delta("sip_edge_late_chunks_dropped_total"),
        "barge_ins": delta("sip_edge_barge_ins_total"),
        "frames_in": delta("sip_edge_frames_in_total"),
        "frames_out": delta("sip_edge_frames_out_total"),
        "utterances": delta('sip_edge_vad_events_total{event="utterance"}'),
        "redis_errors": delta("sip_edge_redis_errors_total"),
        "turn_to_first_audio_ms": {
            "n": int(count),
            "mean": ms(total / count) if count else None,
            "share_le_50ms": hist_share(buckets, 0.05),
            "p99_at_most": ms(hist_bound(buckets, 0.99)),
            "buckets": {str(le): c for le, c in buckets},
        },
        "answer_to_greeting_ms": {
            "n": int(g_count),
            "mean": ms(g_total / g_count) if g_count else None,
            "p99_at_most": ms(hist_bound(g_buckets, 0.99)),
        },
    }


# --- one run -------------------------------------------------------------------------------


def _registered(edge: EdgeProcess) -> bool:
    return metric(edge.metrics(), "sip_edge_registered") == 1 and "sip:2000@127.0.0.1" in cli(
        "pjsip show aor 2000"
    )


SPY_RATE = 50  # samples per second


class PySpy:
    """``--py-spy DIR``: sip-edge's Python stacks over the window (py-spy, without stopping
    the process), twice: the threads that are running, and only the thread that holds the
    GIL (``--gil``). Per thread, the share of the window in each state."""

    def __init__(self, out_dir: Path, pid: int, calls: int, seconds: float) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.pid = pid
        self.seconds = int(seconds)
        self.files = {
            "running": out_dir / f"sip-edge-{calls}-calls.txt",
            "holding_gil": out_dir / f"sip-edge-{calls}-calls-gil.txt",
        }
        base = [exe, "record", "--pid", str(pid), "--duration", str(self.seconds)]
        base += ["--rate", str(SPY_RATE), "--nonblocking", "--threads", "--format", "raw"]
        self.procs = [
            subprocess.Popen(
                [*base, *(["--gil"] if kind == "holding_gil" else []), "-o", str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for kind, path in self.files.items()
        ]

    def finish(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for proc in self.procs:
            proc.wait(60)
        for kind, path in self.files.items():
            per_thread: dict[str, int] = {}
            with contextlib.suppress(OSError):
                for line in path.read_text().splitlines():
                    stack, _, n = line.rpartition(" ")
                    thread = self._name(stack.split(";", 1)[0])
                    per_thread[thread] = per_thread.get(thread, 0) + int(n)
            full = SPY_RATE * self.seconds / 100
            out[kind] = {
                "total_percent": round(sum(per_thread.values()) / full, 1),
                "threads_percent": {t: round(n / full, 1) for t, n in per_thread.items()},
            }
        return out

    def _name(self, label: str) -> str:
        """py-spy's ``thread (TID): NAME`` (no NAME for a C thread): the kernel's name too."""
        tid = label.split("(", 1)[1].split(")", 1)[0]
        comm = ""
        with contextlib.suppress(OSError):
            comm = Path(f"/proc/{self.pid}/task/{tid}/comm").read_text().strip()
        name = label.split(": ", 1)[1] if ": " in label else ""
        return f"{tid} {name or comm}".strip()


def run_load(
    calls: int, args: argparse.Namespace, assets: Assets, pw: dict[str, str], tmp: Path
) -> dict[str, Any]:
    result: dict[str, Any] = {"calls": calls}
    with (
        RedisServer() as rs,
        EdgeProcess(
            tmp / f"sip-edge-{calls}.log",
            REDIS_URL=rs.url,
            SIP_EDGE_REGISTRAR="127.0.0.1:5160",
            EXT_2000_PASSWORD=pw["2000"],
            SIP_EDGE_MAX_CALLS=str(calls),
            SIP_EDGE_LOG_LEVEL="WARNING",
            **dict(kv.split("=", 1) for kv in args.edge_env),
        ) as edge,
    ):
        assert edge.proc is not None
        assert rs.proc is not None
        poll_until(lambda: _registered(edge), 30, "sip-edge registered as 2000", interval=0.2)
        responder = Responder(rs.url, assets, args.pace)
        responder.start()
        ua = SipUA("1001", pw["1001"], "2000")
        media = MediaEngine()
        media.start()
        legs: list[Leg] = []
        dialogs = []
        setup_start = time.monotonic()
        try:
            for i in range(calls):
                leg = Leg(i, ("127.0.0.1", 0), assets.phrase)
                legs.append(leg)
                try:
                    dialog, answer = ua.call(leg.port)
                    dialogs.append(dialog)
                    leg.remote = sdp_media_address(answer)
                    media.add(leg)

                    def answered(n: int = i) -> bool:
                        return len(responder.sessions) > n

                    poll_until(answered, 15, f"session {i + 1}")
                except (SipError, PhoneError) as e:
                    result["setup_error"] = f"call {i + 1}: {e}"
                    break
            result["calls_up"] = len(responder.sessions)
            result["setup_s"] = round(time.monotonic() - setup_start, 1)
            print(f"  {result['calls_up']}/{calls} calls up in {result['setup_s']} s", flush=True)
            time.sleep(args.settle)
            pids = {
                "sip-edge": edge.proc.pid,
                "asterisk": asterisk_pid(),
                "redis": rs.proc.pid,
                "bench": os.getpid(),
            }
            spy = None
            if args.py_spy is not None:
                spy = PySpy(args.py_spy, edge.proc.pid, calls, args.seconds)
            a = sample(pids, edge)
            time.sleep(args.seconds)
            b = sample(pids, edge)
            if spy is not None:
                result["py_spy"] = spy.finish()
            result["window_s"] = round((b.t_ns - a.t_ns) / 1e9, 1)
            result["load_average"] = {"start": a.load, "end": b.load}
            result["cpu"] = cpu_stats(a, b, result["calls_up"])
            result["sip_edge_rss_mb"] = round(rss_mb(edge.proc.pid), 1)
            result["sip_edge"] = edge_stats(a, b)
            result["phone"] = phone_stats(legs, a.t_ns, b.t_ns)
            result["latency"] = latency_stats(
                legs,
                responder.sessions,
                responder.turns,
                turn_decisions(rs.url, responder.sessions),
                a.t_ns,
                b.t_ns,
            )
            result["phone"]["listen_timeouts"] = sum(leg.listen_timeouts for leg in legs)
            result["phone"]["late_ticks"] = media.late_ticks
            result["responder_errors"] = responder.errors[:5]
        finally:
            media.stop()
            for d in dialogs:
                with contextlib.suppress(SipError, OSError):
                    ua.hangup(d)
            ua.close()
            responder.stop()
            for leg in legs:
                leg.close()
        log = edge.log()
    result["sip_edge_tracebacks"] = log.count("Traceback")
    with contextlib.suppress(PhoneError):
        poll_until(
            lambda: "0 active channels" in cli("core show channels count"),
            20,
            "Asterisk to release every channel",
            interval=0.5,
        )
    return result


# --- report --------------------------------------------------------------------------------


def _f(v: Any, fmt: str = "{:.1f}") -> str:
    return "-" if v is None else fmt.format(v)


COLUMNS = (
    "calls",
    "up",
    "sip-edge %/call",
    "Asterisk %/call",
    "jitter speech p50/p99/max ms",
    ">10 ms",
    "lost",
    "underruns edge/phone",
    "turn->audio edge: mean, <=50ms, p99<=",
    "redis->phone p50/p99 ms",
    "load",
)


def table_row(r: dict[str, Any]) -> list[str]:
    if "cpu" not in r:
        return [
            str(r["calls"]),
            str(r.get("calls_up", 0)),
            f"no measurement: {r.get('setup_error')}",
        ]
    cpu, ph, ed, lat = r["cpu"], r["phone"], r["sip_edge"], r["latency"]
    j, t, rp = ph["jitter_speech_ms"], ed["turn_to_first_audio_ms"], lat["redis_to_phone_ms"]
    load = r["load_average"]
    return [
        str(r["calls"]),
        str(r["calls_up"]),
        f"{cpu['sip-edge']['percent_per_call']:.2f}",
        f"{cpu['asterisk']['percent_per_call']:.2f}",
        f"{_f(j['p50'], '{:.2f}')}/{_f(j['p99'], '{:.2f}')}/{_f(j['max'])}",
        str(j["over_10ms"]),
        str(ph["lost"]),
        f"{ed['underruns']:.0f}/{ph['silent_frames_inside_answers']}",
        f"{_f(t['mean'])} ms, {_f(t['share_le_50ms'], '{:.0%}')}, {_f(t['p99_at_most'], '{:.0f}')}",
        f"{_f(rp['p50'])}/{_f(rp['p99'])}",
        f"{load['start'][0]:.1f}-{load['end'][0]:.1f}",
    ]


def print_table(rows: list[dict[str, Any]]) -> None:
    cells = [list(COLUMNS), *(table_row(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells if i < len(c)) for i in range(len(COLUMNS))]
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths, strict=False)))
    for r in rows:
        if "py_spy" in r:
            gil = r["py_spy"]["holding_gil"]
            top = sorted(gil["threads_percent"].items(), key=lambda kv: -kv[1])[:3]
            who = ", ".join(f"{t} {v:.0f}%" for t, v in top)
            print(f"{r['calls']} calls: GIL held {gil['total_percent']:.0f}% of the window ({who})")


def machine() -> dict[str, Any]:
    model = cpu_model() or ""
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--calls", type=int, nargs="+", default=[10, 20, 50], help="N, one run each")
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window per N")
    ap.add_argument("--settle", type=float, default=8.0, help="seconds after the last call is up")
    ap.add_argument("--answer-s", type=float, default=3.0, help="length of each answer")
    ap.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="write answer chunks at this many times real time (0: all at once)",
    )
    ap.add_argument(
        "--edge-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for sip-edge (e.g. SIP_EDGE_VAD=webrtc); repeatable",
    )
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="record sip-edge's Python stacks over each window with py-spy (pip install "
        "py-spy): running threads, and the thread holding the GIL",
    )
    ap.add_argument("--lock-timeout", type=float, default=900.0)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)

    tmp = Path(tempfile.mkdtemp(prefix="sip-edge-load-"))
    assets = make_assets(tmp, args.answer_s)
    # The bench's rtp.conf: the repository's, with room for 2 RTP sessions per call.
    extra = tmp / "asterisk"
    extra.mkdir()
    rtp = (REPO / "compose" / "asterisk" / "config" / "rtp.conf").read_text()
    (extra / "rtp.conf").write_text(rtp.replace("rtpend=10299", "rtpend=20000"))
    rows: list[dict[str, Any]] = []
    print("waiting for the Asterisk lock and starting Asterisk...", flush=True)
    with locked_asterisk(args.lock_timeout, env={"PABX_EXTRA_CONFIG_DIR": str(extra)}):
        env = read_env()
        pw = {e: env[f"EXT_{e}_PASSWORD"] for e in ("1001", "2000")}
        rtp_settings = cli("rtp show settings")
        for n in args.calls:
            print(f"{n} calls: {args.seconds:.0f} s window", flush=True)
            rows.append(run_load(n, args, assets, pw, tmp))
    print()
    print_table(rows)
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "asterisk_rtp": " ".join(
            line.strip() for line in rtp_settings.splitlines() if "Port" in line
        ),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "runs": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"results: {args.json}")
    print(f"logs: {tmp}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:  # everything was hung up and stopped on the way out
        print(f"interrupted ({e or 'Ctrl-C'}): calls hung up, processes stopped, lock released")
        sys.exit(130)
