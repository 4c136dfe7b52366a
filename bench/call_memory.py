"""Memory of one call under continuous music: 30 minutes of music-like audio through the
edge's call logic, faster than real time.

    .venv/bin/python bench/call_memory.py [--minutes 30] [--vad gate] [--max-utterance-s 30]

One ``CallSession`` (VAD classifier, segmenter, turn-taking, pacer, watchdog and its Redis
bridge; no SIP) on a throwaway redis-server, fed one 20 ms caller frame and asked for one
playout frame per step, as the media clock does. The caller side is "hold music": chords
with a beat, a melody and some noise, loud enough that the VAD takes much of it for speech
(the utterance buffer is what would grow). ``--vad voiced`` takes every frame for speech,
the worst case (the default Silero gate takes this music for music: no utterance at all).
Every simulated 5 minutes it prints
the process's resident memory and the Python heap (tracemalloc), the utterances published
and how many were cut at the cap. ``--max-utterance-s 0`` shows the growth without the cap.

Prints a JSON line at the end (docs/perf/reliability.md has the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis.asyncio as aioredis
from pipeline.bus import Bus
from pipeline.testing import RedisServer
from sip_edge.calls import CallSession
from sip_edge.metrics import Metrics
from sip_edge.settings import Settings
from sip_edge.sip import CallInfo
from sip_edge.vad import make_classifier

RATE = 8000
FRAME = 160  # samples, 20 ms
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


class AlwaysVoiced:
    """The worst case: a classifier that calls every frame speech."""

    deferred = False

    def probability(self, frame: bytes) -> float:
        return 1.0

    def reset(self) -> None:
        pass


class Handle:
    def hangup(self, status_code: int = 0) -> None:
        pass

    def transfer(self, extension: str) -> None:
        pass

    def send_dtmf(self, digits: str) -> None:
        pass


def music(seconds: float, seed: int = 7) -> npt.NDArray[Any]:
    """Music-like PCM16 at 8 kHz: a chord progression, a melody, a beat and hiss."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6)]
    out = np.zeros_like(t)
    bar = 2.0
    for i, chord in enumerate(chords * int(seconds / bar / len(chords) + 1)):
        sl = (t >= i * bar) & (t < (i + 1) * bar)
        if not sl.any():
            break
        for f in chord:
            out[sl] += 0.12 * np.sin(2 * np.pi * f * t[sl]) + 0.04 * np.sin(4 * np.pi * f * t[sl])
    melody = 440.0 * 2 ** (rng.integers(0, 8, size=int(seconds * 4) + 1) / 12)
    out += 0.18 * np.sin(2 * np.pi * melody[(t * 4).astype(int)] * t)
    beat = np.exp(-((t % 0.5) * 30.0))
    out *= 0.6 + 0.4 * beat
    out += 0.01 * rng.standard_normal(len(t))
    return (np.clip(out, -1, 1) * 20000).astype("<i2")


async def run(minutes: float, vad: str, max_utterance_s: float) -> dict[str, object]:
    loop_clip = music(60.0)  # one minute, looped
    frames = [loop_clip[i : i + FRAME].tobytes() for i in range(0, len(loop_clip), FRAME)]
    with RedisServer() as server:
        bus = Bus(aioredis.Redis.from_url(server.url))
        engine = "webrtc" if vad == "voiced" else vad
        settings = dataclasses.replace(Settings(), vad=engine, max_utterance_s=max_utterance_s)
        metrics = Metrics()
        info = CallInfo(call_ref=1, sip_call_id="bench", caller_number="1001", remote_uri="sip:x")
        session = CallSession(info, Handle(), settings, metrics, bus, lambda _: None)
        session.on_media(RATE, "PCMU")
        session.classifier = AlwaysVoiced() if vad == "voiced" else make_classifier(vad, RATE)
        turns = session.turns
        assert turns is not None
        total = int(minutes * 60 * 50)
        samples: list[dict[str, float]] = []
        tracemalloc.start()
        started = time.perf_counter()
        for i in range(total):
            # A fresh bytes object per frame, as the RTP stack hands over (reusing the clip's
            # objects would hide the growth of a buffer that keeps them).
            session.on_frame(bytes(memoryview(frames[i % len(frames)])))
            session.next_playout_frame()
            if i % 50 == 0:
                await asyncio.sleep(0)  # the bridge writes the utterances to Redis
            # every 5 minutes, 20 s off the cap's rhythm (30 s divides 5 min: a sample on the
            # minute would always find the utterance buffer just emptied)
            if (i + 1000) % (5 * 60 * 50) == 0 or i in (0, total - 1):
                gc.collect()
                heap, _ = tracemalloc.get_traced_memory()
                sample = {
                    "minute": round(i / 50 / 60, 1),
                    "rss_mb": round(rss_mb(), 1),
                    "heap_mb": round(heap / 2**20, 2),
                    "utterances": metrics.vad_events.labels("utterance")._value.get(),
                    "capped": turns.segmenter.capped,
                    "in_utterance_s": round(len(turns.segmenter._audio) * 0.02, 1),
                }
                samples.append(sample)
                print(json.dumps(sample), flush=True)
        elapsed = time.perf_counter() - started
        tracemalloc.stop()
        session.on_ended("bench over")
        await asyncio.sleep(0.5)
        await bus.redis.aclose()
    return {
        "minutes": minutes,
        "vad": vad,
        "max_utterance_s": max_utterance_s,
        "speedup": round(minutes * 60 / elapsed, 1),
        "samples": samples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--vad", default="gate", choices=("gate", "silero", "webrtc", "voiced"))
    ap.add_argument("--max-utterance-s", type=float, default=Settings().max_utterance_s)
    args = ap.parse_args()
    result = asyncio.run(run(args.minutes, args.vad, args.max_utterance_s))
    first, last = result["samples"][1], result["samples"][-1]  # type: ignore[index]
    result["heap_growth_mb_after_5_min"] = round(last["heap_mb"] - first["heap_mb"], 2)
    result["rss_growth_mb_after_5_min"] = round(last["rss_mb"] - first["rss_mb"], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
