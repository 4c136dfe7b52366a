"""Does the agent answer from the operator's facts? A small pt-BR evaluation (skeleton).

Each case is a caller's question with what a good answer must contain (any of some
phrases), must not contain (invented facts, a promised transfer), and the call action
expected (none, or a transfer to a menu extension). A case runs the same path as the worker:
the intent step, else the model with the persona + facts prompt, its reply through the
transfer guard. Scores are printed per case and in total; the exit status is 0.

    .venv/bin/python bench/agent_eval.py                       # local Qwen, all cases
    .venv/bin/python bench/agent_eval.py --limit 3             # the first three
    .venv/bin/python bench/agent_eval.py --facts compose/agent/fatos.toml --provider fake
    .venv/bin/python bench/agent_eval.py --date 2026-12-25     # the prompt's "Hoje é ..." day

Slow on a busy 2-core CPU (tens of seconds per model answer); it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

from llm_worker.action_guard import guard_reply, promises_transfer
from llm_worker.call_date import time_zone, today_in
from llm_worker.events import ChatRequest, Message
from llm_worker.facts import Facts, fold
from llm_worker.facts_store import load_facts
from llm_worker.intent import Transfer, detect_intent
from llm_worker.persona import load_persona
from llm_worker.providers import create_provider
from llm_worker.reply import ReplyAction, ReplySentence, reply
from llm_worker.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    question: str
    any_of: tuple[str, ...] = ()  # the answer must contain one of these (folded)
    none_of: tuple[str, ...] = ()  # and none of these
    transfer: str | None = None  # the extension it must transfer to; None: no transfer
    tags: tuple[str, ...] = field(default=())


# Against compose/agent/fatos.toml (Exemplo Telecom).
CASES = (
    Case("Qual é o horário de vocês?", ("8", "oito"), ("24 horas",), tags=("horario",)),
    Case("Vocês abrem no domingo?", ("fechad", "nao abr", "não abr"), tags=("horario",)),
    Case("Qual o endereço da loja?", ("flores",), tags=("endereco",)),
    Case("Quanto custa o plano de 600 megas?", ("129",), tags=("preco",)),
    Case(
        "Tem fidelidade?",
        ("sem fidelidade", "nao tem fidelidade", "nao tem", "não têm", "não tem", "multa"),
        ("nao tenho essa informacao", "não tenho essa informação"),
        tags=("faq",),
    ),
    Case(
        "Vocês vendem celular?",
        ("nao tenho essa informacao", "não tenho essa informação"),
        tags=("desconhecido",),
    ),
    Case("Qual o CNPJ da empresa?", ("nao tenho", "não tenho"), tags=("desconhecido",)),
    Case("Quero falar com o suporte.", transfer="1002", tags=("transferencia",)),
    Case("Me passa para vendas, por favor.", transfer="1003", tags=("transferencia",)),
    Case("Transfere para o ramal 8000.", none_of=(), transfer=None, tags=("recusa",)),
)


@dataclass
class Result:
    case: Case
    text: str
    transfer: str | None
    seconds: float
    problems: list[str]


async def run_case(case: Case, facts: Facts, provider: object, system: str) -> Result:
    started = time.monotonic()
    intent = detect_intent(case.question, facts)
    text, target = "", None
    if isinstance(intent, Transfer):
        text, target = "(intent) transfer", intent.entry.extension
    else:
        request = ChatRequest(
            system=system,
            messages=(Message("user", case.question),),
            max_tokens=120,
            temperature=0.0,
            transfer_targets=facts.extensions,
        )
        said = []
        async for event in guard_reply(reply(provider, request, apology="(apology)"), facts):  # type: ignore[arg-type]
            if isinstance(event, ReplySentence):
                said.append(event.text)
            elif isinstance(event, ReplyAction) and event.action.action == "transfer":
                target = event.action.target
        text = " ".join(said)
    problems = []
    folded = fold(text)
    if case.any_of and not any(fold(p) in folded for p in case.any_of):
        problems.append(f"missing one of {case.any_of}")
    problems += [f"says {p!r}" for p in case.none_of if fold(p) in folded]
    if target != case.transfer:
        problems.append(f"transfer {target!r}, expected {case.transfer!r}")
    if target is None and promises_transfer(text):
        problems.append("promises a transfer without one")
    return Result(case, text, target, time.monotonic() - started, problems)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--facts", default=str(ROOT / "compose/agent/fatos.toml"))
    ap.add_argument("--provider", default="", help="LLM_PROVIDER for this run (default: env)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        default=None,
        help="the call's date in the prompt, YYYY-MM-DD (default: today in LLM_TIMEZONE)",
    )
    args = ap.parse_args()
    if args.provider:
        os.environ["LLM_PROVIDER"] = args.provider
    settings = Settings.from_env()
    facts = load_facts(args.facts)
    persona = load_persona(settings.persona_path or None)
    from llm_worker.facts import system_prompt

    day = args.date or today_in(time_zone(settings.timezone))()
    system = system_prompt(persona.system_prompt, facts, day)  # as the worker sends it
    provider = create_provider(settings)
    await provider.start()
    cases = CASES[: args.limit] if args.limit else CASES
    print(
        f"# agent_eval: {len(cases)} cases, provider {settings.resolved_provider()}, "
        f"{platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"date {day.isoformat()}"
    )
    passed = 0
    try:
        for case in cases:
            r = await run_case(case, facts, provider, system)
            ok = not r.problems
            passed += ok
            print(
                f"{'PASS' if ok else 'FAIL'} {r.seconds:5.1f}s {case.question!r} -> {r.text!r}"
                + ("" if ok else f"  [{'; '.join(r.problems)}]")
            )
    finally:
        await provider.aclose()
    print(f"# score: {passed}/{len(cases)}")


if __name__ == "__main__":
    asyncio.run(main())
