"""Whisper's encoder window on Portuguese phone audio: word error rate and STT time.

faster-whisper pads every utterance to Whisper's 30 s window (3000 mel frames), so a 3 s
question costs the encoder as much as 30 s of speech. The stt-worker can cut the window
to the utterance rounded up to ``STT_WINDOW_S`` seconds (at least ``STT_MIN_WINDOW_S``);
this bench measures what that does to accuracy and time, so the default is chosen by
numbers (docs/perf/speech.md).

    .venv/bin/python bench/stt_window.py [--variants w30,s5m5,...] [--snr 20]
        [--limit N] [--json FILE]

The set (pt-BR, made offline by Kokoro, the tts-worker's packaged int8 model):

- sentences: the receptionist sentences of bench/voice_wer.py, each said by the three
  native pt-BR voices (pm_alex, pf_dora, pm_santa);
- questions: the caller questions of bench/agent_eval_set.toml (hesitations included),
  each said by one native voice in turn (the set's jm_kumo cases too).

Each clip goes down the phone line as in bench/agent_eval.py: 24 kHz -> 8 kHz (soxr),
speech at -26 dBov active level, 0.3 s of line before and 0.5 s after (the edge's
pre-roll and end-of-turn silence), a -70 dBov floor, then G.711 mu-law; once clean and once
with telephone-band white noise (sip_edge.testing.line_noise) ``--snr`` dB below the speech.

Variants (``--variants``, comma-separated names):

- ``w30``: today, Whisper's 30 s window;
- ``s<step>m<min>``: the window is the utterance rounded up to a multiple of ``step``
  seconds, at least ``min`` seconds (``s5m5``: 5, 10, 15 ... s; ``s2m4``: 4, 6, 8 ... s);
- a ``b5`` suffix decodes with beam 5 instead of the worker's greedy beam 1 (``w30b5``).

Each clip is transcribed by every variant in a rotating order, one after the other on the
same loaded model (so the machine's load hits all variants alike); the STT time is the
provider's (8 kHz -> 16 kHz resampling + Whisper), as the worker reports it. The load
average is sampled along the run. Word error rate is scored with bench/voice_wer.py's
normalizer (numbers spelled out, punctuation and case ignored), over the whole set.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import over_the_line
from pipeline.envparse import cache_dir
from sip_edge.testing import SPEECH_DBOV
from stt_worker.providers.faster_whisper import FasterWhisperSTT
from stt_worker.settings import STTSettings
from turn_detection import RATE, Speech, active_gain
from voice_wer import SENTENCES, normalize, wer

NATIVE = ("pm_alex", "pf_dora", "pm_santa")
LEAD_S = 0.3
TAIL_S = 0.5
EVAL_SET = Path(__file__).with_name("agent_eval_set.toml")
DEFAULT_VARIANTS = "w30,s10m10,s5m5,s2m4"
_VARIANT = re.compile(r"^(?:w30|s(\d+(?:\.\d+)?)m(\d+(?:\.\d+)?))(b(\d+))?$")


@dataclass(frozen=True)
class Variant:
    name: str
    window_s: float
    min_window_s: float
    beam: int


def parse_variant(name: str) -> Variant:
    m = _VARIANT.match(name)
    if m is None:
        raise SystemExit(f"--variants: {name!r} is not w30, s<step>m<min> or either + b<beam>")
    beam = int(m[4]) if m[4] else 1
    if m[1] is None:
        return Variant(name, 30.0, 0.0, beam)
    return Variant(name, float(m[1]), float(m[2]), beam)


@dataclass(frozen=True)
class Clip:
    set: str  # "sentences" | "questions"
    voice: str
    text: str


def clips(limit: int | None) -> list[Clip]:
    out = [Clip("sentences", v, s) for s in SENTENCES for v in NATIVE]
    cases = tomllib.loads(EVAL_SET.read_text("utf-8"))["caso"]
    out += [Clip("questions", NATIVE[i % 3], c["texto"]) for i, c in enumerate(cases)]
    if limit and limit < len(out):  # evenly spread over both sets
        out = [out[int(i)] for i in np.linspace(0, len(out) - 1, limit)]
    return out


def phone_audio(speech: Speech, clip: Clip, snr_db: float | None) -> bytes:
    x = speech.say(clip.text, clip.voice)
    x = x * active_gain(x, SPEECH_DBOV)
    x = np.concatenate([np.zeros(int(LEAD_S * RATE)), x, np.zeros(int(TAIL_S * RATE))])
    seed = int(hashlib.sha256(f"{clip.voice}|{clip.text}".encode()).hexdigest()[:8], 16)
    return over_the_line(x, seed, snr_db)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def uptime() -> str:
    try:
        run = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return run.stdout.strip()


async def measure(
    stt: FasterWhisperSTT, variants: list[Variant], audio: list[bytes]
) -> dict[str, dict[str, list[Any]]]:
    rows: dict[str, dict[str, list[Any]]] = {v.name: {"hyp": [], "s": []} for v in variants}
    for i, pcm in enumerate(audio):
        k = i % len(variants)
        for v in variants[k:] + variants[:k]:  # rotating order
            stt.window_s, stt.min_window_s, stt.beam_size = v.window_s, v.min_window_s, v.beam
            result = await stt.transcribe(pcm, RATE, "pt")
            rows[v.name]["hyp"].append(result.text)
            rows[v.name]["s"].append(result.elapsed_s)
        if (i + 1) % 10 == 0:
            print(f"[stt_window] {i + 1}/{len(audio)} {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return rows


def summarize(
    variants: list[Variant], conditions: dict[str, dict[str, Any]], set_clips: list[Clip]
) -> dict[str, Any]:
    table: dict[str, Any] = {}
    refs = [c.text for c in set_clips]
    for cond, data in conditions.items():
        for v in variants:
            row = data["rows"][v.name]
            entry: dict[str, Any] = {
                "wer": round(wer(refs, row["hyp"]), 4),
                "stt_p50_ms": round(statistics.median(row["s"]) * 1000),
                "stt_p90_ms": round(pct(row["s"], 0.9) * 1000),
                "exact": sum(
                    normalize(r) == normalize(h) for r, h in zip(refs, row["hyp"], strict=True)
                ),
            }
            for name in ("sentences", "questions"):
                idx = [i for i, c in enumerate(set_clips) if c.set == name]
                if idx:
                    entry[f"wer_{name}"] = round(
                        wer([refs[i] for i in idx], [row["hyp"][i] for i in idx]), 4
                    )
            table.setdefault(v.name, {})[cond] = entry
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=DEFAULT_VARIANTS)
    ap.add_argument("--snr", type=float, default=20.0, help="dB of speech above the noise")
    ap.add_argument("--limit", type=int, help="only N clips (a quick look)")
    ap.add_argument("--threads", type=int, default=STTSettings.cpu_threads)
    ap.add_argument("--audio-cache", type=Path, default=cache_dir() / "bench" / "stt-window.npz")
    ap.add_argument("--json", type=Path, help="also write the results (transcripts too) here")
    args = ap.parse_args()
    variants = [parse_variant(n.strip()) for n in args.variants.split(",") if n.strip()]
    started = time.time()
    set_clips = clips(args.limit)
    speech = Speech(args.audio_cache)
    conditions: dict[str, dict[str, Any]] = {"limpo": {"snr": None}, "ruído": {"snr": args.snr}}
    for data in conditions.values():
        data["audio"] = [phone_audio(speech, c, data["snr"]) for c in set_clips]
    speech.save()
    audio_s = [len(a) / 2 / RATE for a in conditions["limpo"]["audio"]]
    print(
        f"[stt_window] {len(set_clips)} clips, {min(audio_s):.1f}-{max(audio_s):.1f} s "
        f"(median {statistics.median(audio_s):.1f} s), {len(variants)} variants",
        file=sys.stderr,
    )
    defaults = STTSettings.from_env({})
    stt = FasterWhisperSTT(defaults.model_ref(), cpu_threads=args.threads, timeout_s=600, retries=0)
    stt.load()
    warm = conditions["limpo"]["audio"][0]
    for v in variants:  # first calls of a shape are slower: not counted
        stt.window_s, stt.min_window_s, stt.beam_size = v.window_s, v.min_window_s, v.beam
        asyncio.run(stt.transcribe(warm, RATE, "pt"))
    load = {"start": uptime()}
    for cond, data in conditions.items():
        data["rows"] = asyncio.run(measure(stt, variants, data["audio"]))
        load[f"after {cond}"] = uptime()
    table = summarize(variants, conditions, set_clips)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/stt_window.py", *sys.argv[1:]]),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "stt_threads": args.threads,
            "uptime": load,
        },
        "wall_s": round(time.time() - started),
        "snr_db": args.snr,
        "clips": len(set_clips),
        "audio_s": {"median": round(statistics.median(audio_s), 2), "max": round(max(audio_s), 2)},
        "variants": {v.name: vars(v) for v in variants},
        "results": table,
        "transcripts": {
            cond: {v.name: data["rows"][v.name] for v in variants}
            for cond, data in conditions.items()
        },
        "references": [f"{c.set}|{c.voice}|{c.text}" for c in set_clips],
    }
    print(
        f"| variante | WER limpo | WER ruído {args.snr:g} dB | STT p50 limpo | p90 | "
        "STT p50 ruído | p90 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for v in variants:
        c, n = table[v.name]["limpo"], table[v.name]["ruído"]
        print(
            f"| {v.name} | {c['wer']:.1%} | {n['wer']:.1%} | {c['stt_p50_ms']} ms | "
            f"{c['stt_p90_ms']} ms | {n['stt_p50_ms']} ms | {n['stt_p90_ms']} ms |"
        )
    print(json.dumps(load, ensure_ascii=False, indent=1), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
