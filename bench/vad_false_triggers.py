"""VAD false triggers on line noise and on the echo of the agent's voice, per classifier.

    .venv/bin/python bench/vad_false_triggers.py [--seconds 10] [--onset-ms 60] [--echo-learn 1]
        [--json out.json]

All audio is made offline: speech by espeak-ng (pt-BR), resampled to 8 kHz by sox; noise by
numpy, band-limited to the telephone band (300-3400 Hz); every signal goes through G.711
mu-law as it would on a call. Levels: speech at -26 dBov active level (ITU-T P.56's usual
telephony level); "SNR -20 dB" means noise 20 dB above that speech level.

For each classifier (webrtc, silero, gate) it reports, through the real segmenter with the
ASP default VAD parameters and the turn-taking code with its barge-in guard:

- noise: fraction of noise frames called speech, utterances produced, barge-ins during
  playback (per --seconds of noise, for white and pink noise at several SNRs);
- echo: utterances and barge-ins caused by the agent's own voice coming back attenuated
  (echo return loss 6/12/20 dB, 30-120 ms of delay, line reflections);
- speech: how many real caller phrases still become utterances (clean and in noise), so a
  VAD cannot win by hearing nothing;
- cost: microseconds per 20 ms frame.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_support import cpu_model, mulaw_roundtrip
from sip_edge.call import Pacer, Segmenter, SegmenterParams, Turns
from sip_edge.call.events import BargeIn, UtteranceReady
from sip_edge.settings import Settings as EdgeSettings
from sip_edge.testing import read_wav, speech_wav
from sip_edge.vad import CLASSIFIERS, make_classifier

RATE = 8000
FRAME = 160
SPEECH_DBOV = -26.0

CALLER_PHRASES = [
    "Eu queria saber o saldo da minha conta.",
    "Preciso falar com o suporte técnico, por favor.",
    "A minha internet caiu desde ontem à noite.",
    "Sim, pode confirmar o agendamento.",
    "Qual é o horário de atendimento de vocês?",
    "Não, obrigado, era só isso.",
]
AGENT_PHRASES = [
    "Olá! Você ligou para o suporte. Em que posso ajudar hoje?",
    "Entendi. Vou verificar o seu cadastro, só um momento, por favor.",
    "O seu protocolo de atendimento é um dois três quatro cinco seis.",
    "Posso ajudar com mais alguma coisa? Estou à disposição.",
]


def pcm16(x: npt.NDArray[Any]) -> bytes:
    return np.clip(x, -32768, 32767).astype("<i2").tobytes()


def rms_dbov(x: npt.NDArray[Any]) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) / 32768 + 1e-12))


def scale_to(x: npt.NDArray[Any], dbov: float) -> npt.NDArray[Any]:
    return x * (10 ** ((dbov - rms_dbov(x)) / 20))


def active_scale(x: npt.NDArray[Any], dbov: float) -> npt.NDArray[Any]:
    """Scales speech so that its active (non-silent) part sits at ``dbov``."""
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    energy = np.sqrt(np.mean(frames**2, axis=1))
    active = frames[energy > 0.1 * energy.max()]
    level = float(20 * np.log10(np.sqrt(np.mean(active**2)) / 32768 + 1e-12))
    return x * (10 ** ((dbov - level) / 20))


def band_limit(x: npt.NDArray[Any], lo: float = 300, hi: float = 3400) -> npt.NDArray[Any]:
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    spec[(freqs < lo) | (freqs > hi)] = 0
    return np.fft.irfft(spec, len(x))


def noise(kind: str, seconds: float, rng: np.random.Generator) -> npt.NDArray[Any]:
    n = int(seconds * RATE)
    white = rng.standard_normal(n)
    if kind == "pink":
        spec = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n, 1 / RATE)
        spec[1:] /= np.sqrt(freqs[1:])
        white = np.fft.irfft(spec, n)
    return band_limit(white)


def to_frames(x: npt.NDArray[Any]) -> list[bytes]:
    pcm = np.clip(mulaw_roundtrip(x), -32768, 32767).astype("<i2")
    pcm = pcm[: len(pcm) // FRAME * FRAME]
    return [pcm[i : i + FRAME].tobytes() for i in range(0, len(pcm), FRAME)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of each noise case")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--onset-ms", type=int, default=EdgeSettings().barge_in_onset_ms,
                    help="soft onset the barge-in guard counts (SIP_EDGE_BARGE_IN_ONSET_MS; "
                         "0: none, as before it existed)")  # fmt: skip
    ap.add_argument("--guard-ms", type=int, default=EdgeSettings().barge_in_min_ms,
                    help="the barge-in guard (SIP_EDGE_BARGE_IN_MIN_MS)")  # fmt: skip
    ap.add_argument("--hold-ms", type=int, default=EdgeSettings().barge_in_hold_ms,
                    help="playback pauses here (SIP_EDGE_BARGE_IN_HOLD_MS; 0: off)")  # fmt: skip
    ap.add_argument(
        "--echo-learn",
        type=int,
        choices=(0, 1),
        default=int(EdgeSettings().echo_guard_learn),
        help="the echo guard learns the line's echo (SIP_EDGE_ECHO_GUARD_LEARN)",
    )
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="vadbench-"))
    caller = [active_scale(read_wav(speech_wav(t, tmp / f"c{i}.wav"))[0], SPEECH_DBOV)
              for i, t in enumerate(CALLER_PHRASES)]  # fmt: skip
    agent = [active_scale(read_wav(speech_wav(t, tmp / f"a{i}.wav", voice="pt-br+f3"))[0],
                          SPEECH_DBOV) for i, t in enumerate(AGENT_PHRASES)]  # fmt: skip
    gap = np.zeros(int(1.0 * RATE))

    agent_pcm = pcm16(agent_all := np.concatenate([np.concatenate([a, gap]) for a in agent]))
    cases: list[tuple[str, npt.NDArray[Any], bytes | None, float | None]] = []
    for nk in ("white", "pink"):
        for snr in (0, -10, -20):
            x = scale_to(noise(nk, args.seconds, rng), SPEECH_DBOV - snr)
            cases.append((f"{nk} noise, SNR {snr} dB", x, None, None))
            cases.append((f"{nk} noise, SNR {snr} dB, during playback", x, agent_pcm, None))
    quiet = np.zeros(len(agent_all))
    for erl_db in (6, 12, 20, 30):
        cases.append((f"echo of the agent's answer, ERL {erl_db} dB", quiet, agent_pcm, erl_db))
    floor = scale_to(noise("white", args.seconds, rng), -70)
    cases.append(("quiet line (-70 dBov noise floor)", floor, None, None))
    caller_all = np.concatenate([np.concatenate([gap, c, gap]) for c in caller])
    cases.append(("caller phrases, clean", caller_all, None, None))
    for snr in (10, 0):
        nz = scale_to(noise("white", len(caller_all) / RATE, rng), SPEECH_DBOV - snr)
        cases.append((f"caller phrases, white noise SNR {snr} dB", caller_all + nz, None, None))
    talk = np.concatenate([np.concatenate([c, gap * 3]) for c in caller])
    cases.append(("caller phrases during the answer, ERL 12 dB echo", talk, agent_pcm, 12))

    results = []
    for name, x, played, erl in cases:
        frames = to_frames(x)
        row: dict[str, object] = {"case": name, "seconds": round(len(frames) * 0.02, 1)}
        for kind in CLASSIFIERS:
            for guard in (6.0, 0.0) if played is not None else (6.0,):
                echo = EchoPath(erl, 60.0, np.random.default_rng(args.seed)) if erl else None
                key = kind if guard else kind + " (no echo guard)"
                row[key] = run_one(kind, frames, played, echo, guard, args.onset_ms,
                                   bool(args.echo_learn), args.guard_ms,
                                   args.hold_ms)  # fmt: skip
        results.append(row)

    print_table(results, len(CALLER_PHRASES), args.onset_ms, bool(args.echo_learn), args.guard_ms,
                args.hold_ms)  # fmt: skip
    machine = {
        "cpu": cpu_model() or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if args.json:
        out = {"machine": machine, "barge_in_min_ms": args.guard_ms,
               "barge_in_hold_ms": args.hold_ms,
               "barge_in_onset_ms": args.onset_ms,
               "echo_guard_learn": bool(args.echo_learn), "results": results}  # fmt: skip
        args.json.write_text(json.dumps(out, indent=1))
    print(f"\nmachine: {machine}")


class EchoPath:
    """The line's echo of what sip-edge plays, computed online from the frames it actually
    played (so a cut answer also cuts its echo): delay, a few decaying reflections, the
    echo return loss, band-limiting by the line, a -70 dBov noise floor."""

    def __init__(self, erl_db: float, delay_ms: float, rng: np.random.Generator) -> None:
        d = int(delay_ms * RATE / 1000)
        ir = np.zeros(d + 400)
        ir[d] = 1.0
        for k in range(1, 6):
            ir[d + int(rng.integers(20, 400))] += rng.uniform(-0.4, 0.4) / k
        self.ir = ir * 10 ** (-erl_db / 20)
        self.history: npt.NDArray[np.float64] = np.zeros(len(ir) + FRAME)
        self.rng = rng

    def frame(self, played: bytes) -> npt.NDArray[Any]:
        x = np.frombuffer(played, dtype="<i2").astype(np.float64)
        self.history = np.concatenate([self.history[FRAME:], x])
        y = np.convolve(self.history, self.ir, mode="valid")[-FRAME:]
        return y + self.rng.standard_normal(FRAME) * 32768 * 10 ** (-70 / 20)


def run_one(
    kind: str,
    frames: list[bytes],
    agent: bytes | None,
    echo: EchoPath | None,
    guard_db: float,
    onset_ms: int,
    echo_learn: bool,
    guard_ms: int = 120,
    hold_ms: int = 0,
) -> dict[str, float]:
    """frames: the caller side (for echo cases: silence, the echo is added online);
    agent: what sip-edge plays (None: nothing)."""
    clf = make_classifier(kind, RATE)
    pacer = Pacer(FRAME * 2, high_water_ms=10**9)
    turns = Turns(
        Segmenter(SegmenterParams()), pacer, guard_ms, guard_db, onset_ms, echo_learn, 0, hold_ms
    )
    responses = 0

    def play_answer() -> None:
        nonlocal responses
        assert agent is not None
        responses += 1
        chunk = FRAME * 2 * 50
        n = -(-len(agent) // chunk)
        for seq in range(n):
            pacer.push(
                f"answer{responses}", seq, agent[seq * chunk : (seq + 1) * chunk], seq == n - 1
            )

    if agent is not None:
        play_answer()
    speech_frames = utterances = barge_ins = 0
    cut = False
    cost = 0.0
    played = bytes(FRAME * 2)
    tail = [bytes(FRAME * 2)] * 100  # 2 s of silence so the last utterance can end
    for i, f in enumerate(frames + tail):
        if echo is not None:
            x = np.frombuffer(f, dtype="<i2").astype(np.float64) + echo.frame(played)
            f = to_frames(x)[0]
        t0 = time.perf_counter()
        p = clf.probability(f)
        cost += time.perf_counter() - t0
        if i < len(frames):
            speech_frames += p >= 0.5
        for a in turns.on_caller_frame(f, p):
            if isinstance(a, BargeIn):
                barge_ins += 1
                cut = True
            elif isinstance(a, UtteranceReady):
                utterances += 1
        if cut and not turns.segmenter.in_speech and i < len(frames):
            cut = False
            play_answer()  # the pipeline answers again: every later trigger counts
        played = turns.next_playout_frame()
    return {
        "speech_frame_ratio": round(speech_frames / max(1, len(frames)), 3),
        "utterances": utterances,
        "barge_ins": barge_ins,
        "holds_resumed": turns.holds_resumed,
        "us_per_frame": round(cost / len(frames + tail) * 1e6, 1),
    }


def print_table(
    results: list[dict[str, object]],
    phrases: int,
    onset_ms: int,
    echo_learn: bool,
    guard_ms: int = 120,
    hold_ms: int = 0,
) -> None:
    keys = [k for k in results[0] if k not in ("case", "seconds")]
    for row in results:
        keys += [k for k in row if k not in keys and k not in ("case", "seconds")]
    print(
        "Cells: share of frames called speech / utterances / barge-ins / false pauses (a hold"
        " that resumed; default segmenter,"
    )
    print(
        f"barge-in guard {guard_ms} ms counting {onset_ms} ms of soft onset, hold at"
        f" {hold_ms} ms, echo guard 6 dB"
        f"{' learning the line' if echo_learn else ''} unless 'no echo guard').\n"
    )
    print("| case | s | " + " | ".join(keys) + " |")
    print("|" + "---|" * (2 + len(keys)))
    for row in results:
        cells = []
        for k in keys:
            r = row.get(k)
            if not isinstance(r, dict):
                cells.append("")
                continue
            cells.append(
                f"{r['speech_frame_ratio']:.0%} / {r['utterances']} / {r['barge_ins']}"
                f" / {r.get('holds_resumed', 0)}"
            )
        print(f"| {row['case']} | {row['seconds']} | " + " | ".join(cells) + " |")
    print(f"\n(caller phrases: {phrases} per speech case)")
    costs = {
        k: float(np.mean([c["us_per_frame"] for c in cells_of(results, k)])) for k in CLASSIFIERS
    }
    print("µs per 20 ms frame (mean over all cases): " + ", ".join(
        f"{k} {v:.1f}" for k, v in costs.items()))  # fmt: skip


def cells_of(results: list[dict[str, object]], key: str) -> list[dict[str, float]]:
    return [c for r in results if isinstance(c := r.get(key), dict)]


if __name__ == "__main__":
    main()
