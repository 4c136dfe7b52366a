"""Speculative start, off against on (issue 12, item 3), without `make up`.

The real stage workers as their own processes with their offline defaults (stt-worker:
Whisper base; llm-worker: Qwen 2.5 1.5B through llama.cpp; tts-worker: Kokoro) on a private
Redis, and the sip-edge's own ``CallSession`` in this process (no SIP, no Asterisk): a
Kokoro-spoken Portuguese question is fed to it one 20 ms frame every 20 ms, with silence
after it, through the edge's real VAD, and a media-clock thread plays out its answer.
Two calls, one with ``SIP_EDGE_SPECULATIVE_PAUSE_MS=0`` (off) and one with the pause given
(on), take turns question by question, so a change of load hits both alike.

Per turn, from the call's session log: ``edge_e2e_ms`` (the caller's last voiced frame ->
the first frame of the answer handed to the media clock: the dead air, less the network and
the phone's jitter buffer), ``end_of_turn_ms``, the stage times, and the speculative work
that was thrown away (``provisional_cancelled``; ``wasted_ms`` of the STT and the LLM).

    .venv/bin/python bench/speculative_start.py [--rounds 1] [--pause-ms 200] [--json FILE]

The first question of each call is a warm-up and is not counted. A turn with no answer
within ``--answer-timeout`` seconds is counted as unanswered. The workers get this process's
environment, so their settings can be changed for a run (e.g. ``LLM_MODEL_PATH``,
``LLM_MAX_SENTENCES``); docs/perf/voice-to-voice.md has the runs and their load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from asp import (
    Message,
    ResponseStart,
    TurnTiming,
    Utterance,
    UtteranceCancel,
    UtteranceConfirm,
)
from pipeline.bus import Bus
from pipeline.testing import RedisServer, start_worker
from sip_edge.calls import CallSession, wait_sessions_closed
from sip_edge.metrics import Metrics
from sip_edge.settings import Settings
from sip_edge.sip import CallInfo
from sip_edge.testing import NoHandle
from tts_worker.testing import packaged_kokoro

RATE = 8000
FRAME = 160  # samples: 20 ms
FRAME_S = 0.02
WARMUP = ("Bom dia.",)
# (first part, second part): a second part is said after a PAUSE_S pause mid-sentence.
QUESTIONS = (
    ("Qual é o horário de funcionamento?", ""),
    ("Eu queria saber", "o horário de sábado."),
    ("Vocês abrem no sábado?", ""),
    ("Como eu falo", "com o suporte?"),
)
PAUSE_S = 0.35


@dataclass
class Turn:
    arm: str
    question: str
    answered: bool
    edge_e2e_ms: int | None = None
    end_of_turn_ms: int | None = None
    stt_ms: int | None = None
    llm_first_clause_ms: int | None = None
    tts_first_audio_ms: int | None = None
    provisional_cancelled: int = 0
    wasted_stt_ms: int = 0
    wasted_llm_ms: int = 0
    trace: str = ""
    """The turn's events, in order: u1~ (provisional), u1 (final), +u1 (confirmed),
    -u1 (cancelled), >r-u1 (response started). The times are those of this turn's final
    (or confirmed) utterance; a late answer to an earlier turn is not taken for its own."""


def kokoro_says(text: str) -> npt.NDArray[Any]:
    spoken = asyncio.run(packaged_kokoro().synthesize(text, language="pt-BR"))
    pcm = b"".join(c.pcm for c in spoken.render(RATE))
    return np.frombuffer(pcm, dtype="<i2")


def question_audio(first: str, second: str) -> bytes:
    """The question as PCM16 frames: 200 ms of line silence, the speech (with a pause of
    PAUSE_S mid-sentence when there is a second part)."""
    parts = [np.zeros(int(0.2 * RATE), np.int16), kokoro_says(first)]
    if second:
        parts += [np.zeros(int(PAUSE_S * RATE), np.int16), kokoro_says(second)]
    audio = np.concatenate(parts)
    audio = np.concatenate([audio, np.zeros((-len(audio)) % FRAME, np.int16)])
    pcm: bytes = audio.astype("<i2").tobytes()
    return pcm


class Call:
    def __init__(self, arm: str, pause_ms: int, bus: Bus) -> None:
        self.arm = arm
        info = CallInfo(1, f"bench-{arm}", "1001", "sip:1001@127.0.0.1")
        self.session = CallSession(
            info,
            NoHandle(),
            Settings(speculative_pause_ms=pause_ms),
            Metrics(),
            bus,
            lambda _s: None,
        )
        self.session.on_media(RATE, "PCMU/8000")
        self.bus = bus
        self.seen = 0  # session-log entries already read

    def answers(self) -> int:
        """Answers whose first frame was played so far (the edge's own histogram)."""
        histogram = self.session.metrics.speech_end_to_first_frame
        for sample in next(iter(histogram.collect())).samples:
            if sample.name.endswith("_count"):
                return int(sample.value)
        return 0

    def greeted(self) -> bool:
        return self.session._played_any and self.quiet()

    def quiet(self) -> bool:
        turns = self.session.turns
        return turns is not None and not turns.playing and not self.session._unspoken

    async def log(self) -> list[Message]:
        return await self.bus.session_log(self.session.session_id)


class Clock:
    """Feeds the calls' caller frames and plays out their answers, 20 ms a tick."""

    def __init__(self, calls: list[Call]) -> None:
        self.calls = calls
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._playout, name="media-clock", daemon=True)

    def _playout(self) -> None:
        next_tick = time.monotonic()
        while not self.stop.is_set():
            for call in self.calls:
                call.session.next_playout_frame()
            next_tick += FRAME_S
            time.sleep(max(0.0, next_tick - time.monotonic()))


async def speak(call: Call, pcm: bytes, others: list[Call]) -> None:
    """Feeds ``pcm`` to ``call`` at the phone's pace; the other calls get line silence."""
    silence = bytes(FRAME * 2)
    loop = asyncio.get_running_loop()
    tick = loop.time()
    for i in range(0, len(pcm), FRAME * 2):
        call.session.on_frame(pcm[i : i + FRAME * 2])
        for other in others:
            other.session.on_frame(silence)
        tick += FRAME_S
        await asyncio.sleep(max(0.0, tick - loop.time()))


async def quiet_line(calls: list[Call], done: Callable[[], bool], limit_s: float) -> bool:
    """Line silence to every call, one frame every 20 ms, until ``done()`` (True) or for
    ``limit_s`` seconds (False)."""
    silence = bytes(FRAME * 2)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    tick = loop.time()
    while loop.time() < deadline:
        for c in calls:
            c.session.on_frame(silence)
        if done():
            return True
        tick += FRAME_S
        await asyncio.sleep(max(0.0, tick - loop.time()))
    return False


async def wait_answer(call: Call, calls: list[Call], before: int, limit_s: float) -> bool:
    """Line silence until the answer has started and finished playing; False: no answer."""
    answered_at: float | None = None

    def done() -> bool:
        nonlocal answered_at
        now = time.monotonic()
        if answered_at is None and call.answers() > before:
            answered_at = now
        return answered_at is not None and now - answered_at > 0.5 and call.quiet()

    return await quiet_line(calls, done, limit_s) or answered_at is not None


def turn_of(arm: str, question: str, answered: bool, new: list[Message]) -> Turn:
    turn = Turn(arm, question, answered)
    steps = []
    final: str | None = None  # this turn's utterance: the last final or confirmed one
    for m in new:
        if isinstance(m, Utterance):
            steps.append(m.utterance_id + ("~" if m.provisional else ""))
            final = final if m.provisional else m.utterance_id
        elif isinstance(m, UtteranceConfirm):
            final = m.utterance_id
        if isinstance(m, UtteranceConfirm | UtteranceCancel):
            steps.append(("+" if isinstance(m, UtteranceConfirm) else "-") + m.utterance_id)
        if isinstance(m, ResponseStart):
            steps.append(">" + m.response_id)
    turn.trace = " ".join(steps)
    timings = [m for m in new if isinstance(m, TurnTiming)]
    for t in timings:
        if t.wasted_ms is not None:
            if t.stage == "stt":
                turn.wasted_stt_ms += t.wasted_ms
            elif t.stage == "llm":
                turn.wasted_llm_ms += t.wasted_ms
        if t.utterance_id != final or final is None:
            continue
        for name in (
            "edge_e2e_ms",
            "end_of_turn_ms",
            "stt_ms",
            "llm_first_clause_ms",
            "tts_first_audio_ms",
        ):
            value = getattr(t, name)
            if value is not None and getattr(turn, name) is None:
                setattr(turn, name, value)
        if t.provisional_cancelled:
            turn.provisional_cancelled = t.provisional_cancelled
    tts = [t.tts_first_audio_ms for t in timings if t.response_id == f"r-{final}"]
    turn.tts_first_audio_ms = next((ms for ms in tts if ms is not None), None)
    return turn


Question = tuple[str, str]


async def run(
    args: argparse.Namespace, redis_url: str, plan: list[Question], audio: dict[Question, bytes]
) -> list[Turn]:
    bus = Bus.from_url(redis_url)
    calls = [Call("off", 0, bus), Call("on", args.pause_ms, bus)]
    clock = Clock(calls)
    clock.thread.start()
    turns: list[Turn] = []
    try:
        # the greetings play out before anyone speaks
        await quiet_line(calls, lambda: all(call.greeted() for call in calls), 60.0)
        for n, q in enumerate(plan):
            for call in calls:
                others = [c for c in calls if c is not call]
                before = call.answers()
                seen = len(await call.log())
                await speak(call, audio[q], others)
                answered = await wait_answer(call, calls, before, args.answer_timeout)
                await asyncio.sleep(1.0)  # late events (wasted work) reach the log
                new = (await call.log())[seen:]
                text = q[0] + (f" ... {q[1]}" if q[1] else "")
                turn = turn_of(call.arm, text, answered, new)
                if n >= len(WARMUP):
                    turns.append(turn)
                print(
                    f"{call.arm:3} {'' if n >= len(WARMUP) else '(warm-up) '}{text!r}: "
                    f"{json.dumps(asdict(turn))}",
                    flush=True,
                )
    finally:
        clock.stop.set()
        for call in calls:
            call.session.on_ended("bench")
        await wait_sessions_closed(10)
        await bus.close()
    return turns


def summary(turns: list[Turn]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for arm in ("off", "on"):
        mine = [t for t in turns if t.arm == arm]
        e2e = [t.edge_e2e_ms for t in mine if t.edge_e2e_ms is not None]
        eot = [t.end_of_turn_ms for t in mine if t.end_of_turn_ms is not None]
        out[arm] = {
            "turns": len(mine),
            "unanswered": sum(1 for t in mine if not t.answered or t.edge_e2e_ms is None),
            "edge_e2e_p50_ms": statistics.median(e2e) if e2e else float("nan"),
            "edge_e2e_max_ms": max(e2e) if e2e else float("nan"),
            "end_of_turn_p50_ms": statistics.median(eot) if eot else float("nan"),
            "provisional_cancelled": sum(t.provisional_cancelled for t in mine),
            "wasted_stt_ms": sum(t.wasted_stt_ms for t in mine),
            "wasted_llm_ms": sum(t.wasted_llm_ms for t in mine),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="times the questions are asked")
    parser.add_argument("--pause-ms", type=int, default=200, help="the 'on' arm's pause")
    parser.add_argument("--answer-timeout", type=float, default=40.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    plan: list[Question] = [(w, "") for w in WARMUP] + list(QUESTIONS) * args.rounds
    audio = {q: question_audio(*q) for q in dict.fromkeys(plan)}  # Kokoro, before the bench
    load_before = os.getloadavg()
    started = time.monotonic()
    with RedisServer() as redis, tempfile.TemporaryDirectory(prefix="bench-spec-") as tmp:
        workers = [
            start_worker(m, Path(tmp), redis.url, WORKER_NAME=f"bench-{m}")
            for m in ("stt_worker", "llm_worker", "tts_worker")
        ]
        try:
            deadline = time.monotonic() + 300
            while not all(w.healthy() for w in workers):
                if time.monotonic() > deadline:
                    raise RuntimeError("workers not healthy within 300 s")
                time.sleep(0.5)
            print(f"workers up in {time.monotonic() - started:.0f} s", flush=True)
            turns = asyncio.run(run(args, redis.url, plan, audio))
        finally:
            for w in workers:
                w.proc.terminate()
            for w in workers:
                try:
                    w.proc.wait(20)
                except subprocess.TimeoutExpired:
                    w.proc.kill()
    result = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs",
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "pause_ms": args.pause_ms,
        "summary": summary(turns),
        "turns": [asdict(t) for t in turns],
    }
    print(json.dumps(result["summary"], indent=2))
    print(f"load average before {load_before}, after {result['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
