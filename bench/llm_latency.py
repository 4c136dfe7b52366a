"""LLM stage latency: time to first token and to first sentence.

    .venv/bin/python bench/llm_latency.py [--runs N] [--only fake|smollm2|qwen]

* fake-anthropic: the real ``anthropic`` SDK against the fake Messages server on 127.0.0.1
  answering instantly: what the SDK, HTTP, SSE parsing, the base class and the splitter cost;
* local providers (llama.cpp, CPU): the packaged Qwen2.5-Coder-1.5B Q4_K_M (the offline
  default) and SmolLM2-135M, with the packaged pt-BR persona and Portuguese questions.
  The first run is "cold" (the system prompt is evaluated); then, as a worker does at
  start, ``warm_up`` evaluates the system prompt once and later turns reuse llama.cpp's
  prompt cache.

Prints a Markdown table (p50/p95 in ms) to paste into docs/perf/llm.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from llm_worker.events import ChatRequest, Message
from llm_worker.persona import load_persona
from llm_worker.providers.anthropic import AnthropicProvider
from llm_worker.providers.base import LLMProvider
from llm_worker.providers.local import (
    SMALL_MODEL_FILE,
    LocalProvider,
    default_model_path,
    models_dir,
)
from llm_worker.reply import ReplyTimings, reply
from llm_worker.testing import FakeAnthropicServer, Text

QUESTIONS = [
    "Qual é o horário de funcionamento de vocês?",
    "Vocês abrem no sábado?",
    "Eu queria falar com alguém do financeiro.",
    "Onde fica a empresa?",
    "Quanto custa o plano básico?",
]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def measure(
    provider: LLMProvider, runs: int, persona_prompt: str, apology: str
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"ttft": [], "first_sentence": [], "total": []}
    for i in range(runs):
        question = Message("user", QUESTIONS[i % len(QUESTIONS)])
        req = ChatRequest(system=persona_prompt, messages=(question,), max_tokens=60)
        t = ReplyTimings()
        async for _ in reply(provider, req, apology=apology, timings=t):
            pass
        if t.error:
            print(f"  run {i}: error {t.error}", file=sys.stderr)
            continue
        assert t.ttft_s is not None
        assert t.first_sentence_s is not None
        assert t.finished is not None
        out["ttft"].append(t.ttft_s * 1000)
        out["first_sentence"].append(t.first_sentence_s * 1000)
        out["total"].append((t.finished - t.started) * 1000)
    return out


def row(name: str, res: dict[str, list[float]], note: str = "") -> str:
    if not res["ttft"]:
        return f"| {name} | - | - | - | - | 0 | {note} |"
    return (
        f"| {name} | {statistics.median(res['ttft']):.1f} | {pct(res['ttft'], 95):.1f} "
        f"| {statistics.median(res['first_sentence']):.1f} | {pct(res['first_sentence'], 95):.1f} "
        f"| {len(res['ttft'])} | {note} |"
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--only", choices=["fake", "smollm2", "qwen"])
    args = ap.parse_args()
    persona = load_persona()
    rows = []
    if args.only in (None, "fake"):
        answer = Text(("Olá, ", "aqui é a recepção. ", "Em que posso ajudar?"))
        async with FakeAnthropicServer(default=answer) as srv:
            p = AnthropicProvider(api_key="bench", base_url=srv.url)
            await measure(p, 5, persona.system_prompt, persona.apology)  # warm-up
            res = await measure(p, max(args.runs, 50), persona.system_prompt, persona.apology)
            rows.append(
                row("fake Anthropic (SDK + SSE + splitter)", res, "instant server on 127.0.0.1")
            )
            await p.aclose()
    for key, path in (("smollm2", models_dir() / SMALL_MODEL_FILE), ("qwen", default_model_path())):
        if args.only not in (None, key):
            continue
        if not await asyncio.to_thread(Path(path).is_file):
            rows.append(row(key, {"ttft": []}, f"missing {path}"))
            continue
        local = LocalProvider(model_path=path, n_threads=int(os.environ.get("LLM_N_THREADS", "2")))
        t0 = time.monotonic()
        await local.start()
        load_ms = (time.monotonic() - t0) * 1000
        cold = await measure(local, 1, persona.system_prompt, persona.apology)
        rows.append(row(f"{path.name} cold", cold, f"model load {load_ms:.0f} ms before"))
        # What a worker does at start: evaluate another system prompt once (warm_up),
        # then serve turns with it.
        other = persona.system_prompt + "\nSeja cordial."
        t0 = time.monotonic()
        await local.warm_up(other)
        warm_ms = (time.monotonic() - t0) * 1000
        first = await measure(local, 1, other, persona.apology)
        rows.append(
            row(
                f"{path.name} 1st turn after warm_up",
                first,
                f"warm_up took {warm_ms:.0f} ms at start",
            )
        )
        warm = await measure(local, args.runs, other, persona.apology)
        rows.append(row(f"{path.name} warm", warm, "system prompt cached"))
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average at the end "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(
        "| provider | TTFT p50 ms | TTFT p95 ms | 1st sentence p50 ms | 1st sentence p95 ms "
        "| runs | note |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(r)


if __name__ == "__main__":
    asyncio.run(main())
