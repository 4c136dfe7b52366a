"""Does the agent answer from the operator's facts and act? Spoken pt-BR questions, scored.

The set is ``bench/agent_eval_set.toml`` (50 questions over ``compose/agent/fatos.toml``:
hours, address, prices, FAQ, out-of-scope questions, transfer requests, goodbyes; format
in its header). Each question goes through the real engines, as on a call:

1. **voice**: Kokoro (the tts-worker's packaged int8 model) says the question with the
   case's voice (pm_alex, pf_dora, pm_santa, jm_kumo); 24 kHz -> 8 kHz (soxr), speech at
   -26 dBov, a -70 dBov floor, optional telephone-band noise at the case's SNR, G.711
   mu-law encode + decode, 300 ms of line before and after;
2. **STT**: faster-whisper, the stt-worker's provider with its packaged Whisper base;
3. **LLM**: the llm-worker's path for one turn: the intent step (a plain transfer or
   goodbye is decided without the model), the hours step (a question about opening hours
   is answered from the facts), else the model with the persona and the facts
   (the worker's splitter, sentence cap, token limit and temperature from the LLM_*
   variables), its reply through the grounding and action guards (``checked_reply``);
4. **TTS**: Kokoro synthesizes the reply's first sentence (the worker's default voice) and
   renders it to 8 kHz chunks: the time to the first audio.

Voice-to-voice here is STT time + the time to the first sentence that passed the guards +
the time to its first audio; the phone leg, the VAD's end-of-turn wait and Redis are left
out (bench/voice_to_voice.py measures those through Asterisk).

Each reply is scored against the facts file by ``agent_eval_score`` (see there).

``--via-asterisk``: the transfer questions are asked through the real Asterisk instead
(``agent_eval_asterisk``): a PJSUA2 phone calls 2000, plays the same audio, and the transfer
that counts is the extension whose registered phone rings (within ``--ring-within`` s of
the question's end; a second phone ringing is a failure); the other questions take the
in-process path above. Its answers go to ``<model>-asterisk.jsonl``.

    .venv/bin/python bench/agent_eval.py                      # local model (offline default)
    .venv/bin/python bench/agent_eval.py --provider fake-claude   # Claude-shaped fake server
    .venv/bin/python bench/agent_eval.py --only horario,endereco  # some cases
    .venv/bin/python bench/agent_eval.py --only fora-tv --redo   # answer one again
    .venv/bin/python bench/agent_eval.py --limit 10           # the first ten not yet done
    .venv/bin/python bench/agent_eval.py --rescore            # score the saved rows again
    .venv/bin/python bench/agent_eval.py --markdown out.md    # also the per-question table
    .venv/bin/python bench/agent_eval.py --via-asterisk       # transfers: the target rings

Resumable: every finished question is appended to ``--out`` (default
``$PABX_CACHE/bench/agent_eval/<model>.jsonl``) and skipped on the next run while its
question, voice, noise, facts and model are the same (``--fresh`` starts over, e.g. after
changing the agent's code). The synthesized questions and their transcripts are cached in
the same folder. Slow on a busy 2-core CPU (seconds to tens of seconds per model answer).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from agent_eval_score import Case, Score, expected_action, parse_set, score, summarize
from bench_support import over_the_line, sentence_splitter
from llm_worker.call_date import time_zone, today_in
from llm_worker.claims import grounds
from llm_worker.events import ChatRequest, Message
from llm_worker.facts import NO_INFO, Facts, render_facts, system_prompt
from llm_worker.facts_store import load_facts
from llm_worker.grounding import checked_reply
from llm_worker.intent import plan_without_model
from llm_worker.menu import offer
from llm_worker.persona import Persona, load_persona
from llm_worker.providers import create_provider
from llm_worker.providers.base import LLMProvider
from llm_worker.reply import ReplyAction, ReplySentence, ReplyTimings, reply
from llm_worker.settings import Settings
from pipeline.envparse import cache_dir
from sip_edge.testing import SPEECH_DBOV
from turn_detection import RATE, Speech, active_gain

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "bench" / "agent_eval_set.toml"
DEFAULT_FACTS = ROOT / "compose" / "agent" / "fatos.toml"
LINE_S = 0.3  # of quiet line before and after the question
PATHS = {
    "intent": " *(passo de intenção)*",
    "facts": " *(dos fatos, sem o modelo)*",
    "asterisk": " *(pelo Asterisk)*",
}


def log(text: str) -> None:
    print(f"[agent_eval] {text}", file=sys.stderr, flush=True)


# --- the caller's voice and its transcript --------------------------------------------------


def phone_audio(speech: Speech, case: Case) -> bytes:
    """The question as the STT worker gets it: 8 kHz PCM16 after the line (see module)."""
    x = speech.say(case.text, case.voice)
    x = x * active_gain(x, SPEECH_DBOV)
    pad = np.zeros(int(LINE_S * RATE))
    x = np.concatenate([pad, x, pad])
    seed = int(hashlib.sha256(case.id.encode()).hexdigest()[:8], 16)
    return over_the_line(x, seed, case.snr_db)


class Transcripts:
    """Whisper's transcript of each question's audio, cached on disk."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "transcripts.json"
        self.speech = Speech(folder / "speech.npz")
        self.known: dict[str, dict[str, Any]] = (
            json.loads(self.path.read_text()) if self.path.is_file() else {}
        )
        self._stt: Any = None

    async def get(self, case: Case) -> dict[str, Any]:
        key = f"{case.voice}|{case.snr_db}|{case.text}"
        if key not in self.known:
            if self._stt is None:
                from stt_worker.testing import packaged_whisper

                self._stt = packaged_whisper()
            # Speech.say runs its own event loop (turn_detection): in a thread
            audio = await asyncio.to_thread(phone_audio, self.speech, case)
            self.speech.save()
            result = await self._stt.transcribe(audio, RATE, "pt")
            self.known[key] = {
                "text": result.text,
                "stt_s": round(result.elapsed_s, 3),
                "audio_s": round(len(audio) / 2 / RATE, 2),
            }
            self.path.write_text(json.dumps(self.known, ensure_ascii=False, indent=1))
        return self.known[key]


# --- the agent's turn ------------------------------------------------------------------------


class Agent:
    """One caller turn through the llm-worker's path (intent step, model, guards)."""

    def __init__(
        self,
        settings: Settings,
        provider: LLMProvider,
        facts: Facts,
        persona: Persona,
        day: dt.date | None = None,
    ):
        self.settings = settings
        self.provider = provider
        self.facts = facts
        self.persona = persona
        # the worker's prompt: the call's date line last (``--date``; default today)
        self.system = system_prompt(persona.system_prompt, facts, day)

    async def turn(self, text: str) -> dict[str, Any]:
        started = time.perf_counter()
        plan = plan_without_model(text, self.facts, goodbye=self.persona.goodbye)
        if plan is not None:
            planned = plan.action
            return {
                "path": "facts" if planned is None else "intent",
                "reply": " ".join(plan.sentences),
                "sentences": list(plan.sentences),
                "action": None
                if planned is None
                else (f"transfer:{planned.target}" if planned.action == "transfer" else "hangup"),
                "llm_first_sentence_s": round(time.perf_counter() - started, 4),
            }
        s = self.settings
        request = ChatRequest(
            system=self.system,
            messages=(Message("user", text),),
            max_tokens=s.max_tokens,
            temperature=s.temperature,
            transfer_targets=self.facts.extensions,
        )
        timings = ReplyTimings()
        events = checked_reply(
            reply(
                self.provider,
                request,
                apology=self.persona.apology,
                splitter=sentence_splitter(self.settings),
                timings=timings,
                max_sentences=s.max_sentences,
            ),
            self.facts,
            question=text,
        )
        said: list[str] = []
        action: str | None = None
        first: float | None = None
        async for event in events:
            if isinstance(event, ReplySentence):
                if first is None:
                    first = time.perf_counter() - started
                said.append(event.text)
            elif isinstance(event, ReplyAction) and action is None:
                a = event.action
                action = f"transfer:{a.target}" if a.action == "transfer" else a.action
        if action == "hangup" and not said:
            said.append(self.persona.goodbye)  # the worker says the goodbye first
        return {
            "path": "model",
            "reply": " ".join(said),
            "sentences": said,
            "action": action,
            "llm_first_token_s": None if timings.ttft_s is None else round(timings.ttft_s, 3),
            "llm_first_sentence_s": None if first is None else round(first, 3),
            "llm_total_s": round(time.perf_counter() - started, 3),
        }


def claude_script(case: Case, facts: Facts) -> Any:
    """What the Claude-shaped fake answers to ``case``: the fact's line of the rendered
    facts, the fallback, or the tool call. It checks the wiring (tool use -> call action,
    guards, scorer), not a model: it can only fail where the wiring is broken."""
    from llm_worker.testing.script import Text, ToolUse

    lines = render_facts(facts).splitlines()

    def line(prefix: str) -> str:
        found = [ln.lstrip("- ") for ln in lines if ln.lstrip("- ").startswith(prefix)]
        return " ".join(found)

    action = expected_action(case.action, facts)
    if case.category == "despedida":
        return ToolUse("hang_up", {}, text=("Obrigado pela ligação, até logo!",))
    if action and action.startswith("transfer:"):
        return ToolUse("transfer_call", {"extension": action.split(":", 1)[1]})
    if case.category in ("fora", "transferencia"):
        return Text((f"{NO_INFO} ", offer(facts)))
    key = case.fact
    head, _, rest = key.partition(".")
    prefixes = {
        "horario": "Horário de atendimento:",
        "feriado": "Feriados:",
        "endereco": "Endereço:",
        "servicos": "Plano",
    }
    if head in prefixes:
        text = line(prefixes[head])
    elif head == "empresa":
        labels = {"telefone": "Telefone:", "whatsapp": "WhatsApp:", "site": "Site:",
                  "email": "E-mail:", "sobre": "Sobre:", "nome": "Empresa:"}  # fmt: skip
        text = line(labels[rest])
    elif head == "servico":
        text = line(facts.services[int(rest.split(".")[0]) - 1].name)
    elif head == "pergunta":
        text = facts.faq[int(rest) - 1].answer
    else:  # menu.<setor>
        text = line(rest)
    return Text((text,))


# --- the run ---------------------------------------------------------------------------------


def input_key(case: Case, facts_text: str, model: str) -> str:
    raw = json.dumps([asdict(case), facts_text, model], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


async def first_audio(tts: Any, text: str) -> float:
    """Seconds from a sentence to its first 20 ms chunk at 8 kHz (the tts-worker's path)."""
    started = time.perf_counter()
    syn = await tts.synthesize(text, language="pt-BR")
    syn.render(8000)
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> int:
    facts_text = Path(args.facts).read_text("utf-8")
    facts = load_facts(args.facts)
    cases = parse_set(Path(args.set).read_text("utf-8"), facts, source=args.set)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {c.id for c in cases}
        if unknown:
            raise SystemExit(f"--only: casos desconhecidos {sorted(unknown)}")
        cases = tuple(c for c in cases if c.id in wanted)
    if args.provider == "fake-claude":
        os.environ.update(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY="fake-key")
    elif args.provider:
        os.environ["LLM_PROVIDER"] = args.provider
    if args.model_path:
        os.environ["LLM_MODEL_PATH"] = args.model_path
    if args.via_asterisk and args.provider == "fake-claude":
        raise SystemExit("--via-asterisk: use o modelo local ou um provedor real")
    settings = Settings.from_env()
    provider_name = args.provider or settings.resolved_provider()
    model = provider_name
    if settings.resolved_provider() == "local":
        from llm_worker.providers.local import default_model_path

        model = f"local:{Path(settings.model_path or default_model_path()).name}"
    folder = cache_dir() / "bench" / "agent_eval"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "-asterisk" if args.via_asterisk else ""
    out = Path(args.out) if args.out else folder / f"{model.replace(':', '_')}{suffix}.jsonl"
    rows: dict[str, dict[str, Any]] = {}
    if out.is_file() and not args.fresh:
        for ln in out.read_text("utf-8").splitlines():
            if ln.strip():
                row = json.loads(ln)
                rows[row["id"]] = row
    elif args.fresh and out.exists():
        out.unlink()
    phoned = {c.id for c in cases if args.via_asterisk and c.category == "transferencia"}
    keys = {
        c.id: input_key(c, facts_text, model + ("|asterisk" if c.id in phoned else ""))
        for c in cases
    }
    todo = [c for c in cases if args.redo or rows.get(c.id, {}).get("key") != keys[c.id]]
    if args.limit:
        todo = todo[: args.limit]
    if args.rescore:
        todo = []
    log(f"{len(cases)} casos, {len(cases) - len(todo)} já feitos, {len(todo)} a fazer; {model}")
    ev = Evaluation(facts, model, keys, rows, out, args)
    by_phone = [c for c in todo if c.id in phoned]
    here = [c for c in todo if c.id not in phoned]
    if here:  # first: the Asterisk part may wait for the lock of other runs
        asyncio.run(answer(here, settings, ev))
    if by_phone:
        ask_through_asterisk(by_phone, ev)
    return report(cases, ev)


@dataclass
class Evaluation:
    """One run of the evaluation: the facts and model it is on, the input key of each case,
    the answers so far (``rows``, by case id) and the file they are saved to."""

    facts: Facts
    model: str
    keys: dict[str, str]
    rows: dict[str, dict[str, Any]]
    out: Path
    args: argparse.Namespace

    def save(self, case: Case, load: float, model_load_s: float, **fields: Any) -> None:
        """Saves the answer to ``case`` (``fields``), with what every answer records: its
        case and input key, the model, the machine's load before it and the process's
        peak memory, and how long the model took to be ready."""
        row = {
            "id": case.id,
            "key": self.keys[case.id],
            "model": self.model,
            **fields,
            "load": round(load, 2),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "model_load_s": round(model_load_s, 2),
        }
        self.rows[row["id"]] = row
        with self.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def ask_through_asterisk(todo: list[Case], ev: Evaluation) -> None:
    """The transfer questions through the real Asterisk (agent_eval_asterisk)."""
    import agent_eval_asterisk as pabx

    speech = Transcripts(ev.out.parent).speech
    audio: dict[str, npt.NDArray[Any]] = {}
    for case in todo:  # the voices first (cached), before the workers take the CPU
        audio[case.id] = np.frombuffer(phone_audio(speech, case), dtype="<i2")
        speech.save()
    folder = ev.out.parent / "asterisk"
    log(f"{len(todo)} pelo Asterisk: subindo Asterisk, Redis, sip-edge e os workers ({folder})")
    started = time.perf_counter()
    try:
        _ask_all(pabx, todo, audio, ev, folder, started)
    except AssertionError as e:  # the workers' exit check (running_workers): a warning here
        log(f"AVISO: a saída dos workers não passou na conferência dos testes: {str(e)[-600:]}")


def _ask_all(
    pabx: Any,
    todo: list[Case],
    audio: dict[str, npt.NDArray[Any]],
    ev: Evaluation,
    folder: Path,
    started: float,
) -> None:
    args = ev.args
    with pabx.through_asterisk(folder, {"LLM_FACTS_PATH": str(Path(args.facts).resolve())}) as line:
        ready_s = time.perf_counter() - started
        log(f"pronto em {ready_s:.1f} s")
        for n, case in enumerate(todo, 1):
            target = expected_action(case.action, ev.facts)
            expected = target.split(":", 1)[1] if target and ":" in target else None
            load = os.getloadavg()[0]
            turn = pabx.ask(line, audio[case.id], expected, ring_within_s=args.ring_within)
            ev.save(case, load, ready_s, stt_s=None, **turn)
            rang = sorted(turn["rang"]) or "nenhum"
            log(f"{n}/{len(todo)} {case.id}: {turn['transcript']!r} -> {turn['reply'][:70]!r} "
                f"tocou {rang}; call.action {turn['call_action']}")  # fmt: skip


async def answer(todo: list[Case], settings: Settings, ev: Evaluation) -> None:
    from tts_worker.testing import packaged_kokoro

    facts, args = ev.facts, ev.args
    folder = ev.out.parent
    transcripts = Transcripts(folder)
    for case in todo:  # the voices and transcripts first: they are cached for every model
        await transcripts.get(case)
    fake = None
    if args.provider == "fake-claude":
        from llm_worker.testing import FakeAnthropicServer

        fake = FakeAnthropicServer()
        await fake.start()
        os.environ["ANTHROPIC_BASE_URL"] = fake.url
        settings = Settings.from_env()
    provider = create_provider(settings)
    persona = load_persona(settings.persona_path or None)
    day = args.date or today_in(time_zone(settings.timezone))()
    agent = Agent(settings, provider, facts, persona, day)
    tts = packaged_kokoro()
    await first_audio(tts, "Olá, em que posso ajudar?")  # ONNX Runtime's first run is slow
    loaded = time.perf_counter()
    await provider.start()
    await provider.warm_up(agent.system)  # as the worker does at start-up
    load_s = time.perf_counter() - loaded
    log(f"modelo pronto em {load_s:.1f} s (carga e prompt de sistema)")
    try:
        for n, case in enumerate(todo, 1):
            heard = await transcripts.get(case)
            if fake is not None:  # what it answers if the intent step leaves it the turn
                fake.scripts.clear()
                fake.push(claude_script(case, facts))
            load = os.getloadavg()[0]
            turn = await agent.turn(heard["text"])
            tts_s = await first_audio(tts, turn["sentences"][0]) if turn["sentences"] else None
            llm_s = turn.get("llm_first_sentence_s")
            v2v = None if llm_s is None or tts_s is None else heard["stt_s"] + llm_s + tts_s
            ev.save(
                case,
                load,
                load_s,
                transcript=heard["text"],
                stt_s=heard["stt_s"],
                **turn,
                tts_first_audio_s=None if tts_s is None else round(tts_s, 3),
                voice_to_voice_s=None if v2v is None else round(v2v, 3),
            )
            log(f"{n}/{len(todo)} {case.id}: {turn['reply'][:90]!r} {turn['action'] or ''}")
    finally:
        await provider.aclose()
        if fake is not None:
            await fake.stop()


def report(cases: tuple[Case, ...], ev: Evaluation) -> int:
    rows, facts, model, out, args = ev.rows, ev.facts, ev.model, ev.out, ev.args
    g = grounds(facts)
    scored: list[tuple[Case, Score]] = []
    table = [
        "| # | caso | categoria | voz | transcrição | resposta | ação | ok | problema "
        "| voz a voz |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, case in enumerate(cases, 1):
        row = rows.get(case.id)
        if row is None:
            continue
        s = score(case, row["reply"], row["action"], facts, g)
        scored.append((case, s))
        voice = case.voice + (f", ruído {case.snr_db:g} dB" if case.snr_db is not None else "")
        v2v = row.get("voice_to_voice_s")
        action = row["action"] or "—"
        if row["path"] == "asterisk":
            rang = ", ".join(f"{e} em {t:.1f} s" for e, t in sorted(row["rang"].items()))
            action += f" (tocou: {rang or 'nenhum'}; call.action {row['call_action'] or '—'})"
        cells = [
            str(i), case.id, case.category, voice, row["transcript"].strip(),
            row["reply"] + PATHS.get(row["path"], ""),
            action, "ok" if s.ok else "**falha**", "; ".join(s.problems),
            "—" if v2v is None else f"{v2v:.2f} s",
        ]  # fmt: skip
        table.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if not scored:
        log("nenhuma resposta ainda")
        return 1
    summary = summarize(scored)
    done = [rows[c.id] for c, _ in scored]
    model_rows = [r for r in done if r["path"] == "model"]
    local_rows = [r for r in done if r["path"] != "asterisk"]
    phoned = [r for r in done if r["path"] == "asterisk"]

    def stats(key: str, among: list[dict[str, Any]]) -> str:
        values = [r[key] for r in among if r.get(key) is not None]
        if not values:
            return "—"
        return (
            f"p50 {statistics.median(values):.2f} s, p90 {pct(values, 0.9):.2f} s (n={len(values)})"
        )

    print(f"\n# agent_eval: {model}, {len(scored)}/{len(cases)} casos ({out})")
    print(f"máquina: {platform.machine()}, {os.cpu_count()} núcleos, "
          f"load médio durante o run {statistics.mean(r['load'] for r in done):.1f}")  # fmt: skip
    for cat, c in summary["categorias"].items():
        print(f"  {cat:14} {c['ok']:2}/{c['casos']:2}")
    print(f"  inventados: {summary['inventados']}")
    print(f"  promessas sem transferência: {summary['promessas_sem_transferencia']}")
    for goal, met in summary["metas"].items():
        print(f"  meta {goal}: {'atingida' if met else 'NÃO atingida'}")
    print(f"  STT: {stats('stt_s', done)}")
    print(f"  LLM 1º token (modelo): {stats('llm_first_token_s', model_rows)}")
    print(f"  LLM 1ª frase aprovada (modelo): {stats('llm_first_sentence_s', model_rows)}")
    print(f"  TTS 1º áudio: {stats('tts_first_audio_s', done)}")
    print(f"  voz a voz (sem a perna de telefone): {stats('voice_to_voice_s', local_rows)}")
    if phoned:
        print(f"  pelo Asterisk: {len(phoned)} perguntas; toque do ramal depois do fim da "
              f"pergunta: {stats('ring_s', phoned)}")  # fmt: skip
        print(f"  pelo Asterisk, voz a voz (fim da pergunta -> 1º áudio ouvido no telefone): "
              f"{stats('voice_to_voice_s', phoned)}")  # fmt: skip
        wrong = [r["id"] for r in phoned if r["action"] != r["call_action"]]
        print(f"  pelo Asterisk: toques diferentes da call.action: {wrong or 'nenhum'}")
    print(f"  RSS máximo do processo: {max(r['max_rss_mb'] for r in done)} MB")
    if args.markdown:
        Path(args.markdown).write_text("\n".join(table) + "\n", "utf-8")
        log(f"tabela em {args.markdown}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default=str(DEFAULT_SET))
    ap.add_argument("--facts", default=str(DEFAULT_FACTS))
    ap.add_argument(
        "--provider", default="", help="local, fake-claude, anthropic, openai (default: env)"
    )
    ap.add_argument("--model-path", default="", help="a GGUF for the local provider")
    ap.add_argument("--only", default="", help="comma-separated case ids")
    ap.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        default=None,
        help="the call's date in the prompt, YYYY-MM-DD (default: today in LLM_TIMEZONE)",
    )
    ap.add_argument("--limit", type=int, default=0, help="answer at most N cases this run")
    ap.add_argument("--fresh", action="store_true", help="forget the saved answers")
    ap.add_argument(
        "--redo", action="store_true", help="answer the selected cases again (e.g. with --only)"
    )
    ap.add_argument("--rescore", action="store_true", help="only score the saved answers")
    ap.add_argument(
        "--via-asterisk",
        action="store_true",
        help="ask the transfer questions through the real Asterisk: the target phone rings",
    )
    ap.add_argument(
        "--ring-within",
        type=float,
        default=90,
        help="seconds after the question's end for the target phone to ring (--via-asterisk)",
    )
    ap.add_argument("--out", default="", help="the answers file (JSON lines)")
    ap.add_argument("--markdown", default="", help="write the per-question table here")
    ap.add_argument("--json", default="", help="write the summary here")
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
