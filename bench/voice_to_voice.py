"""Voice-to-voice latency at the caller, against a running `make up` (offline defaults).

A PJSUA2 phone (tests/support/sipphone.py) registered as 1001 dials 2000, waits for the
greeting to end, then asks short Portuguese questions spoken by the project's Kokoro voice,
one turn at a time. For each turn the latency is measured in the phone's own sample clock:

    from the last voiced 20 ms frame of the question the phone plays
    to the first frame of the phone's recording above the line's noise floor

(the recording and the playout advance together, one 20 ms frame per media-clock tick).
The noise floor is measured on the quiet line just before each question. Each stage's share
comes from the ``timestamp`` fields on the session stream (wall clock, same machine):
end of speech -> utterance (VAD hangover), -> transcript (STT), -> first response.text
(LLM first sentence), -> first response.audio (TTS first audio), -> onset at the phone
(sip-edge, Asterisk, RTP and jitter buffers).

Run it with scripts/bench-voice-to-voice.sh (make up, this, make down, under the Asterisk
lock), or directly against a running `make up`::

    .venv/bin/python bench/voice_to_voice.py [--turns 20] [--turns-per-call 5] [--json FILE]

The first ``--warmup`` turns (1) are not counted. A turn with no answer within
``--answer-timeout`` s is counted as unanswered and the next turn goes on a new call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

from asp import streams as layout  # noqa: E402
from asp.messages import ResponseAudio, ResponseText, Transcript, Utterance  # noqa: E402
from pbx_support import read_env  # noqa: E402
from sip_edge.testing import find_session, last_entry_id, session_messages  # noqa: E402
from sipphone import (  # noqa: E402
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Phone,
    PhoneCall,
    SipStack,
    poll_until,
)
from tts_worker.testing import packaged_kokoro  # noqa: E402

# Short questions, as a caller asks them on the phone.
QUESTIONS = (
    "Qual é o horário de funcionamento?",
    "Vocês abrem no sábado?",
    "Onde fica a empresa?",
    "Como eu falo com o suporte?",
    "Quanto custa a instalação?",
)
VOICED_RMS = 300.0  # int16 RMS of a frame that counts as speech in the question itself
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


@dataclass
class Turn:
    call: int
    turn: int
    question: str
    latency_s: float
    vad_s: float | None = None
    stt_s: float | None = None
    llm_s: float | None = None
    tts_s: float | None = None
    edge_s: float | None = None
    noise_floor_rms: float = 0.0


def kokoro_says(text: str) -> np.ndarray:
    """``text`` spoken by the project's Kokoro, as int16 at 8 kHz."""
    spoken = asyncio.run(packaged_kokoro().synthesize(text, language="pt-BR"))
    pcm = b"".join(c.pcm for c in spoken.render(SAMPLE_RATE))
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)


def frame_rms(samples: np.ndarray) -> np.ndarray:
    n = len(samples) // FRAME_SAMPLES
    frames = samples[: n * FRAME_SAMPLES].astype(np.float64).reshape(n, FRAME_SAMPLES)
    return np.sqrt(np.mean(frames * frames, axis=1))


def voiced_end(samples: np.ndarray) -> int:
    """Sample index just after the last voiced frame (trailing silence does not count)."""
    voiced = np.nonzero(frame_rms(samples) > VOICED_RMS)[0]
    return (int(voiced[-1]) + 1) * FRAME_SAMPLES if len(voiced) else len(samples)


def wait_quiet(call: PhoneCall, start: int, quiet_s: float, timeout: float, thr: float) -> None:
    """Waits until, after sample ``start``, the line has been quiet for ``quiet_s``."""
    need = int(quiet_s / FRAME_S)

    def done() -> bool:
        rms = frame_rms(call.recording()[start:])
        loud = np.nonzero(rms > thr)[0]
        last = int(loud[-1]) if len(loud) else -1
        return len(rms) - 1 - last >= need

    poll_until(done, timeout, "a quiet line", interval=0.1)


def wait_onset(call: PhoneCall, end: int, threshold: float, timeout: float) -> int:
    """Sample index of the first frame after ``end`` whose RMS exceeds ``threshold``."""
    deadline = time.monotonic() + timeout
    while True:
        loud = np.nonzero(frame_rms(call.recording()[end:]) > threshold)[0]
        if len(loud):
            return end + int(loud[0]) * FRAME_SAMPLES
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        time.sleep(0.05)


def ts(msg: object) -> float:
    return datetime.fromisoformat(str(msg.timestamp)).timestamp()  # type: ignore[attr-defined]


def stage_shares(
    r: redis.Redis, sid: str, seen: set[str], end_wall: float, onset_wall: float
) -> dict[str, float | None]:
    """Stage durations of the turn whose utterance is new (not in ``seen``)."""
    msgs = session_messages(r, sid)[1]
    utt = next((m for m in msgs if isinstance(m, Utterance) and m.utterance_id not in seen), None)
    out: dict[str, float | None] = dict.fromkeys(("vad_s", "stt_s", "llm_s", "tts_s", "edge_s"))
    if utt is None:
        return out
    seen.add(utt.utterance_id)
    tr = next(
        (m for m in msgs if isinstance(m, Transcript) and m.utterance_id == utt.utterance_id),
        None,
    )
    if tr is None:
        return out
    t_tr = ts(tr)
    texts = [m for m in msgs if isinstance(m, ResponseText) and m.response_id != "greeting"]
    text = next((m for m in texts if ts(m) >= t_tr), None)
    audio = None
    if text is not None:
        audio = next(
            (m for m in msgs if isinstance(m, ResponseAudio) and m.response_id == text.response_id),
            None,
        )
    out["vad_s"] = ts(utt) - end_wall
    out["stt_s"] = t_tr - ts(utt)
    if text is not None:
        out["llm_s"] = ts(text) - t_tr
        if audio is not None:
            out["tts_s"] = ts(audio) - ts(text)
            out["edge_s"] = onset_wall - ts(audio)
    return out


def run_call(
    phone: Phone,
    r: redis.Redis,
    n: int,
    turns: int,
    questions: list[tuple[str, np.ndarray]],
    answer_timeout: float,
) -> list[Turn]:
    after = last_entry_id(r, layout.work_stream(layout.Stage.LLM))
    call = phone.call("2000")
    call.wait_confirmed(20)
    sid = find_session(r, after, phone.user, timeout=20)
    seen: set[str] = set()
    # The greeting: wait for it, then for the quiet line after it.
    poll_until(lambda: (frame_rms(call.recording()) > VOICED_RMS).sum() >= 25, 90, "greeting")
    wait_quiet(call, 0, 2.0, 120, VOICED_RMS)
    results: list[Turn] = []
    for k in range(turns):
        text, q = questions[(n * turns + k) % len(questions)]
        # The line's noise floor: the last second before the question.
        quiet = frame_rms(call.recording()[-SAMPLE_RATE:])
        floor = float(np.percentile(quiet, 95)) if len(quiet) else 0.0
        threshold = max(4.0 * floor, 60.0)
        mark = len(call.recording())
        play_wall = time.time()
        call.play(q)
        end = mark + voiced_end(q)
        end_wall = play_wall + voiced_end(q) / SAMPLE_RATE
        call.wait_played(30)

        try:
            onset = wait_onset(call, end, threshold, answer_timeout)
        except TimeoutError:
            print(f"call {n + 1} turn {k + 1}: NO ANSWER within {answer_timeout:.0f} s", flush=True)
            results.append(Turn(n + 1, k + 1, text, float("nan"), noise_floor_rms=floor))
            break  # a new call for the next turn
        latency = (onset - end) / SAMPLE_RATE
        onset_wall = end_wall + latency
        # Let the whole answer play (speaking over it would be a barge-in).
        wait_quiet(call, onset, 2.0, 180, threshold)
        shares = stage_shares(r, sid, seen, end_wall, onset_wall)
        turn = Turn(n + 1, k + 1, text, latency, noise_floor_rms=floor, **shares)  # type: ignore[arg-type]
        results.append(turn)
        print(
            f"call {n + 1} turn {k + 1}: {latency:.2f} s  "
            + "  ".join(f"{s}={v:.2f}" for s, v in shares.items() if v is not None),
            flush=True,
        )
    call.hangup()
    call.wait_disconnected(10)
    return results


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values), p))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--turns-per-call", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="first turns, not counted")
    ap.add_argument("--answer-timeout", type=float, default=60.0)
    ap.add_argument("--max-failures", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    t0 = time.monotonic()
    questions = [(t, kokoro_says(t)) for t in QUESTIONS]
    print(f"questions synthesized by Kokoro in {time.monotonic() - t0:.1f} s", flush=True)
    env = read_env()
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    stack = SipStack()
    turns: list[Turn] = []
    try:
        phone = stack.add_phone("1001", env["EXT_1001_PASSWORD"])
        if phone.reg_status != 200:
            print(f"FAIL: 1001 did not register ({phone.reg_status})")
            return 1
        n = 0
        want = args.turns + args.warmup
        while len([t for t in turns if t.latency_s == t.latency_s]) < want:
            if len([t for t in turns if t.latency_s != t.latency_s]) > args.max_failures:
                print("FAIL: too many turns without an answer")
                return 1
            k = min(args.turns_per_call, want - len(turns))
            turns += run_call(phone, r, n, k, questions, args.answer_timeout)
            n += 1
    finally:
        stack.hangup_all()
        stack.close()
        r.close()

    failed = [t for t in turns if t.latency_s != t.latency_s]
    warm = [t for t in turns if t.latency_s == t.latency_s][: args.warmup]
    turns = [t for t in turns if t.latency_s == t.latency_s][args.warmup :]
    lat = [t.latency_s for t in turns]
    summary: dict[str, object] = {
        "turns": len(turns),
        "warmup_s": [round(t.latency_s, 3) for t in warm],
        "unanswered_turns": len(failed),
        "calls": n,
        "p50_s": round(pct(lat, 50), 3),
        "p95_s": round(pct(lat, 95), 3),
        "min_s": round(min(lat), 3),
        "max_s": round(max(lat), 3),
        "mean_s": round(statistics.fmean(lat), 3),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    for stage in ("vad_s", "stt_s", "llm_s", "tts_s", "edge_s"):
        vals = [getattr(t, stage) for t in turns if getattr(t, stage) is not None]
        if vals:
            summary[f"{stage}_p50"] = round(pct(vals, 50), 3)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "summary": summary,
                    "turns": [asdict(t) for t in turns],
                    "warmup": [asdict(t) for t in warm],
                    "unanswered": [asdict(t) for t in failed],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
