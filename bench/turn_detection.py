"""End of turn on Portuguese: today's fixed silence vs. the Smart Turn model, same segmenter.

    .venv/bin/python bench/turn_detection.py [--voices all] [--snr 20] [--silence 500,800]
        [--thresholds 0.5,0.9] [--latency-ms 60] [--json docs/perf/turn-detection.json]

The set (pt-BR, made offline by Kokoro, the tts-worker's packaged int8 model, one clip per
phrase and voice, every voice of its packaged voices file):

- complete: call-centre questions and requests, said in one go;
- paused, two ways, with 300 to 700 ms of silence inserted mid-sentence ("Eu queria saber"
  ... "o horário de sábado."):
  - halves: each half synthesized on its own (the first half ends with the falling pitch of
    a finished sentence: the hardest case for a model that hears prosody);
  - cut: the whole sentence synthesized in one go and cut at the word boundary between the
    halves (Whisper base's word timestamps find it): the first half keeps the prosody of a
    sentence that goes on, as when a caller stops to think.

Every clip is 24 kHz -> 8 kHz (soxr), speech at -26 dBov active level, a -70 dBov noise
floor, then G.711 mu-law as on a call: 600 ms of line before the speech, 2.5 s after. Each
clip is heard clean and with telephone-band white noise (sip_edge.testing.line_noise) at
each ``--snr`` (dB of speech above the noise).

Each clip goes frame by frame (20 ms) through sip-edge's default VAD (gate) and its real
Segmenter with the ASP default VAD parameters, once per turn mode:

- silence: the turn ends after ``--silence`` ms of silence (500: today's default);
- model: after ``--pause`` ms of silence Smart Turn is asked; a probability >= threshold
  ends the turn when its answer arrives (the check's time plus ``--latency-ms``, or the
  time the inference took here); else the turn ends after ``--cap`` ms of silence.

Reported per mode and condition:

- false cut-off: a turn ended before the clip's last word (mid-sentence), per pause length;
- end-of-turn delay: from the end of the last word to the end of the turn, median and p90;
- what the model said at mid-sentence pauses and at sentence ends, per threshold;
- the model's inference time per check on this CPU (features + ONNX, one thread), and how
  late a 20 ms clock thread wakes while the model runs back to back in another thread.

The synthesized audio and the model's answers are cached under $PABX_CACHE/bench/: a second
run computes only what changed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr
from bench_support import NpzStore, cpu_model, mulaw_roundtrip
from pipeline.envparse import cache_dir
from sip_edge.call import Segmenter, SegmenterParams, TurnEndParams
from sip_edge.call.events import TurnCheck, UtteranceReady
from sip_edge.settings import TURN_MODEL
from sip_edge.smart_turn import SmartTurn, model_input
from sip_edge.testing import line_noise
from sip_edge.vad import make_classifier
from sip_edge.whisper_features import log_mel

RATE = 8000
FRAME = 160
FRAME_MS = 20
SPEECH_DBOV = -26.0
LEAD_S = 0.6
TAIL_S = 2.5
PAUSES_MS = (300, 400, 500, 600, 700)

COMPLETE = [
    "Qual é o horário de atendimento de vocês?",
    "Eu queria saber o saldo da minha conta.",
    "Vocês abrem no sábado?",
    "Preciso de uma segunda via da fatura.",
    "Minha internet caiu desde ontem à noite.",
    "Quanto custa o plano de cem megas?",
    "Pode confirmar o meu agendamento para amanhã?",
    "Quero cancelar o pedido que eu fiz ontem.",
    "O técnico não apareceu na hora marcada.",
    "Onde fica a loja mais perto do centro?",
    "Posso pagar a conta com pix?",
    "Meu cartão foi recusado na compra de hoje.",
]
PAUSED = [
    ("Eu queria saber", "o horário de sábado."),
    ("Eu preciso de", "uma segunda via da fatura."),
    ("Minha internet", "caiu desde ontem à noite."),
    ("Quanto custa", "o plano de cem megas?"),
    ("Eu gostaria de", "falar com o suporte técnico."),
    ("O meu pedido", "ainda não chegou."),
    ("Vocês abrem", "no feriado de segunda?"),
    ("Eu liguei ontem e", "ninguém me atendeu."),
    ("Queria remarcar a visita para", "a próxima quarta-feira."),
    ("O número do meu contrato é", "um dois três quatro cinco."),
    ("Eu tenho uma dúvida sobre", "a cobrança deste mês."),
    ("A fatura veio com", "um valor errado."),
]


# --- the set ---------------------------------------------------------------------------------


def trim(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Cuts the synthesizer's own leading and trailing silence (10 ms frames more than
    40 dB below the loudest)."""
    n = len(x) // 80
    rms = np.sqrt(np.mean(x[: n * 80].reshape(n, 80) ** 2, axis=1))
    active = np.nonzero(rms > rms.max() * 0.01)[0]
    return x[active[0] * 80 : (active[-1] + 1) * 80]


def active_gain(x: npt.NDArray[Any], dbov: float) -> float:
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    energy = np.sqrt(np.mean(frames**2, axis=1))
    active = frames[energy > 0.1 * energy.max()]
    level = 20 * np.log10(np.sqrt(np.mean(active**2)) / 32768 + 1e-12)
    return float(10 ** ((dbov - level) / 20))


class Speech:
    """Kokoro pt-BR speech at 8 kHz (int16 scale), cached on disk between runs."""

    def __init__(self, cache: Path) -> None:
        self.store = NpzStore(cache)
        self._tts: Any = None
        self._whisper: Any = None
        self.splits: dict[str, str] = {}
        """voice|sentence -> the sentence with '|' where it was cut (what Whisper heard)."""

    def kokoro(self) -> Any:
        if self._tts is None:
            from tts_worker.testing import packaged_kokoro

            self._tts = packaged_kokoro()
        return self._tts

    def _synth(self, text: str, voice: str) -> tuple[npt.NDArray[Any], int]:
        out = asyncio.run(self.kokoro().synthesize(text, language="pt-BR", voice=voice))
        return out.samples.astype(np.float64), out.sample_rate

    def say(self, text: str, voice: str) -> npt.NDArray[Any]:
        key = f"{voice}|{text}"
        if key not in self.store:
            x, rate = self._synth(text, voice)
            x = soxr.resample(x, rate, RATE, quality="HQ")
            self.store[key] = (trim(x) * 32768).astype(np.float32)
        return self.store[key].astype(np.float64)

    def split(
        self, first: str, second: str, voice: str
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """The whole sentence said in one go, cut at the word boundary between the two
        halves (found by Whisper's word timestamps): the first half keeps the prosody of a
        sentence that goes on."""
        key = f"{voice}|{first}|{second}"
        if key + "|a" not in self.store:
            x, rate = self._synth(f"{first} {second}", voice)
            x8 = trim(soxr.resample(x, rate, RATE, quality="HQ"))
            cut, heard = self._boundary(x8, first, second)
            self.store[key + "|a"] = (trim(x8[:cut]) * 32768).astype(np.float32)
            self.store[key + "|b"] = (trim(x8[cut:]) * 32768).astype(np.float32)
            self.store[key + "|heard"] = np.frombuffer(heard.encode(), dtype=np.uint8)
        self.splits[key] = bytes(self.store[key + "|heard"]).decode()
        return self.store[key + "|a"].astype(np.float64), self.store[key + "|b"].astype(np.float64)

    def _boundary(self, x8: npt.NDArray[Any], first: str, second: str) -> tuple[int, str]:
        """The sample where the first half ends: the gap between Whisper's words nearest to
        the first half's share of the text, at its quietest 5 ms. Whisper is prompted with
        the sentence (it then writes what was said, not a guess)."""
        if self._whisper is None:
            from faster_whisper import WhisperModel

            path = cache_dir() / "models" / "whisper-base-1.0.0"
            self._whisper = WhisperModel(
                str(path), device="cpu", compute_type="int8", cpu_threads=2, local_files_only=True
            )
        x16 = soxr.resample(x8, RATE, 16000, quality="HQ").astype(np.float32)
        duration = len(x8) / RATE
        words: list[Any] = []
        for prompt in (f"{first} {second}", None):  # prompted; unprompted if that heard nothing
            segments, _ = self._whisper.transcribe(
                x16, language="pt", beam_size=1, temperature=0, word_timestamps=True,
                condition_on_previous_text=False, initial_prompt=prompt, no_repeat_ngram_size=3,
            )  # fmt: skip
            words = [w for seg in segments for w in seg.words if w.start < duration]
            if len(words) >= 2:
                break
        last = _norm(second.split()[-1])
        ends = [i for i, w in enumerate(words) if _norm(w.word) == last]
        if ends:  # drop what Whisper made up after the sentence's last word
            words = words[: ends[0] + 1]
        if len(words) < 2:
            raise RuntimeError(f"Whisper heard {len(words)} word(s) in {first} {second!r}")
        if len(words) == len(first.split()) + len(second.split()):
            j = len(first.split()) - 1  # the boundary after word j
        else:  # Whisper heard other words: the gap at the first half's share of the text
            lengths = np.cumsum([len(w.word.strip()) + 1 for w in words])
            share = lengths / lengths[-1] * (len(first) + 1 + len(second))
            j = int(np.argmin(np.abs(share[:-1] - len(first))))
        lo = int((words[j].end - 0.04) * RATE)
        hi = max(lo + 40, int((words[j + 1].start + 0.04) * RATE))
        window = x8[lo:hi]
        n = len(window) // 40
        rms = np.sqrt(np.mean(window[: n * 40].reshape(n, 40) ** 2, axis=1))
        cut = lo + int(np.argmin(rms)) * 40 + 20
        heard = " ".join(w.word.strip() for w in words[: j + 1])
        heard += " | " + " ".join(w.word.strip() for w in words[j + 1 :])
        return cut, heard

    def save(self) -> None:
        self.store.save()


def _norm(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum())


@dataclass
class Clip:
    kind: str  # "complete", "halves" (synthesized apart), "cut" (one sentence, cut)
    name: str
    voice: str
    pause_ms: int  # 0: a complete phrase said in one go
    speech: npt.NDArray[Any]  # int16 scale, at the speech level, before line and noise
    speech_end_ms: float  # from the clip's start: the end of the last word
    pause_at_ms: float = 0.0  # paused clips: where the inserted silence begins


def build_clips(speech: Speech, voices: list[str]) -> list[Clip]:
    clips = []
    lead = int(LEAD_S * RATE)

    def clip(
        kind: str, name: str, voice: str, pause: int, x: npt.NDArray[Any], at: int = 0
    ) -> Clip:
        x = x * active_gain(x, SPEECH_DBOV)
        end_ms = (lead + len(x)) * 1000 / RATE
        return Clip(kind, name, voice, pause, x, end_ms, (lead + at) * 1000 / RATE)

    for voice in voices:
        for i, text in enumerate(COMPLETE):
            clips.append(clip("complete", f"c{i}", voice, 0, speech.say(text, voice)))
        for i, (first, second) in enumerate(PAUSED):
            halves = {
                "halves": (speech.say(first, voice), speech.say(second, voice)),
                "cut": speech.split(first, second, voice),
            }
            for kind, (a, b) in halves.items():
                for pause in PAUSES_MS:
                    x = np.concatenate([a, np.zeros(pause * RATE // 1000), b])
                    clips.append(clip(kind, f"p{i}", voice, pause, x, len(a)))
    return clips


def line(clip: Clip, snr_db: float | None, seed: int) -> list[bytes]:
    x = np.concatenate([np.zeros(int(LEAD_S * RATE)), clip.speech, np.zeros(int(TAIL_S * RATE))])
    x = x[: len(x) // FRAME * FRAME]
    rng = np.random.default_rng(seed)
    x = x + rng.standard_normal(len(x)) * 32768 * 10 ** (-70 / 20)
    if snr_db is not None:
        x = x + line_noise(len(x) / RATE, snr_db=snr_db, seed=seed)[: len(x)]
    pcm = np.clip(mulaw_roundtrip(x), -32768, 32767).astype("<i2")
    return [pcm[i : i + FRAME].tobytes() for i in range(0, len(pcm), FRAME)]


# --- the model, timed ------------------------------------------------------------------------


class TimedModel:
    """Smart Turn with its answers cached by the audio asked about (in memory and in
    ``--answers-cache``): a check is computed once across the modes and runs compared.
    The verdict arrives ``latency_ms`` after the check, or, when that is None, after the
    time the computation took (on a shared machine that varies with its load)."""

    def __init__(self, model: SmartTurn, cache: Path, latency_ms: float | None) -> None:
        self.model = model
        self.path = cache
        self.latency_ms = latency_ms
        self.answers: dict[str, float] = json.loads(cache.read_text()) if cache.is_file() else {}
        self.seconds: list[float] = []

    def ask(self, audio: bytes) -> tuple[float, float]:
        """(probability, ms until the verdict arrives)."""
        key = hashlib.sha1(audio, usedforsecurity=False).hexdigest()
        p = self.answers.get(key)
        took = None
        if p is None:
            started = time.perf_counter()
            p = self.answers[key] = self.model.probability(audio, RATE)
            took = (time.perf_counter() - started) * 1000
            self.seconds.append(took / 1000)
        if self.latency_ms is not None:
            return p, self.latency_ms
        if took is None:  # cached: time it again for its latency
            started = time.perf_counter()
            self.model.probability(audio, RATE)
            took = (time.perf_counter() - started) * 1000
        return p, took

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.answers))


def run_clip(
    frames: list[bytes],
    vad: list[float],
    mode: Mode,
    ask: Callable[[bytes], tuple[float, float]],
) -> tuple[list[float], list[tuple[float, float]]]:
    """The times (ms from the clip's start) at which turns ended, and the (time, p) of every
    check asked. A frame is heard when it has arrived (its end); a verdict is applied
    between frames, once it has arrived."""
    seg = Segmenter(SegmenterParams(silence_threshold_ms=mode.silence_ms), mode.turn)
    ends: list[float] = []
    checks: list[tuple[float, float]] = []
    waiting: list[tuple[float, int, float]] = []  # (arrives at ms, check id, probability)
    for k, (frame, p) in enumerate(zip(frames, vad, strict=True)):
        now = (k + 1) * FRAME_MS
        for ev in seg.push(frame, p):
            if isinstance(ev, UtteranceReady):
                ends.append(now)
            elif isinstance(ev, TurnCheck):
                prob, latency_ms = ask(ev.audio)
                checks.append((now, prob))
                waiting.append((now + latency_ms, ev.check_id, prob))
        before_next = now + FRAME_MS
        for at, check_id, prob in sorted(w for w in waiting if w[0] < before_next):
            if any(isinstance(ev, UtteranceReady) for ev in seg.verdict(check_id, prob)):
                ends.append(at)
        waiting = [w for w in waiting if w[0] >= before_next]
    return ends, checks


@dataclass(frozen=True)
class Mode:
    name: str
    turn: TurnEndParams
    silence_ms: int = 500  # the session's silence_threshold_ms (ASP default)


# --- statistics ------------------------------------------------------------------------------

KINDS = ("halves", "cut")
SWEEP = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        by_pause = {}
        for pause in PAUSES_MS:
            sel = [r for r in mine if r["pause_ms"] == pause]
            by_pause[str(pause)] = [sum(1 for r in sel if r["cut"]), len(sel)]
        long = [r for r in mine if r["pause_ms"] >= 500]
        out[kind] = {
            "cut_by_pause": by_pause,
            "cut_pct_pauses_ge_500": 100 * sum(1 for r in long if r["cut"]) / max(1, len(long)),
        }
    complete = [r for r in rows if r["kind"] == "complete"]
    out["complete_cut"] = [sum(1 for r in complete if r["cut"]), len(complete)]
    delays = [r["delay_ms"] for r in rows if r["delay_ms"] is not None]
    first = [r["delay_ms"] for r in complete if r["delay_ms"] is not None]
    out["delay_ms"] = {"median": pct(delays, 50), "p90": pct(delays, 90), "n": len(delays)}
    out["delay_complete_ms"] = {"median": pct(first, 50), "p90": pct(first, 90), "n": len(first)}
    out["missed"] = sum(1 for r in rows if r["delay_ms"] is None)
    # What the model said, whatever the threshold: at the first check of a mid-sentence
    # pause (pauses >= 500 ms) and at the first check after the end of the sentence.
    mid = [r["p_mid"] for r in rows if r["p_mid"] is not None and r["pause_ms"] >= 500]
    end = [r["p_end"] for r in rows if r["p_end"] is not None]
    if mid or end:
        out["model_says"] = {
            f"{t}": {
                "mid_sentence_p_ge_t_pct": 100 * sum(p >= t for p in mid) / max(1, len(mid)),
                "sentence_end_p_lt_t_pct": 100 * sum(p < t for p in end) / max(1, len(end)),
            }
            for t in SWEEP
        }
        out["model_says_n"] = {"mid_sentence": len(mid), "sentence_end": len(end)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", default="all", help="comma-separated Kokoro voices, or all")
    ap.add_argument("--snr", default="20", help="comma-separated SNRs (dB) of the noisy runs")
    ap.add_argument("--thresholds", default="0.5", help="model thresholds to compare")
    ap.add_argument("--pause", type=int, default=200, help="model mode: ms before asking")
    ap.add_argument("--cap", type=int, default=1200, help="model mode: ms of silence cap")
    ap.add_argument("--silence", default="500", help="silence mode: ms (comma-separated)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--audio-cache", type=Path, default=cache_dir() / "bench" / "turn-audio.npz")
    ap.add_argument("--model", type=Path, default=cache_dir() / "models" / TURN_MODEL)
    ap.add_argument(
        "--answers-cache", type=Path, default=cache_dir() / "bench" / "turn-answers.json"
    )
    ap.add_argument(
        "--latency-ms",
        type=float,
        help="verdicts arrive this long after the check (default: as long as it took here)",
    )
    args = ap.parse_args()

    speech = Speech(args.audio_cache)
    voices = sorted(speech.kokoro().voices) if args.voices == "all" else args.voices.split(",")
    started = time.perf_counter()
    try:
        clips = build_clips(speech, voices)
    finally:
        speech.save()  # what was synthesized is kept, even when a later clip failed
    log(f"{len(clips)} clips, {len(voices)} voices ({', '.join(voices)}), "
        f"built in {time.perf_counter() - started:.0f} s")  # fmt: skip

    model = TimedModel(SmartTurn(args.model, threads=1), args.answers_cache, args.latency_ms)
    conditions: list[tuple[str, float | None]] = [("limpo", None)]
    conditions += [(f"ruído, SNR {s} dB", float(s)) for s in args.snr.split(",") if s]
    modes = [
        Mode(f"silêncio {ms} ms", TurnEndParams("silence"), int(ms))
        for ms in args.silence.split(",")
    ]
    modes += [
        Mode(f"modelo p ≥ {t}", TurnEndParams("model", args.pause, args.cap, float(t)))
        for t in args.thresholds.split(",")
    ]

    results: dict[str, dict[str, Any]] = {}
    for cond, snr in conditions:
        heard = []
        for n, clip in enumerate(clips):
            frames = line(clip, snr, seed=n)
            vad = make_classifier("gate", RATE)
            heard.append((clip, frames, [vad.probability(f) for f in frames]))
        for mode in modes:
            rows = []
            for clip, frames, probs in heard:
                ends, checks = run_clip(frames, probs, mode, model.ask)
                after = [e for e in ends if e >= clip.speech_end_ms]
                mid = [p for t, p in checks if clip.pause_at_ms <= t < clip.speech_end_ms]
                end = [p for t, p in checks if t >= clip.speech_end_ms]
                rows.append({
                    "kind": clip.kind, "clip": clip.name, "voice": clip.voice,
                    "pause_ms": clip.pause_ms, "cut": any(e < clip.speech_end_ms for e in ends),
                    "delay_ms": after[0] - clip.speech_end_ms if after else None,
                    "p_mid": mid[0] if mid and clip.pause_ms else None,
                    "p_end": end[0] if end else None,
                })  # fmt: skip
            model.save()
            summary = results[f"{cond} | {mode.name}"] = summarize(rows)
            log(f"{cond} | {mode.name}: cut >= 500 ms "
                f"{summary['halves']['cut_pct_pauses_ge_500']:.0f} % (halves), "
                f"{summary['cut']['cut_pct_pauses_ge_500']:.0f} % (cut); delay median "
                f"{summary['delay_ms']['median']:.0f} ms, p90 {summary['delay_ms']['p90']:.0f} ms; "
                f"{len(model.seconds)} model runs so far")  # fmt: skip

    timing = inference_timing(model.model, clips[:: max(1, len(clips) // 40)])
    if model.seconds:  # the checks computed during the run (none when all were cached)
        timing["bench_runs"] = {
            "n": len(model.seconds),
            "median_ms": pct(model.seconds, 50) * 1000,
            "p90_ms": pct(model.seconds, 90) * 1000,
        }
    jitter = media_jitter(model.model, b"".join(line(clips[0], None, seed=0)))
    machine = {
        "cpu": cpu_model() or platform.processor(),
        "cores": os.cpu_count(),
        "load_avg_at_end": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
    }
    print_tables(results, modes, conditions)
    print(f"\ninference: {json.dumps(timing)}\nmedia tick lateness (ms): {json.dumps(jitter)}")
    print(f"machine: {machine}")
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": machine, "voices": voices, "clips": len(clips), "timing": timing,
             "media_tick_lateness_ms": jitter, "splits": speech.splits, "results": results},
            indent=1, ensure_ascii=False) + "\n")  # fmt: skip


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def inference_timing(model: SmartTurn, clips: list[Clip]) -> dict[str, Any]:
    """Features and ONNX run timed apart (one thread, as sip-edge runs it), then the whole
    call, on a spread of the clips."""
    feats, runs, totals = [], [], []
    for clip in clips * 3:
        audio = b"".join(line(clip, None, seed=0))
        t0 = time.perf_counter()
        x = log_mel(model_input(audio, RATE))
        t1 = time.perf_counter()
        model._session.run(None, {"input_features": x[None]})
        t2 = time.perf_counter()
        model.probability(audio, RATE)
        t3 = time.perf_counter()
        feats.append(t1 - t0)
        runs.append(t2 - t1)
        totals.append(t3 - t2)
    return {
        "n": len(totals),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "features_median_ms": statistics.median(feats) * 1000,
        "onnx_median_ms": statistics.median(runs) * 1000,
        "total_median_ms": statistics.median(totals) * 1000,
        "total_p90_ms": pct(totals, 90) * 1000,
        "total_max_ms": max(totals) * 1000,
    }


def media_jitter(model: SmartTurn, audio: bytes, seconds: float = 4.0) -> dict[str, Any]:
    """How late a 20 ms clock thread (sip-edge's media clock does a little Python every
    tick) wakes up, alone and while another thread runs the model back to back."""

    def ticks(busy: bool) -> dict[str, float]:
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                model.probability(audio, RATE)

        worker = threading.Thread(target=work) if busy else None
        if worker:
            worker.start()
        late = []
        start = time.perf_counter()
        for k in range(1, int(seconds / 0.02)):
            target = start + k * 0.02
            time.sleep(max(0.0, target - time.perf_counter()))
            late.append((time.perf_counter() - target) * 1000)
            bytes(320)  # the frame the clock hands over
        stop.set()
        if worker:
            worker.join()
        return {"p50": pct(late, 50), "p99": pct(late, 99), "max": max(late)}

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # as sip-edge runs (app.py)
    try:
        return {"alone": ticks(False), "with_model": ticks(True)}
    finally:
        sys.setswitchinterval(old)


def print_tables(
    results: dict[str, dict[str, Any]],
    modes: list[Mode],
    conditions: list[tuple[str, float | None]],
) -> None:
    names = {"halves": "metades sintetizadas à parte", "cut": "frase inteira cortada"}
    pauses = " | ".join(f"{p} ms" for p in PAUSES_MS)
    print(f"| condição | modo | frases com pausa | {pauses} | pausas ≥ 500 ms |")
    print("|---|---|---|" + "---|" * (len(PAUSES_MS) + 1))
    for cond, _ in conditions:
        for mode in modes:
            s = results[f"{cond} | {mode.name}"]
            for kind in KINDS:
                cells = " | ".join(
                    f"{c}/{n} ({100 * c / max(1, n):.0f} %)"
                    for c, n in s[kind]["cut_by_pause"].values()
                )
                print(f"| {cond} | {mode.name} | {names[kind]} | {cells} | "
                      f"**{s[kind]['cut_pct_pauses_ge_500']:.1f} %** |")  # fmt: skip
    print("\n| condição | modo | atraso mediano | atraso p90 | frases sem pausa: mediano, p90 "
          "| frases sem pausa cortadas | sem fim de turno |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for cond, _ in conditions:
        for mode in modes:
            s = results[f"{cond} | {mode.name}"]
            d, c = s["delay_ms"], s["delay_complete_ms"]
            print(f"| {cond} | {mode.name} | {d['median']:.0f} ms | {d['p90']:.0f} ms | "
                  f"{c['median']:.0f} ms, {c['p90']:.0f} ms | "
                  f"{s['complete_cut'][0]}/{s['complete_cut'][1]} | {s['missed']} |")  # fmt: skip

    print("\n| condição | limiar | frases com pausa ≥ 500 ms: p ≥ limiar na pausa "
          "| fins de frase: p < limiar (esperam o teto) |")  # fmt: skip
    print("|---|---|---|---|")
    for cond, _ in conditions:
        said = next(
            (results[f"{cond} | {m.name}"] for m in modes if m.turn.mode == "model"), {}
        ).get("model_says", {})
        for t, v in said.items():
            print(f"| {cond} | {t} | {v['mid_sentence_p_ge_t_pct']:.0f} % | "
                  f"{v['sentence_end_p_lt_t_pct']:.0f} % |")  # fmt: skip


if __name__ == "__main__":
    main()
