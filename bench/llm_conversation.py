"""Local LLM over a whole call: what each turn costs in prompt evaluation.

    .venv/bin/python bench/llm_conversation.py [--model qwen|smollm2] [--turns 6]
        [--only single|interleaved] [--threads N]

A 6-turn Portuguese conversation goes through the local provider exactly as the worker
sends it: the packaged persona with the tools text, the history in the form the worker
keeps in Redis (what the caller heard, see ``History``), ``reply()`` with the worker's
splitter and sentence cap, temperature 0. Per turn it prints the prompt length, how many
prompt tokens llama.cpp actually evaluated (its own perf counters), the prompt-evaluation
time, the time to the first token and to the first piece handed to the TTS.

Modes, on one loaded model:

* ``no reuse``: the context is reset before each turn, i.e. the whole history is evaluated
  every turn (what a turn would cost without any prefix reuse);
* ``cache off`` (``LLM_STATE_CACHE_MB=0``): only llama.cpp's own reuse of the prefix it
  evaluated last, as before the state cache;
* ``cache on``: the per-conversation state cache (the default, 256 MB).

Scenarios: ``single`` (one call) and ``interleaved`` (two calls taking turns on the same
worker, A1 B1 A2 B2 ...: what a worker with concurrent calls sees). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from dataclasses import dataclass

import llama_cpp
from bench_support import sentence_splitter
from llm_worker.events import ChatRequest
from llm_worker.history import History
from llm_worker.persona import load_persona
from llm_worker.providers.local import (
    SMALL_MODEL_FILE,
    LocalProvider,
    default_model_path,
    models_dir,
)
from llm_worker.reply import ReplySentence, ReplyTimings, reply
from llm_worker.settings import Settings

CALLS = {
    "A": [
        "Bom dia, qual é o horário de funcionamento de vocês?",
        "E aos sábados, vocês abrem?",
        "Certo. E onde fica a empresa?",
        "Tem estacionamento no local?",
        "Preciso falar com alguém sobre uma cobrança.",
        "Tudo bem, obrigado pela ajuda.",
    ],
    "B": [
        "Boa tarde, eu queria saber o preço do plano básico.",
        "E o plano completo, o que inclui?",
        "Vocês aceitam cartão de crédito?",
        "Quanto tempo demora a instalação?",
        "Posso agendar uma visita técnica?",
        "Então é só isso, até logo.",
    ],
}


@dataclass
class Turn:
    call: str
    n: int
    tokens: int
    evaluated: int
    eval_ms: float
    ttft_ms: float
    first_piece_ms: float
    restored: bool
    answer: str


async def run(
    provider: LocalProvider, order: list[tuple[str, int]], mode: str, settings: Settings
) -> list[Turn]:
    persona = load_persona()
    engine = provider.engine()
    llm = engine.llm
    llm.reset()  # every mode starts from an empty context
    engine.live_key = ""
    histories = {call: History(settings.max_history_turns) for call in CALLS}
    out: list[Turn] = []
    for call, n in order:
        history = histories[call]
        history.add_user(CALLS[call][n])
        request = ChatRequest(
            system=persona.system_prompt,
            messages=history.for_request(),
            max_tokens=settings.max_tokens,
            temperature=0.0,
            conversation_id=call,
        )
        if mode == "no reuse":
            llm.reset()
        llama_cpp.llama_perf_context_reset(llm.ctx)
        timings = ReplyTimings()
        splitter = sentence_splitter(settings)
        spoken = [
            e.text
            async for e in reply(
                provider,
                request,
                apology=persona.apology,
                splitter=splitter,
                timings=timings,
                max_sentences=settings.max_sentences,
            )
            if isinstance(e, ReplySentence)
        ]
        perf = llama_cpp.llama_perf_context(llm.ctx)
        history.add_reply(spoken)
        stats = provider.last_prompt
        assert stats is not None
        assert timings.ttft_s is not None
        assert timings.first_sentence_s is not None
        out.append(
            Turn(
                call,
                n + 1,
                stats.tokens,
                # llama.cpp reports at least 1; a 1-token suffix counts as a generation step
                perf.n_p_eval if perf.t_p_eval_ms > 0 else 0,
                perf.t_p_eval_ms,
                timings.ttft_s * 1000,
                timings.first_sentence_s * 1000,
                stats.restored,
                " ".join(spoken),
            )
        )
    return out


def table(title: str, results: dict[str, list[Turn]]) -> str:
    modes = list(results)
    lines = [
        f"**{title}** — por turno: tokens do prompt; para cada modo, tokens avaliados / "
        "tempo de avaliação do prompt ms / TTFT ms",
        "",
        "| turno | tokens do prompt | " + " | ".join(modes) + " |",
        "|---|---|" + "---|" * len(modes),
    ]
    for i, first in enumerate(results[modes[0]]):
        cells = []
        for mode in modes:
            t = results[mode][i]
            mark = " (restaurado)" if t.restored else ""
            cells.append(f"{t.evaluated} / {t.eval_ms:.0f} / {t.ttft_ms:.0f}{mark}")
        lines.append(f"| {first.call}{first.n} | {first.tokens} | " + " | ".join(cells) + " |")
    sums = []
    for mode in modes:
        turns = results[mode][1:] if len(results[mode]) > 1 else results[mode]
        sums.append(
            f"{sum(t.evaluated for t in turns)} / {sum(t.eval_ms for t in turns):.0f} / "
            f"p50 {statistics.median(t.ttft_ms for t in turns):.0f}"
        )
    lines.append("| soma (sem o 1º turno) | | " + " | ".join(sums) + " |")
    return "\n".join(lines)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["qwen", "smollm2"], default="qwen")
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--only", choices=["single", "interleaved"])
    ap.add_argument("--threads", type=int, default=int(os.environ.get("LLM_N_THREADS", "1")))
    ap.add_argument("--show-answers", action="store_true")
    args = ap.parse_args()
    settings = Settings.from_env({})
    path = default_model_path() if args.model == "qwen" else models_dir() / SMALL_MODEL_FILE
    kw = {"model_path": path, "n_threads": args.threads, "n_ctx": settings.n_ctx}
    provider = LocalProvider(state_cache_mb=256, **kw)
    t0 = time.monotonic()
    await provider.start()
    load_s = time.monotonic() - t0
    scenarios = {
        "single": [("A", n) for n in range(args.turns)],
        "interleaved": [(c, n) for n in range(args.turns) for c in "AB"],
    }
    out = []
    for name, order in scenarios.items():
        if args.only not in (None, name):
            continue
        results: dict[str, list[Turn]] = {}
        modes = ["cache off", "cache on"]
        if name == "single":
            modes.insert(0, "no reuse")
        for mode in modes:
            states = provider.engine().states
            states.clear()
            states.max_bytes = 256 * 1024 * 1024 if mode == "cache on" else 0
            results[mode] = await run(provider, order, mode, settings)
            if args.show_answers:
                for t in results[mode]:
                    print(f"  [{mode}] {t.call}{t.n}: {t.answer}")
        out.append(table(f"{name} ({path.name}, {args.threads} threads)", results))
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, llama-cpp-python {llama_cpp.__version__}, "
        f"model load {load_s:.1f} s, load average at the end "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print("\n\n".join(out))


if __name__ == "__main__":
    asyncio.run(main())
