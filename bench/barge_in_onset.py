"""The VAD's share of a spoken barge-in: from the interruption's soft onset to the frame at
which sip-edge's turn-taking code stops the answer (offline, no network).

    .venv/bin/python bench/barge_in_onset.py [--guard-ms 120] [--configs 0:0,60:1] [--erl 0]
        [--json out.json]

Interruptions ("Espera, espera...", and three more) are said by the project's Kokoro (the
tts-worker's packaged model) in its three pt-BR voices, rendered at 8 kHz as the tests' phone
plays them (kokoro_says), at Kokoro's own level and scaled to -26 and -36 dBov active level;
each starts at four phases of the 20 ms frame clock (0, 5, 10, 15 ms), 1.5 s into the answer.
While it is said, the agent plays a Kokoro answer (pm_alex), with no echo (as through
Asterisk to the tests' phone) or, with ``--erl``, its echo coming back at that echo return
loss (bench/vad_false_triggers.EchoPath); everything goes through G.711 mu-law. The clips
are cached in $PABX_CACHE/bench/barge-in.npz.

Onset: the clip's first 5 ms window at -50 dBov or more (tests/support/barge_support). The
time reported is from that onset to the end of the 20 ms frame whose arrival made
``Turns.on_caller_frame`` return the BargeIn; the test through Asterisk
(test_conversation.py::test_a_spoken_interruption_stops_a_kokoro_answer_within_200_ms) adds
the jitter buffers and bridges of both directions to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_support import NpzStore, use_test_support
from pipeline.envparse import cache_dir

use_test_support()

from barge_support import speech_onset  # noqa: E402
from sip_edge.call import Pacer, Segmenter, SegmenterParams, Turns  # noqa: E402
from sip_edge.call.events import BargeIn  # noqa: E402
from sip_edge.settings import Settings as EdgeSettings  # noqa: E402
from sip_edge.vad import make_classifier  # noqa: E402
from vad_false_triggers import EchoPath, active_scale, to_frames  # noqa: E402

RATE = 8000
FRAME = 160
INTERRUPTIONS = ("Espera, espera...", "Não, espera aí.", "Peraí, peraí.", "Só um minuto.")
VOICES = ("pf_dora", "pm_alex", "pm_santa")
AGENT_TEXT = (
    "Temos vários planos para empresas pequenas e grandes e eu posso explicar cada um "
    "deles agora mesmo para você."
)
PHASES_MS = (0, 5, 10, 15)
LEAD_S = 1.5


class Clips:
    """Kokoro's speech at 8 kHz, cached in an npz (a second run synthesizes nothing)."""

    def __init__(self, path: Path) -> None:
        self.store = NpzStore(path)

    def say(self, text: str, voice: str) -> npt.NDArray[Any]:
        key = f"{voice}|{text}"
        if key not in self.store:
            from tts_worker.testing import packaged_kokoro

            spoken = asyncio.run(packaged_kokoro().synthesize(text, language="pt-BR", voice=voice))
            pcm = b"".join(c.pcm for c in spoken.render(RATE))
            self.store[key] = np.frombuffer(pcm, dtype="<i2").copy()
        return self.store[key].astype(np.float64)

    def save(self) -> None:
        self.store.save()


def barge_in_ms(
    clip: npt.NDArray[Any],
    agent: bytes,
    phase_ms: int,
    guard_ms: int,
    onset_ms: int,
    learn: bool,
    erl_db: float,
    hold_ms: int = 0,
) -> float | None:
    """ms from the clip's onset to the end of the frame that stopped the answer (None: it
    never stopped). With ``hold_ms`` the answer stops where playback was held for good: the
    hold that the barge-in confirmed (an earlier hold that resumed does not count)."""
    lead = int(LEAD_S * RATE) + phase_ms * RATE // 1000
    caller = np.concatenate([np.zeros(lead), clip, np.zeros(RATE)])
    onset = lead + speech_onset(clip.astype(np.int16))
    clf = make_classifier("gate", RATE)
    pacer = Pacer(FRAME * 2, high_water_ms=10**9)
    turns = Turns(Segmenter(SegmenterParams()), pacer, guard_ms, 6.0, onset_ms, learn, 0, hold_ms)
    held_at: int | None = None
    pacer.push("answer", 0, agent, True)
    echo = EchoPath(erl_db, 60.0, np.random.default_rng(7)) if erl_db else None
    played = bytes(FRAME * 2)
    n = len(caller) // FRAME
    for i in range(n):
        x = caller[i * FRAME : (i + 1) * FRAME]
        if echo is not None:
            x = x + echo.frame(played)
        f = to_frames(x)[0]
        p = clf.probability(f)
        actions = turns.on_caller_frame(f, p, clf.deferred)
        if any(isinstance(a, BargeIn) for a in actions):  # the cut clears the hold
            stop = i if held_at is None else held_at
            return ((stop + 1) * FRAME - onset) * 1000 / RATE
        held_at = (i if held_at is None else held_at) if pacer.held else None
        played = turns.next_playout_frame()
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guard-ms", default="120", help="barge-in guards to compare (ms)")
    ap.add_argument("--hold-ms", type=int, default=EdgeSettings().barge_in_hold_ms,
                    help="playback pauses at this much speech (SIP_EDGE_BARGE_IN_HOLD_MS; "
                         "0: the answer stops at the barge-in)")  # fmt: skip
    ap.add_argument("--configs", default="0:0,60:0,0:1,60:1",
                    help="ONSET_MS:LEARN pairs to compare: the soft onset the guard counts "
                         "(SIP_EDGE_BARGE_IN_ONSET_MS) and whether the echo guard learns the "
                         "line (SIP_EDGE_ECHO_GUARD_LEARN); 0:0 is the code before both",
                    )  # fmt: skip
    ap.add_argument("--erl", type=float, default=0.0,
                    help="echo return loss of the agent's echo in dB (0: no echo, as through "
                         "Asterisk to a test phone)")  # fmt: skip
    ap.add_argument("--json", type=Path)
    ap.add_argument("--audio-cache", type=Path, default=cache_dir() / "bench" / "barge-in.npz")
    args = ap.parse_args()
    guards = [(int(g), int(c.split(":")[0]), c.split(":")[1] == "1")
              for g in args.guard_ms.split(",") for c in args.configs.split(",")]  # fmt: skip
    clips = Clips(args.audio_cache)
    agent = np.clip(clips.say(AGENT_TEXT, "pm_alex"), -32768, 32767).astype("<i2").tobytes()
    levels: dict[str, float | None] = {"Kokoro's own": None, "-26 dBov": -26.0, "-36 dBov": -36.0}
    rows = []
    for text in INTERRUPTIONS:
        for voice in VOICES:
            raw = clips.say(text, voice)
            for level_name, level in levels.items():
                clip = raw if level is None else active_scale(raw, level)
                for guard, onset, learn in guards:
                    times = [barge_in_ms(clip, agent, ph, guard, onset, learn, args.erl,
                                         args.hold_ms)
                             for ph in PHASES_MS]  # fmt: skip
                    rows.append({"text": text, "voice": voice, "level": level_name,
                                 "guard_ms": guard, "onset_ms": onset, "learn": learn,
                                 "ms": times})  # fmt: skip
    clips.save()
    print(f"echo: {f'ERL {args.erl:g} dB' if args.erl else 'none'}; hold {args.hold_ms} ms")
    print("| guard ms | soft onset ms | echo learnt | level | n | missed | p50 ms | p90 ms "
          "| max ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    summary = []
    for guard, onset, learn in guards:
        for level_name in levels:
            ms = [t for r in rows if (r["guard_ms"], r["onset_ms"], r["learn"]) ==
                  (guard, onset, learn) and r["level"] == level_name for t in r["ms"]]  # fmt: skip
            got = sorted(t for t in ms if t is not None)
            missed = len(ms) - len(got)
            p90 = got[int(0.9 * (len(got) - 1))] if got else float("nan")
            med = statistics.median(got) if got else float("nan")
            mx = got[-1] if got else float("nan")
            summary.append({"guard_ms": guard, "onset_ms": onset, "learn": learn,
                            "level": level_name,
                            "n": len(ms), "missed": missed, "p50": med, "p90": p90,
                            "max": mx})  # fmt: skip
            learnt = "yes" if learn else "no"
            print(f"| {guard} | {onset} | {learnt} | {level_name} | {len(ms)} | {missed} "
                  f"| {med:.0f} | {p90:.0f} | {mx:.0f} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
