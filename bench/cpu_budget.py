"""Local LLM and Kokoro on the same cores: thread counts and the first-clause hold.

    .venv/bin/python bench/cpu_budget.py [--reps 3] [--tokens 40]

On a small host the llm-worker generates the rest of a reply while the tts-worker
synthesizes its first clause. This measures, in one process with the real engines (Qwen
2.5 1.5B through llama.cpp, Kokoro int8 through ONNX Runtime with TTS_THREADS=2):

* llama.cpp generation speed (tokens/s) with ``n_threads`` 1 and 2, alone and while
  Kokoro synthesizes in a loop next to it;
* llama.cpp's time to evaluate a turn's ~25 new prompt tokens with 1 and 2 threads, alone
  and next to Kokoro;
* Kokoro's time for a typical first clause alone and while llama.cpp generates next to it
  (what the first-clause hold avoids: with the hold, the first clause gets "alone").

Runs alternate (1, 2, 1, 2...) so a change of load on a shared machine hits both alike.
Prints a Markdown table of medians.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time

from llm_worker.providers.local import LocalProvider
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.settings import TTSSettings

CLAUSE = "Nosso horário começa às oito"
PROMPT = [
    {"role": "system", "content": "Você é uma recepcionista. Responda em português."},
    {"role": "user", "content": "Conte, em detalhes, como funciona o atendimento da empresa."},
]


def generate(llm: object, tokens: int) -> float:
    """Tokens per second of one generation (the prompt is cached after the first run)."""
    n = 0
    first = 0.0
    for _ in llm.create_chat_completion(  # type: ignore[attr-defined]
        messages=PROMPT, max_tokens=tokens, temperature=0.0, stream=True
    ):
        n += 1
        if n == 2:
            first = time.perf_counter()  # after the prompt and the first token
    return (n - 2) / (time.perf_counter() - first) if n > 2 else 0.0


def prompt_suffix(llm: object, base: list[int], suffix: list[int]) -> float:
    """Seconds to evaluate ``suffix`` after the cached ``base`` (a turn's new tokens)."""
    llm.n_tokens = len(base)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    llm.eval(suffix)  # type: ignore[attr-defined]
    return time.perf_counter() - t0


def synth(kokoro: KokoroTTS) -> float:
    t0 = time.perf_counter()
    kokoro._synthesize(CLAUSE, kokoro.resolve_voice(None, "pt"), "pt")
    return time.perf_counter() - t0


def busy(fn: object, stop: threading.Event) -> None:
    while not stop.is_set():
        fn()  # type: ignore[operator]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=40)
    args = ap.parse_args()
    s = TTSSettings.from_env({})
    kokoro = KokoroTTS(s.kokoro_model, s.kokoro_voices, threads=s.threads)
    kokoro.load()
    synth(kokoro)
    llms = {}
    for n in (1, 2):
        # n threads for generation and for prompts
        p = LocalProvider(n_threads=n, n_threads_batch=n, state_cache_mb=0)
        llms[n] = p.engine().llm
        generate(llms[n], 4)  # evaluates the prompt once
    base = llms[1].tokenize(b"Voce e uma recepcionista. " * 20)
    suffix = llms[1].tokenize(
        " Bom dia, qual é o horário de funcionamento de vocês no sábado?".encode(), add_bos=False
    )
    suffix = (suffix * 2)[:25]
    res: dict[str, list[float]] = {}
    for _ in range(args.reps):
        for n in (1, 2):
            llms[n].reset()
            llms[n].eval(base)
            res.setdefault(f"prompt +25 tokens {n}t", []).append(
                prompt_suffix(llms[n], base, suffix)
            )
            stop = threading.Event()
            th = threading.Thread(target=busy, args=(lambda: synth(kokoro), stop))
            th.start()
            res.setdefault(f"prompt +25 tokens {n}t + kokoro", []).append(
                prompt_suffix(llms[n], base, suffix)
            )
            stop.set()
            th.join()
            res.setdefault(f"gen {n}t alone", []).append(generate(llms[n], args.tokens))
            stop = threading.Event()
            th = threading.Thread(target=busy, args=(lambda: synth(kokoro), stop))
            th.start()
            res.setdefault(f"gen {n}t + kokoro", []).append(generate(llms[n], args.tokens))
            stop.set()
            th.join()
            res.setdefault("kokoro alone", []).append(synth(kokoro))
            stop = threading.Event()
            th = threading.Thread(
                target=busy, args=(lambda n=n: generate(llms[n], args.tokens), stop)
            )
            th.start()
            time.sleep(0.5)  # generation under way
            res.setdefault(f"kokoro + gen {n}t", []).append(synth(kokoro))
            stop.set()
            th.join()
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average at the end "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; TTS_THREADS={s.threads}"
    )
    print("| measure | median | values |")
    print("|---|---|---|")
    for name, values in res.items():
        unit = "tok/s" if name.startswith("gen") else "ms"
        vals = values if unit == "tok/s" else [v * 1000 for v in values]
        shown = ", ".join(f"{v:.1f}" if unit == "tok/s" else f"{v:.0f}" for v in vals)
        print(f"| {name} | {statistics.median(vals):.1f} {unit} | {shown} |")


if __name__ == "__main__":
    main()
