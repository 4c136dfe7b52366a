"""Failure drills through the real Asterisk, N of each kind (issue 14 item 5): the table of
docs/perf/reliability.md.

    .venv/bin/python bench/drills.py --per-kind 20 [--kinds kill-llm,freeze-redis] [--json out]
    .venv/bin/python bench/drills.py --merge a.json b.json   # one table from runs of --json
    .venv/bin/python bench/drills.py --engines real --per-kind 1   # the engines of make up

Each drill is one call from a PJSUA2 phone (1001) to the agent (2000) with a fault in the
middle of the answer, then a second turn once the fault is undone (tests/support/drills.py:
the rig, the kinds, how a turn is judged at the phone). Asterisk runs with the loopback/test
profile under /tmp/pabx-asterisk.lock, as the tests do; the workers use their fake engines,
or with ``--engines real`` the ones ``make up`` runs offline (faster-whisper, the local
model with the shipped facts, Kokoro; the question is then answered from the facts, see
tests/support/drills.py).

The table: per kind, the drills, the turns that ended in speech at the phone out of all, the
utterances lost (neither a transcript nor an apology), and the longest silence the phone
heard between the fault and the end of that turn (p50 and max over the drills; for
kill-edge, the time until the dead edge's call ended at the phone).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from drills import ENGINES, KINDS, DrillResult, Rig, run_drill  # noqa: E402
from pbx_support import locked_asterisk, read_env, release_calls  # noqa: E402
from sipphone import SipStack  # noqa: E402


def table(results: list[DrillResult]) -> str:
    rows = [
        "| Tipo | Exercícios | Turnos que terminaram em fala / total | Falas perdidas "
        "| Maior silêncio após a falha p50 / máx (s) |",
        "|---|---|---|---|---|",
    ]
    for kind in dict.fromkeys(r.kind for r in results):
        rs = [r for r in results if r.kind == kind]
        if kind == "kill-edge":
            xs = [r.call_end_s for r in rs if r.call_end_s is not None]
        else:
            xs = [r.silence_after_fault_s for r in rs if r.silence_after_fault_s is not None]
        spread = f"{np.median(xs):.1f} / {max(xs):.1f}" if xs else "—"
        if kind == "kill-edge":
            spread += f" (fim da chamada; {len(xs)}/{len(rs)} encerradas)"
        rows.append(
            f"| {kind} | {len(rs)} | {sum(r.spoken for r in rs)} / {sum(r.turns for r in rs)} "
            f"| {sum(r.lost for r in rs)} de {sum(r.utterances for r in rs)} | {spread} |"
        )
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-kind", type=int, default=20)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument(
        "--engines",
        choices=ENGINES,
        default="fake",
        help="the workers' engines: fake (tones, fixed texts) or real (those of make up)",
    )
    ap.add_argument("--json", type=Path, help="every drill's result, one object each")
    ap.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="print the table of earlier runs' --json files (e.g. one run per kind) and exit",
    )
    args = ap.parse_args()
    if args.merge:
        merged = [DrillResult(**d) for f in args.merge for d in json.loads(f.read_text())]
        print(table(merged))
        return 0 if all(r.ok for r in merged) else 1
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        ap.error(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    results: list[DrillResult] = []
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="pabx-drills-"))
    print(f"logs in {folder}; engines: {args.engines}", file=sys.stderr)
    with locked_asterisk(timeout=1800):
        env = read_env()
        stack = SipStack()
        try:
            phone = stack.add_phone("1001", env["EXT_1001_PASSWORD"])
            with Rig(folder, phone, env["EXT_2000_PASSWORD"], args.engines) as rig:
                for kind in kinds:
                    for i in range(args.per_kind):
                        t0 = time.monotonic()
                        try:
                            result = run_drill(rig, kind)
                        except Exception as e:  # a drill that broke counts, as silent
                            result = DrillResult(kind, turns=1, notes=[f"broke: {e!r}"])
                        release_calls(stack)
                        results.append(result)
                        print(
                            f"{kind} #{i + 1}: {result.spoken}/{result.turns} in speech, "
                            f"{result.lost} lost, {time.monotonic() - t0:.0f} s; "
                            f"{'; '.join(result.notes)}",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            release_calls(stack)
            stack.close()
    if args.json:
        args.json.write_text(
            json.dumps([r.__dict__ for r in results], ensure_ascii=False, indent=1)
        )
    print(table(results))
    print(
        f"\n{len(results)} exercícios em {(time.monotonic() - started) / 60:.1f} min "
        f"(motores {'reais' if args.engines == 'real' else 'falsos'})"
    )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
