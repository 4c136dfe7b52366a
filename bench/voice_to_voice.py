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

    .venv/bin/python bench/voice_to_voice.py [--turns 40] [--turns-per-call 5] [--calls 1|2]
        [--json FILE] [--no-alone]

Eight distinct questions, three of them with a 350 ms pause in the middle of the sentence
(shorter than the 500 ms end-of-turn silence: the turn must not end there). With
``--calls 2`` two phones (1001 and 1003) call 2000 at once and ask their questions at the
same moment, turn after turn (the worst case for two callers on one host).

The first ``--warmup`` turns (1 per call) are not counted. A turn with no answer within
``--answer-timeout`` s is counted as unanswered and the next turn goes on new calls.

Live / alone: after the live turns (system idle), the same stages are timed alone in this
process with the workers' own settings (``scripts/workers.sh env`` and compose/.env): STT
on each question's audio; the LLM's first clause for each transcript that reached the model
(turns answered from the facts file without the model keep their live time, a few ms);
Kokoro's first audio for each turn's first clause (phrases the TTS served from its cache
keep their live time). The end-of-turn wait and the transport are waits, not computation:
their live medians are used. The report gives live p50 / (sum of the stages' alone
medians): above 1 the stages slow each other down; below 1 overlap and speculation beat
the sum of the parts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis
from bench_support import REPO, sentence_splitter, use_test_support

use_test_support()

from asp import streams as layout  # noqa: E402
from asp.messages import (  # noqa: E402
    ResponseAudio,
    ResponseText,
    Transcript,
    TurnTiming,
    Utterance,
    UtteranceCancel,
    UtteranceConfirm,
)
from pbx_support import read_env  # noqa: E402
from sip_edge.testing import (  # noqa: E402
    find_session,
    frame_rms,
    last_entry_id,
    session_messages,
)
from sipphone import (  # noqa: E402
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Phone,
    PhoneCall,
    SipStack,
    poll_until,
)
from tts_worker.testing import packaged_kokoro  # noqa: E402

# Short questions, as a caller asks them on the phone, about the shipped facts file
# (compose/agent/fatos.toml); none asks for a transfer or says goodbye (that ends the call).
# A tuple of several parts is said with MID_PAUSE_S of silence between the parts.
QUESTIONS: tuple[tuple[str, ...], ...] = (
    ("Qual é o horário de funcionamento?",),
    ("Vocês abrem no sábado?",),
    ("Onde fica a empresa?",),
    ("Quanto custa o plano de 300 megas?",),
    ("Eu queria saber", "o horário de sábado."),
    ("Tem fidelidade?",),
    ("Quanto tempo leva", "a instalação?"),
    ("O plano de 600 megas", "vem com roteador?"),
)
MID_PAUSE_S = 0.35
PHONES = ("1001", "1003")  # desk phones of the shipped dialplan; --calls N takes the first N
VOICED_RMS = 300.0  # int16 RMS of a frame that counts as speech in the question itself
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


@dataclass
class Turn:
    call: int
    turn: int
    question: str
    latency_s: float
    phone: str = ""
    vad_s: float | None = None
    stt_s: float | None = None
    llm_s: float | None = None
    tts_s: float | None = None
    edge_s: float | None = None
    noise_floor_rms: float = 0.0
    transcript: str = ""
    first_clause: str = ""
    model_used: bool | None = None  # the LLM stage ran the model (False: facts/intent step)
    wasted_ms: int = 0  # speculative work thrown away in this turn (turn.timing)
    provisional_cancelled: int = 0
    provisional_s: float | None = None  # end of speech -> provisional utterance (speculation)


def kokoro_says(parts: tuple[str, ...]) -> npt.NDArray[Any]:
    """``parts`` spoken by the project's Kokoro, as int16 at 8 kHz, MID_PAUSE_S of silence
    between them (each part trimmed to its voiced frames, so the pause is exact)."""
    kokoro = packaged_kokoro()
    pause = np.zeros(int(MID_PAUSE_S * SAMPLE_RATE), dtype=np.int16)
    pieces: list[npt.NDArray[Any]] = []
    for i, text in enumerate(parts):
        spoken = asyncio.run(kokoro.synthesize(text, language="pt-BR"))
        pcm = b"".join(c.pcm for c in spoken.render(SAMPLE_RATE))
        x = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        if len(parts) > 1:
            voiced = np.nonzero(frame_rms(x.astype(np.float64)) > VOICED_RMS)[0]
            if len(voiced):
                first = int(voiced[0]) * FRAME_SAMPLES if i > 0 else 0
                last = len(x) if i == len(parts) - 1 else (int(voiced[-1]) + 1) * FRAME_SAMPLES
                x = x[first:last]
        if pieces:
            pieces.append(pause)
        pieces.append(x)
    return np.concatenate(pieces)


def voiced_end(samples: npt.NDArray[Any]) -> int:
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
) -> dict[str, Any]:
    """Stage durations (and what each stage said) of the turn whose utterances are new.

    With speculative start (``SIP_EDGE_SPECULATIVE_PAUSE_MS``) a turn may publish several
    provisional utterances: the cancelled ones are this turn's wasted work, the answered one
    is the last one not cancelled. Its ``vad_s`` is then the real end-of-turn wait (end of
    speech -> ``utterance.confirm``), ``provisional_s`` when the pipeline started on it, and
    ``edge_s`` runs from whichever came last, its first audio or the confirmation (the edge
    holds the audio until then)."""
    msgs = session_messages(r, sid)[1]
    new = [m for m in msgs if isinstance(m, Utterance) and m.utterance_id not in seen]
    seen.update(m.utterance_id for m in new)  # cancelled ones too: never the next turn's
    cancelled = {m.utterance_id for m in msgs if isinstance(m, UtteranceCancel)}
    utt = next((m for m in reversed(new) if m.utterance_id not in cancelled), None)
    out: dict[str, Any] = dict.fromkeys(("vad_s", "stt_s", "llm_s", "tts_s", "edge_s"))
    if utt is None:
        return out
    confirm = next(
        (m for m in msgs if isinstance(m, UtteranceConfirm) and m.utterance_id == utt.utterance_id),
        None,
    )
    this_turn = {m.utterance_id for m in new}
    for t in msgs:
        if not isinstance(t, TurnTiming) or t.utterance_id not in this_turn:
            continue
        # wasted work is reported on the cancelled provisional utterances' own timings
        out["wasted_ms"] = int(out.get("wasted_ms") or 0) + (t.wasted_ms or 0)
        if t.utterance_id == utt.utterance_id:
            if t.llm_first_token_ms is not None:  # only a turn that ran the model has it
                out["model_used"] = True
            if t.provisional_cancelled:
                out["provisional_cancelled"] = t.provisional_cancelled
    tr = next(
        (m for m in msgs if isinstance(m, Transcript) and m.utterance_id == utt.utterance_id),
        None,
    )
    if tr is None:
        return out
    out["transcript"] = tr.text
    t_tr = ts(tr)
    texts = [m for m in msgs if isinstance(m, ResponseText) and m.response_id != "greeting"]
    text = next((m for m in texts if ts(m) >= t_tr and m.text), None)
    audio = None
    if text is not None:
        out["first_clause"] = text.text
        audio = next(
            (m for m in msgs if isinstance(m, ResponseAudio) and m.response_id == text.response_id),
            None,
        )
    out["vad_s"] = (ts(confirm) if confirm is not None else ts(utt)) - end_wall
    if confirm is not None:
        out["provisional_s"] = ts(utt) - end_wall
    out["stt_s"] = t_tr - ts(utt)
    if text is not None:
        out["llm_s"] = ts(text) - t_tr
        if audio is not None:
            out["tts_s"] = ts(audio) - ts(text)
            released = max(ts(audio), ts(confirm)) if confirm is not None else ts(audio)
            out["edge_s"] = onset_wall - released
        out.setdefault("model_used", False)
    return out


@dataclass
class Caller:
    """One phone's call to 2000 and where it stands in the current turn."""

    index: int
    phone: Phone
    call: PhoneCall | None = None
    sid: str = ""
    seen: set[str] = field(default_factory=set)
    # per turn
    floor: float = 0.0
    threshold: float = 60.0
    end: int = 0
    end_wall: float = 0.0
    onset: int | None = None


def start_calls(callers: list[Caller], r: redis.Redis) -> None:
    after = last_entry_id(r, layout.work_stream(layout.Stage.LLM))
    for c in callers:
        c.call = c.phone.call("2000")
        c.seen = set()
    for c in callers:
        assert c.call is not None
        c.call.wait_confirmed(20)
        c.sid = find_session(r, after, c.phone.user, timeout=20)
    for c in callers:
        assert c.call is not None

        def greeted(call: PhoneCall = c.call) -> bool:
            return int((frame_rms(call.recording()) > VOICED_RMS).sum()) >= 25

        poll_until(greeted, 90, "greeting")
    for c in callers:
        assert c.call is not None
        wait_quiet(c.call, 0, 2.0, 120, VOICED_RMS)


def end_calls(callers: list[Caller]) -> None:
    for c in callers:
        if c.call is not None:
            try:
                c.call.hangup()
                c.call.wait_disconnected(10)
            except Exception as e:  # a call that already ended
                print(f"hang-up of {c.phone.user}: {e}", flush=True)
            c.call = None


def run_calls(
    callers: list[Caller],
    r: redis.Redis,
    n: int,
    turns: int,
    questions: list[tuple[str, npt.NDArray[Any]]],
    answer_timeout: float,
) -> list[Turn]:
    """``turns`` turns on new calls, every caller asking at the same moment."""
    start_calls(callers, r)
    results: list[Turn] = []
    try:
        for k in range(turns):
            for c in callers:
                assert c.call is not None
                text, q = questions[(n * turns + k + c.index) % len(questions)]
                # The line's noise floor: the last second before the question.
                quiet = frame_rms(c.call.recording()[-SAMPLE_RATE:])
                c.floor = float(np.percentile(quiet, 95)) if len(quiet) else 0.0
                c.threshold = max(4.0 * c.floor, 60.0)
                mark = len(c.call.recording())
                play_wall = time.time()
                c.call.play(q)
                c.end = mark + voiced_end(q)
                c.end_wall = play_wall + voiced_end(q) / SAMPLE_RATE
                c.onset = None
            missed = False
            for c in callers:
                assert c.call is not None
                text, q = questions[(n * turns + k + c.index) % len(questions)]
                c.call.wait_played(30)
                try:
                    c.onset = wait_onset(c.call, c.end, c.threshold, answer_timeout)
                except TimeoutError:
                    print(
                        f"call {n + 1} turn {k + 1} phone {c.phone.user}: NO ANSWER within "
                        f"{answer_timeout:.0f} s",
                        flush=True,
                    )
                    results.append(
                        Turn(
                            n + 1,
                            k + 1,
                            text,
                            float("nan"),
                            phone=c.phone.user,
                            noise_floor_rms=c.floor,
                        )
                    )
                    missed = True
            for c in callers:
                assert c.call is not None
                if c.onset is None:
                    continue
                text, q = questions[(n * turns + k + c.index) % len(questions)]
                latency = (c.onset - c.end) / SAMPLE_RATE
                onset_wall = c.end_wall + latency
                # Let the whole answer play (speaking over it would be a barge-in).
                wait_quiet(c.call, c.onset, 2.0, 180, c.threshold)
                shares = stage_shares(r, c.sid, c.seen, c.end_wall, onset_wall)
                turn = Turn(
                    n + 1,
                    k + 1,
                    text,
                    latency,
                    phone=c.phone.user,
                    noise_floor_rms=c.floor,
                    **shares,
                )
                results.append(turn)
                print(
                    f"call {n + 1} turn {k + 1} phone {c.phone.user}: {latency:.2f} s  "
                    + "  ".join(
                        f"{s[:-2]}={v:.2f}"
                        for s, v in shares.items()
                        if s.endswith("_s") and isinstance(v, float)
                    )
                    + (
                        ""
                        if shares.get("model_used") is None
                        else f"  model={'yes' if shares.get('model_used') else 'no'}"
                    ),
                    flush=True,
                )
            if missed:
                break  # new calls for the next turns
    finally:
        end_calls(callers)
    return results


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values), p))


def workers_env() -> dict[str, str]:
    """The settings `make up` gives the workers: compose/.env plus scripts/workers.sh env."""
    env = dict(os.environ)
    env.update(read_env())
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "workers.sh"), "env"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    for line in out.splitlines():
        if "=" in line:
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip()
    return env


async def time_alone(
    turns: list[Turn], questions: dict[str, npt.NDArray[Any]]
) -> dict[str, list[float]]:
    """Each stage timed alone, in this process, with the workers' settings (module doc)."""
    from llm_worker.events import ChatRequest, Message
    from llm_worker.facts import system_prompt
    from llm_worker.facts_store import load_facts
    from llm_worker.persona import load_persona
    from llm_worker.providers import create_provider
    from llm_worker.reply import ReplyTimings, reply
    from llm_worker.settings import Settings as LLMSettings
    from stt_worker.providers import build_provider
    from stt_worker.settings import STTSettings
    from tts_worker.providers import build_tts
    from tts_worker.settings import TTSSettings

    env = workers_env()
    out: dict[str, list[float]] = {"stt_s": [], "llm_s": [], "tts_s": []}

    stt = build_provider(STTSettings.from_env(env))
    await asyncio.to_thread(stt.load)
    await asyncio.to_thread(stt.warm_up)
    for t in turns:
        pcm = questions[t.question].astype("<i2").tobytes()
        started = time.perf_counter()
        await stt.transcribe(pcm, SAMPLE_RATE)
        out["stt_s"].append(time.perf_counter() - started)
    del stt

    tts = build_tts(TTSSettings.from_env(env))
    await asyncio.to_thread(tts.load)
    await asyncio.to_thread(tts.warm_up)
    for t in turns:
        if t.tts_s is None:
            continue
        if not t.first_clause or t.tts_s < 0.05:  # served from the phrase cache live
            out["tts_s"].append(t.tts_s)
            continue
        started = time.perf_counter()
        syn = await tts.synthesize(t.first_clause, language="pt-BR")
        syn.render(SAMPLE_RATE)
        out["tts_s"].append(time.perf_counter() - started)
    del tts

    ls = LLMSettings.from_env(env)
    model_turns = [t for t in turns if t.model_used and t.transcript]
    for t in turns:
        if t.llm_s is not None and not t.model_used:
            out["llm_s"].append(t.llm_s)  # answered without the model: its live time
    if model_turns:
        provider = create_provider(ls)
        await provider.start()
        persona = load_persona(ls.persona_path or None)
        facts = load_facts(env.get("LLM_FACTS_PATH") or None)
        system = system_prompt(persona.system_prompt, facts)
        await provider.warm_up(system)
        for i, t in enumerate(model_turns):
            req = ChatRequest(
                system=system,
                messages=(Message("user", t.transcript),),
                max_tokens=ls.max_tokens,
                temperature=ls.temperature,
                conversation_id=f"alone-{i}",
                transfer_targets=facts.extensions,
            )
            timings = ReplyTimings()
            splitter = sentence_splitter(ls)
            gen = reply(
                provider,
                req,
                apology=persona.apology,
                splitter=splitter,
                timings=timings,
                max_sentences=1,
            )
            async for _ in gen:
                break  # the first clause is what the TTS waits for
            await gen.aclose()
            if timings.first_sentence_s is not None:
                out["llm_s"].append(timings.first_sentence_s)
        await provider.aclose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=40, help="measured turns in all")
    ap.add_argument("--turns-per-call", type=int, default=5)
    ap.add_argument(
        "--calls", type=int, default=1, choices=range(1, len(PHONES) + 1), help="simultaneous calls"
    )
    ap.add_argument("--warmup", type=int, default=1, help="first turns of each phone, not counted")
    ap.add_argument("--answer-timeout", type=float, default=60.0)
    ap.add_argument("--max-failures", type=int, default=5)
    ap.add_argument("--no-alone", action="store_true", help="skip the stages timed alone")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    t0 = time.monotonic()
    questions = [(" ".join(parts), kokoro_says(parts)) for parts in QUESTIONS]
    print(f"questions synthesized by Kokoro in {time.monotonic() - t0:.1f} s", flush=True)
    env = read_env()
    # make up's Redis as the operator reaches it (scripts/redis.sh url: the ops ACL user of
    # make up's own Redis, or no password where make up found an open one on 6379)
    url = subprocess.run(
        ["bash", str(REPO / "scripts" / "redis.sh"), "url", "ops"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    r = redis.Redis.from_url(url)
    stack = SipStack()
    turns: list[Turn] = []
    started_at = datetime.now().isoformat(timespec="seconds")
    load_before = os.getloadavg()
    try:
        callers: list[Caller] = []
        for i, user in enumerate(PHONES[: args.calls]):
            phone = stack.add_phone(user, env[f"EXT_{user}_PASSWORD"])
            if phone.reg_status != 200:
                print(f"FAIL: {user} did not register ({phone.reg_status})")
                return 1
            callers.append(Caller(i, phone))
        n = 0
        want = args.turns + args.warmup * args.calls

        def answered() -> int:
            return len([t for t in turns if t.latency_s == t.latency_s])

        while answered() < want:
            if len([t for t in turns if t.latency_s != t.latency_s]) > args.max_failures:
                print("FAIL: too many turns without an answer")
                return 1
            left = -(-(want - answered()) // args.calls)
            k = min(args.turns_per_call, left)
            turns += run_calls(callers, r, n, k, questions, args.answer_timeout)
            n += 1
    finally:
        stack.hangup_all()
        stack.close()
        r.close()
    load_after = os.getloadavg()

    failed = [t for t in turns if t.latency_s != t.latency_s]
    ok = [t for t in turns if t.latency_s == t.latency_s]
    warm_keys = set()
    for user in PHONES[: args.calls]:
        mine = [t for t in ok if t.phone == user][: args.warmup]
        warm_keys |= {(t.phone, t.call, t.turn) for t in mine}
    warm = [t for t in ok if (t.phone, t.call, t.turn) in warm_keys]
    turns = [t for t in ok if (t.phone, t.call, t.turn) not in warm_keys]
    lat = [t.latency_s for t in turns]
    paused_texts = {" ".join(q) for q in QUESTIONS if len(q) > 1}
    paused = [t.latency_s for t in turns if t.question in paused_texts]
    summary: dict[str, object] = {
        "started": started_at,
        "calls_at_once": args.calls,
        "turns": len(turns),
        "distinct_questions": len({t.question for t in turns}),
        "warmup_s": [round(t.latency_s, 3) for t in warm],
        "unanswered_turns": len(failed),
        "calls": n * args.calls,
        "p50_s": round(pct(lat, 50), 3),
        "p95_s": round(pct(lat, 95), 3),
        "min_s": round(min(lat), 3),
        "max_s": round(max(lat), 3),
        "mean_s": round(statistics.fmean(lat), 3),
        "p50_s_paused_questions": round(pct(paused, 50), 3) if paused else None,
        "model_turns": len([t for t in turns if t.model_used]),
        "speculative_wasted_ms": sum(t.wasted_ms for t in turns),
        "provisional_cancelled": sum(t.provisional_cancelled for t in turns),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "machine": f"{platform.machine()} {platform.processor()} {os.cpu_count()} CPUs".strip(),
    }
    for stage in ("vad_s", "stt_s", "llm_s", "tts_s", "edge_s"):
        vals = [getattr(t, stage) for t in turns if getattr(t, stage) is not None]
        if vals:
            summary[f"{stage}_p50"] = round(pct(vals, 50), 3)
    if not args.no_alone and turns:
        audio = dict(questions)
        alone = asyncio.run(time_alone(turns, audio))
        parts: dict[str, float] = {}
        for stage in ("vad_s", "edge_s"):
            vals = [getattr(t, stage) for t in turns if getattr(t, stage) is not None]
            parts[stage] = pct(vals, 50) if vals else 0.0
        for stage, vals in alone.items():
            parts[stage] = pct(vals, 50) if vals else 0.0
        total = sum(parts.values())
        summary["alone_p50_s"] = {k: round(v, 3) for k, v in parts.items()}
        summary["alone_sum_s"] = round(total, 3)
        summary["live_over_alone"] = round(pct(lat, 50) / total, 2) if total else None
    print(json.dumps(summary, indent=2, ensure_ascii=False))
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
                ensure_ascii=False,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
