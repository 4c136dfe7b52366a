"""The agent evaluation's data set and scorer (no I/O): what bench/agent_eval.py runs and
how each reply is judged, checked against the operator's facts file.

:func:`parse_set` reads ``bench/agent_eval_set.toml`` (format in its header) and checks
every case against the facts: a fact key that names nothing in the file, a department
that is not in the menu, an unknown voice or category is an :class:`EvalSetError` naming
the case and the field.

:func:`score` judges one reply (its text and the call action it led to):

* **invented**: every time, price, number and street name the reply states must be in the
  facts (:mod:`llm_worker.claims`: "8h", "8:00" and "oito horas" are the same time;
  "R$ 129,90" and "cento e vinte e nove reais e noventa centavos" the same price), and a
  capitalized word in mid-sentence must be a word of the facts (a name the file does not
  hold: "Huashii");
* **fato**: no invention, not the fallback, and the fact the question asks for is said:
  its times (or that it is closed), price, street and number, digits, extension, or for
  free text (FAQ, "sobre", a description) one of its content words, its numbers, and a
  negation when the answer is a "Não";
* **fora**: "Não tenho essa informação" and an offer to transfer, no invention, no action;
* **transferencia**: the call action is a transfer to the menu extension of the expected
  department (or none when the case expects none);
* **despedida**: the call action is a hang-up;
* in every case, a reply that says it transfers ("vou transferir", "transferindo") without
  a transfer action is counted as a promise without a transfer.

:func:`summarize` gives the acceptance rates of issue 13 per category.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from llm_worker.claims import Claim, Grounds, claims, supported
from llm_worker.facts import WEEKDAYS, Facts, Interval, fold

CATEGORIES = ("fato", "fora", "transferencia", "despedida")
VOICES = ("pm_alex", "pf_dora", "pm_santa", "jm_kumo")
FALLBACK = "nao tenho essa informacao"
_CASE_KEYS = {"id", "texto", "voz", "ruido_snr", "categoria", "fato", "acao"}
_OFFER = re.compile(r"\b(posso|quer que eu|gostaria que eu|deseja que eu|se quiser)\b[^.!?]*"
                    r"\btransfer|\btransferir (?:a sua ligacao |sua ligacao )?para\b")  # fmt: skip
# Said by the scorer itself, not taken from the agent's guard: a claim of a transfer.
_PROMISE = re.compile(
    r"\btransferindo\b|\bencaminhando\b|\bconectando\b"
    r"|\b(?:vou|vamos|irei|ja|estou|to|tou)\b(?:\s+\w+){0,3}?\s+"
    r"(?:transfer\w*|transfir\w*|encaminh\w*|conect\w*|direcion\w*)"
    r"|\b(?:vou|vamos|ja)\b(?:\s+(?:te|lhe|o|a|voce|sua|ligacao))*\s+pass(?:ar|o)\s+(?:para|pro|pra)\b"
    r"|\b(?:sera|vai ser)\s+(?:transferid|encaminhad)"
)
_CLOSED = re.compile(
    r"\bfechad[oa]s?\b|\bnao (?:abr|funcion|atend|trabalh|ha atendimento|temos atendimento)"
    r"|\bsem (?:atendimento|expediente)\b"
)
_NEGATION = re.compile(r"\b(?:nao|sem|nenhum|nenhuma|nunca|nem)\b")
_WORD = re.compile(r"[a-z]+")
_STREET = {"rua", "avenida", "av", "alameda", "travessa", "praca", "estrada", "rodovia"}
# Capitalized in mid-sentence without being a name of the company's facts.
_COMMON_CAPITALS = {
    "janeiro", "fevereiro", "marco", "abril", "maio", "junho", "julho", "agosto", "setembro",
    "outubro", "novembro", "dezembro", "sr", "sra", "senhor", "senhora", "voce", "r",
}  # fmt: skip


class EvalSetError(ValueError):
    """The evaluation set is malformed, or names what the facts file does not hold."""


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    text: str
    voice: str
    category: str
    fact: str = ""
    action: str = "nenhuma"  # "nenhuma" | "desligar" | "transferir:<setor>"
    snr_db: float | None = None


@dataclass
class Score:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)  # "price 'R$ 150'", "name 'Huashii'"
    promised: bool = False  # says it transfers, without a transfer
    fallback: bool = False

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


# --- the set -------------------------------------------------------------------------------


def parse_set(text: str, facts: Facts, *, source: str = "<conjunto>") -> tuple[Case, ...]:
    """The cases of an evaluation set, validated against ``facts``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise EvalSetError(f"{source}: TOML inválido: {e}") from e
    if set(data) - {"caso"}:
        raise EvalSetError(f"{source}: chaves desconhecidas {sorted(set(data) - {'caso'})}")
    raw = data.get("caso")
    if not isinstance(raw, list) or not raw:
        raise EvalSetError(f"{source}: nenhum [[caso]]")
    cases: list[Case] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"{source}: caso[{i + 1}]"
        if not isinstance(item, dict):
            raise EvalSetError(f"{where}: deve ser uma tabela")
        unknown = set(item) - _CASE_KEYS
        if unknown:
            raise EvalSetError(f"{where}: chaves desconhecidas {sorted(unknown)}")
        for key in ("id", "texto", "voz", "categoria"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise EvalSetError(f"{where}.{key}: texto obrigatório")
        case_id = item["id"].strip()
        where = f"{source}: caso {case_id!r}"
        if case_id in seen:
            raise EvalSetError(f"{where}: id repetido")
        seen.add(case_id)
        if item["voz"] not in VOICES:
            raise EvalSetError(f"{where}.voz: {item['voz']!r} (aceitas: {', '.join(VOICES)})")
        category = item["categoria"]
        if category not in CATEGORIES:
            raise EvalSetError(
                f"{where}.categoria: {category!r} (aceitas: {', '.join(CATEGORIES)})"
            )
        snr = item.get("ruido_snr")
        if snr is not None and (isinstance(snr, bool) or not isinstance(snr, int | float)):
            raise EvalSetError(f"{where}.ruido_snr: deve ser um número (dB)")
        fact = item.get("fato", "")
        if not isinstance(fact, str):
            raise EvalSetError(f"{where}.fato: deve ser texto")
        if (category == "fato") != bool(fact):
            raise EvalSetError(f"{where}.fato: obrigatório em 'fato' e só nela")
        if fact:
            try:
                required(fact, facts)
            except EvalSetError as e:
                raise EvalSetError(f"{where}.fato: {e}") from None
        action = item.get("acao", "nenhuma")
        if not isinstance(action, str):
            raise EvalSetError(f"{where}.acao: deve ser texto")
        try:
            expected_action(action, facts)
        except EvalSetError as e:
            raise EvalSetError(f"{where}.acao: {e}") from None
        cases.append(
            Case(case_id, " ".join(item["texto"].split()), item["voz"], category, fact,
                 action, None if snr is None else float(snr))
        )  # fmt: skip
    return tuple(cases)


def expected_action(action: str, facts: Facts) -> str | None:
    """``transfer:<extension>``, ``hangup`` or None, from a case's ``acao``."""
    if action == "nenhuma":
        return None
    if action == "desligar":
        return "hangup"
    if action.startswith("transferir:"):
        name = fold(action.split(":", 1)[1].strip())
        entry = next((e for e in facts.menu if fold(e.department) == name), None)
        if entry is None:
            setores = ", ".join(e.department for e in facts.menu)
            raise EvalSetError(f"setor {name!r} não está no menu dos fatos ({setores})")
        return f"transfer:{entry.extension}"
    raise EvalSetError(f"{action!r}: use transferir:<setor>, desligar ou nenhuma")


# --- what a fact question must be answered with ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Required:
    times: frozenset[int] = frozenset()
    all_times: bool = True  # False: one of them is enough ("até que horas?" -> "até as 18h")
    closed: bool = False
    prices: frozenset[int] = frozenset()
    numbers: frozenset[str] = frozenset()  # each said as a number (or within the digits)
    words: frozenset[str] = frozenset()  # at least one of them said
    negation: bool = False


def _times(intervals: tuple[Interval, ...], *, all_times: bool = True) -> Required:
    if not intervals:
        return Required(closed=True)
    mins = {int(x[:2]) * 60 + int(x[3:]) for iv in intervals for x in (iv.start, iv.end)}
    return Required(times=frozenset(mins), all_times=all_times)


def _content(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(fold(text)) if len(w) >= 5)


def _numbers(text: str) -> frozenset[str]:
    return frozenset(c.value for c in claims(text) if c.kind == "number")


def _free_text(text: str) -> Required:
    negated = fold(text).startswith(("nao", "sem"))
    return Required(numbers=_numbers(text), words=_content(text), negation=negated)


def _item(items: tuple[Any, ...], index: str, what: str) -> Any:
    if not index.isdigit() or not 1 <= int(index) <= len(items):
        raise EvalSetError(f"{what} {index!r} não existe nos fatos (há {len(items)})")
    return items[int(index) - 1]


def required(key: str, facts: Facts) -> Required:
    """What a reply to a question about ``key`` must say (see the set's header)."""
    parts = key.split(".")
    head = parts[0]
    if key == "horario":
        if not facts.hours:
            raise EvalSetError("os fatos não têm [horario]")
        return _times(facts.hours[0][1])
    if head == "horario" and len(parts) == 2:
        day = fold(parts[1]).removesuffix("-feira")
        hours = dict(facts.hours)
        if day not in WEEKDAYS or day not in hours:
            raise EvalSetError(f"dia {parts[1]!r} não está em [horario]")
        return _times(hours[day], all_times=False)
    if head == "feriado" and len(parts) == 2:
        try:
            date = dt.date.fromisoformat(parts[1])
        except ValueError:
            raise EvalSetError(f"{parts[1]!r} não é uma data AAAA-MM-DD") from None
        holiday = next((h for h in facts.holidays if h.date == date), None)
        if holiday is None:
            raise EvalSetError(f"feriado {parts[1]} não está nos fatos")
        return _times(holiday.hours, all_times=False)
    if key == "endereco":
        if not facts.address:
            raise EvalSetError("os fatos não têm endereço")
        street = facts.address.split(",")[0]
        names = {w for w in _WORD.findall(fold(street)) if w not in _STREET and len(w) > 3}
        number = _numbers(", ".join(facts.address.split(",")[:2]))  # "Rua X, 123"
        return Required(numbers=number, words=frozenset(names))
    if head == "empresa" and len(parts) == 2:
        name = parts[1]
        phones = dict(facts.phones)
        if name in ("telefone", "whatsapp"):
            if name not in phones:
                raise EvalSetError(f"os fatos não têm empresa.{name}")
            digits = re.sub(r"\D", "", phones[name])
            return Required(numbers=frozenset({digits[-8:]}))
        if name in ("site", "email"):
            if name not in phones:
                raise EvalSetError(f"os fatos não têm empresa.{name}")
            label = re.sub(r"[^a-z0-9]", "", fold(phones[name].split("@")[-1].split(".")[0]))
            return Required(words=frozenset({label}))
        if name == "sobre" and facts.about:
            return _free_text(facts.about)
        if name == "nome":
            return Required(words=_content(facts.company) or frozenset({fold(facts.company)}))
        raise EvalSetError(f"empresa.{name} não está nos fatos")
    if head == "servico" and len(parts) == 3:
        service = _item(facts.services, parts[1], "servico")
        if parts[2] == "preco" and service.price:
            return Required(prices=frozenset(int(c.value) for c in claims(service.price)
                                             if c.kind == "price"))  # fmt: skip
        if parts[2] == "descricao" and service.description:
            return Required(words=_content(service.description))
        raise EvalSetError(f"servico.{parts[1]} não tem {parts[2]}")
    if key == "servicos":
        if not facts.services:
            raise EvalSetError("os fatos não têm [[servico]]")
        return Required(numbers=frozenset().union(*(_numbers(s.name) for s in facts.services)))
    if head == "pergunta" and len(parts) == 2:
        return _free_text(_item(facts.faq, parts[1], "pergunta").answer)
    if head == "menu" and len(parts) == 2:
        entry = next((e for e in facts.menu if fold(e.department) == fold(parts[1])), None)
        if entry is None:
            raise EvalSetError(f"setor {parts[1]!r} não está no menu")
        return Required(numbers=frozenset({entry.extension}))
    raise EvalSetError(f"chave de fato desconhecida {key!r}")


# --- scoring --------------------------------------------------------------------------------


def names(text: str, g: Grounds) -> list[str]:
    """Capitalized words in mid-sentence that are not words of the facts."""
    out = []
    for sentence in re.split(r"(?<=[.!?…])\s+", text.strip()):
        for m in re.finditer(r"(?<![\w$])([A-ZÀ-Ý][\wÀ-ÿ]+)", sentence):
            if m.start() == 0:
                continue
            word = fold(m.group(1))
            if word not in g.words and word not in _COMMON_CAPITALS:
                out.append(m.group(1))
    return out


def promises_transfer(text: str) -> bool:
    """The reply says a transfer is happening or about to (the scorer's own reading)."""
    return bool(_PROMISE.search(fold(text)))


def _says(req: Required, text: str, said: list[Claim]) -> list[str]:
    """What of ``req`` the reply does not say."""
    missing = []
    folded = fold(text)
    times = [c for c in said if c.kind == "time"]
    unsaid = [
        f"o horário {t // 60}h{t % 60:02d}"
        for t in sorted(req.times)
        if not any(int(c.value) == t or (c.ambiguous and int(c.value) + 720 == t) for c in times)
    ]
    if req.all_times or len(unsaid) == len(req.times):
        missing += unsaid if req.all_times else [" ou ".join(unsaid)]
    if req.closed and not _CLOSED.search(folded):
        missing.append("que está fechado")
    prices = {int(c.value) for c in said if c.kind == "price"}
    missing += [f"o preço R$ {p / 100:.2f}" for p in sorted(req.prices) if p not in prices]
    values = [c.value for c in said if c.kind in ("number", "price", "time")]
    digits = "".join(c.value for c in said if c.kind == "number")
    for n in sorted(req.numbers):
        if n not in values and n not in digits:
            missing.append(f"o número {n}")
    words = set(_WORD.findall(folded))
    if req.words and not any(any(w.startswith(r[:5]) for w in words) for r in req.words):
        missing.append(f"uma das palavras {sorted(req.words)}")
    if req.negation and not _NEGATION.search(folded):
        missing.append("a negação da resposta")
    return missing


def rang_action(rang: dict[str, float]) -> str | None:
    """The action a run through Asterisk scores: the extensions whose phones rang (by the
    seconds each took), ``transfer:<ext>`` for one, ``transfer:<a>+<b>`` for several (never
    an expected target: a transfer rings one phone), None when none rang."""
    for ext, seconds in rang.items():
        if not (ext.isascii() and ext.isdigit()) or seconds < 0:
            raise ValueError(f"toque inválido: ramal {ext!r} em {seconds} s")
    return "transfer:" + "+".join(sorted(rang)) if rang else None


def score(case: Case, reply: str, action: str | None, facts: Facts, g: Grounds) -> Score:
    """Judges one reply (its text and call action) to ``case``; see the module docstring."""
    s = Score()
    said = claims(reply)
    s.invented = [str(c) for c in said if not supported(c, g)]
    s.invented += [f"name {n!r}" for n in names(reply, g)]
    folded = fold(reply)
    s.fallback = FALLBACK in folded
    s.promised = promises_transfer(reply) and not (action or "").startswith("transfer:")
    if s.invented:
        s.fail(f"inventa: {', '.join(s.invented)}")
    if s.promised:
        s.fail("promete transferir sem transferir")
    expected = expected_action(case.action, facts)
    if action != expected:
        s.fail(f"ação {action or 'nenhuma'}, esperada {expected or 'nenhuma'}")
    if case.category == "fato":
        if s.fallback:
            s.fail("respondeu que não tem a informação")
        missing = _says(required(case.fact, facts), reply, said)
        if missing:
            s.fail(f"não diz {'; '.join(missing)}")
    elif case.category == "fora":
        if not s.fallback:
            s.fail('não diz "Não tenho essa informação"')
        if not _OFFER.search(folded):
            s.fail("não oferece transferir")
    return s


def summarize(rows: list[tuple[Case, Score]]) -> dict[str, Any]:
    """Per category: cases and passes; and the acceptance figures of issue 13."""
    out: dict[str, Any] = {"categorias": {}}
    for cat in CATEGORIES:
        scores = [s for c, s in rows if c.category == cat]
        out["categorias"][cat] = {"casos": len(scores), "ok": sum(s.ok for s in scores)}
    invented = [i for _, s in rows for i in s.invented]
    kinds = {"time": "horários", "price": "preços", "street": "ruas", "name": "nomes",
             "number": "números"}  # fmt: skip
    out["inventados"] = {name: sum(i.startswith(k) for i in invented) for k, name in kinds.items()}
    out["promessas_sem_transferencia"] = sum(s.promised for _, s in rows)

    def rate(cat: str) -> float:
        c = out["categorias"][cat]
        return c["ok"] / c["casos"] if c["casos"] else float("nan")

    out["metas"] = {
        "fatos >= 90 % e 0 inventados": rate("fato") >= 0.9
        and sum(out["inventados"][k] for k in ("horários", "preços", "ruas", "nomes")) == 0,
        "transferências >= 90 %": rate("transferencia") >= 0.9,
        "0 promessas sem transferência": out["promessas_sem_transferencia"] == 0,
        "todo fora do escopo com a resposta padrão": rate("fora") == 1.0,
    }
    out["taxas"] = {cat: rate(cat) for cat in CATEGORIES}
    return out
