"""The operator's facts: one TOML file, parsed and validated here (sans-I/O).

The file (Portuguese keys, documented in docs/AGENT.md and in the shipped example
``compose/agent/fatos.toml``) holds what the agent may say: the company's name, address and
phones, opening hours per weekday and holidays, the phone menu (department -> extension,
optionally a DTMF digit), the services and prices the operator publishes, and FAQ entries.

:func:`parse_facts` turns the text into a frozen :class:`Facts` or raises
:class:`~llm_worker.errors.FactsError` naming the field (``menu[2].ramal``) and the problem.
:func:`render_facts` writes the facts as a compact system-prompt block, always the same
text for the same facts (a local model's prefix cache keeps matching). :func:`render_today`
writes the line that tells the model the call's date and that day's hours; it goes last in
the system prompt, so the persona and the facts stay a prefix shared by every call.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llm_worker.errors import FactsError

WEEKDAYS = ("segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo")
WEEKDAY_NAMES = {
    "segunda": "segunda",
    "terca": "terça",
    "quarta": "quarta",
    "quinta": "quinta",
    "sexta": "sexta",
    "sabado": "sábado",
    "domingo": "domingo",
}
# "segunda-feira" ... "sexta-feira", "sábado", "domingo": by date.weekday()
WEEKDAY_LONG = tuple(
    f"{WEEKDAY_NAMES[d]}-feira" if i < 5 else WEEKDAY_NAMES[d] for i, d in enumerate(WEEKDAYS)
)
MONTHS = (
    *("janeiro", "fevereiro", "março", "abril", "maio", "junho"),
    *("julho", "agosto", "setembro", "outubro", "novembro", "dezembro"),
)
CLOSED = "fechado"
NO_INFO = "Não tenho essa informação."

_EXTENSION = re.compile(r"[0-9]{2,15}")
_DIGITS = frozenset("0123456789*#")
_INTERVAL = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])\s*-\s*([01]?[0-9]|2[0-4]):([0-5][0-9])")

_TOP = {"empresa", "horario", "feriado", "menu", "servico", "pergunta"}
_COMPANY = {"nome", "endereco", "telefone", "whatsapp", "email", "site", "sobre"}
_HOLIDAY = {"data", "nome", "horario"}
_MENU = {"setor", "ramal", "tecla", "descricao", "palavras"}
_SERVICE = {"nome", "preco", "descricao"}
_FAQ = {"pergunta", "resposta"}


def fold(text: str) -> str:
    """Lower case without accents (``Sábado`` -> ``sabado``), for keys and matching."""
    nfkd = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in nfkd if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class Interval:
    start: str  # "08:00"
    end: str  # "18:00"


@dataclass(frozen=True, slots=True)
class Holiday:
    date: dt.date
    name: str
    hours: tuple[Interval, ...] = ()  # empty: closed


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """A department the agent may transfer to."""

    department: str
    extension: str
    digit: str | None = None
    description: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    price: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class FaqEntry:
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Facts:
    company: str
    address: str = ""
    phones: tuple[tuple[str, str], ...] = ()  # (label, value): telefone, whatsapp, email, site
    about: str = ""
    hours: tuple[tuple[str, tuple[Interval, ...]], ...] = ()  # (weekday, intervals); () closed
    holidays: tuple[Holiday, ...] = ()
    menu: tuple[MenuEntry, ...] = ()
    services: tuple[Service, ...] = ()
    faq: tuple[FaqEntry, ...] = ()

    def entry_for_extension(self, extension: str) -> MenuEntry | None:
        return next((e for e in self.menu if e.extension == extension), None)

    def entry_for_digit(self, digit: str) -> MenuEntry | None:
        return next((e for e in self.menu if e.digit == digit), None)

    @property
    def extensions(self) -> tuple[str, ...]:
        """The menu's extensions, in file order, without repeats (the tool's enum)."""
        return tuple(dict.fromkeys(e.extension for e in self.menu))


class _Reader:
    """Typed reads from a TOML table; every error names the field's path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> FactsError:
        return FactsError(f"{self.source}: {where}: {problem}")

    def table(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"deve ser uma tabela, não {_kind(value)}")
        out: dict[str, Any] = {}
        for key, item in value.items():  # "endereço" is "endereco"
            name = fold(key)
            if name not in allowed:
                raise self.fail(
                    where,
                    f"chave desconhecida {key!r} (aceitas: {', '.join(sorted(allowed))})",
                )
            if name in out:
                raise self.fail(f"{where}.{key}", "chave repetida (com e sem acento)")
            out[name] = item
        return out

    def tables(self, value: Any, where: str, allowed: set[str]) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"deve ser uma lista de tabelas [[{where}]], não {_kind(value)}")
        return [self.table(v, f"{where}[{i + 1}]", allowed) for i, v in enumerate(value)]

    def text(self, t: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
        value = t.get(key)
        if value is None:
            if required:
                raise self.fail(f"{where}.{key}", "campo obrigatório ausente")
            return ""
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", f"deve ser texto entre aspas, não {_kind(value)}")
        value = " ".join(value.split())
        if required and not value:
            raise self.fail(f"{where}.{key}", "não pode ser vazio")
        return value


def parse_facts(text: str, *, source: str = "<fatos>") -> Facts:
    """Parses and validates the facts TOML; raises FactsError naming the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise FactsError(f"{source}: TOML inválido: {e}") from e
    r = _Reader(source)
    data = r.table(data, "arquivo", _TOP)
    if "empresa" not in data:
        raise r.fail("empresa", "tabela obrigatória [empresa] ausente")
    company = r.table(data["empresa"], "empresa", _COMPANY)
    phones = tuple(
        (key, r.text(company, key, "empresa"))
        for key in ("telefone", "whatsapp", "email", "site")
        if r.text(company, key, "empresa")
    )
    return Facts(
        company=r.text(company, "nome", "empresa", required=True),
        address=r.text(company, "endereco", "empresa"),
        phones=phones,
        about=r.text(company, "sobre", "empresa"),
        hours=_hours(r, data.get("horario")),
        holidays=_holidays(r, data.get("feriado")),
        menu=_menu(r, data.get("menu")),
        services=tuple(
            Service(
                name=r.text(s, "nome", f"servico[{i + 1}]", required=True),
                price=_price(r, s, f"servico[{i + 1}]"),
                description=r.text(s, "descricao", f"servico[{i + 1}]"),
            )
            for i, s in enumerate(r.tables(data.get("servico"), "servico", _SERVICE))
        ),
        faq=tuple(
            FaqEntry(
                question=r.text(f, "pergunta", f"pergunta[{i + 1}]", required=True),
                answer=r.text(f, "resposta", f"pergunta[{i + 1}]", required=True),
            )
            for i, f in enumerate(r.tables(data.get("pergunta"), "pergunta", _FAQ))
        ),
    )


def _kind(value: Any) -> str:
    names = {
        str: "texto",
        bool: "booleano",
        int: "número",
        float: "número",
        list: "lista",
        dict: "tabela",
        dt.date: "data",
        dt.datetime: "data e hora",
        dt.time: "hora",
    }
    return names.get(type(value), type(value).__name__)


def _intervals(r: _Reader, value: Any, where: str) -> tuple[Interval, ...]:
    """``"08:00-12:00, 13:00-18:00"`` or ``"fechado"``; () means closed."""
    if not isinstance(value, str):
        raise r.fail(where, f'deve ser texto como "08:00-18:00" ou "fechado", não {_kind(value)}')
    if fold(value.strip()) == CLOSED:
        return ()
    out: list[Interval] = []
    for part in value.split(","):
        m = _INTERVAL.fullmatch(part.strip())
        if m is None:
            raise r.fail(
                where,
                f'{part.strip()!r} não é um horário como "08:00-18:00" '
                '(vários: "08:00-12:00, 13:00-18:00"; ou "fechado")',
            )
        start = f"{int(m[1]):02d}:{m[2]}"
        end = f"{int(m[3]):02d}:{m[4]}"
        if end <= start or end > "24:00":
            raise r.fail(where, f"{part.strip()!r}: o fim deve ser depois do início")
        if out and start < out[-1].end:
            raise r.fail(where, f"{part.strip()!r} começa antes do fim do intervalo anterior")
        out.append(Interval(start, end))
    return tuple(out)


def _hours(r: _Reader, value: Any) -> tuple[tuple[str, tuple[Interval, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise r.fail("horario", f"deve ser uma tabela [horario], não {_kind(value)}")
    by_day: dict[str, tuple[Interval, ...]] = {}
    for key, hours in value.items():
        day = fold(key)
        if day.endswith("-feira"):
            day = day[: -len("-feira")]
        if day not in WEEKDAYS:
            raise r.fail(
                f"horario.{key}",
                f"dia desconhecido (aceitos: {', '.join(WEEKDAYS)})",
            )
        if day in by_day:
            raise r.fail(f"horario.{key}", "dia repetido")
        by_day[day] = _intervals(r, hours, f"horario.{key}")
    return tuple((d, by_day[d]) for d in WEEKDAYS if d in by_day)


def _holidays(r: _Reader, value: Any) -> tuple[Holiday, ...]:
    out: list[Holiday] = []
    seen: set[dt.date] = set()
    for i, h in enumerate(r.tables(value, "feriado", _HOLIDAY)):
        where = f"feriado[{i + 1}]"
        raw = h.get("data")
        if isinstance(raw, dt.datetime) or raw is None:
            raise r.fail(f"{where}.data", "deve ser uma data como 2026-12-25")
        if isinstance(raw, dt.date):
            date = raw
        elif isinstance(raw, str):
            try:
                date = dt.date.fromisoformat(raw.strip())
            except ValueError:
                raise r.fail(f"{where}.data", f"{raw!r} não é uma data como 2026-12-25") from None
        else:
            raise r.fail(f"{where}.data", f"deve ser uma data como 2026-12-25, não {_kind(raw)}")
        if date in seen:
            raise r.fail(f"{where}.data", f"{date.isoformat()} repetida")
        seen.add(date)
        hours = h.get("horario", CLOSED)
        out.append(
            Holiday(
                date=date,
                name=r.text(h, "nome", where, required=True),
                hours=_intervals(r, hours, f"{where}.horario"),
            )
        )
    return tuple(sorted(out, key=lambda x: x.date))


def _menu(r: _Reader, value: Any) -> tuple[MenuEntry, ...]:
    out: list[MenuEntry] = []
    digits: dict[str, str] = {}
    names: set[str] = set()
    for i, m in enumerate(r.tables(value, "menu", _MENU)):
        where = f"menu[{i + 1}]"
        department = r.text(m, "setor", where, required=True)
        if fold(department) in names:
            raise r.fail(f"{where}.setor", f"setor {department!r} repetido")
        names.add(fold(department))
        ext = m.get("ramal")
        if isinstance(ext, int) and not isinstance(ext, bool):
            raise r.fail(f"{where}.ramal", f'escreva o ramal entre aspas: ramal = "{ext}"')
        ext = r.text(m, "ramal", where, required=True)
        if not _EXTENSION.fullmatch(ext):
            raise r.fail(f"{where}.ramal", f"{ext!r} não é um ramal: só dígitos, de 2 a 15")
        digit: str | None = None
        if "tecla" in m:
            raw = m["tecla"]
            if isinstance(raw, int) and not isinstance(raw, bool):
                raw = str(raw)
            if not isinstance(raw, str) or len(raw.strip()) != 1 or raw.strip() not in _DIGITS:
                raise r.fail(f"{where}.tecla", f"{raw!r} não é uma tecla: um só de 0-9, * ou #")
            digit = raw.strip()
            if digit in digits:
                raise r.fail(
                    f"{where}.tecla", f"tecla {digit!r} repetida (já é do setor {digits[digit]!r})"
                )
            digits[digit] = department
        words = m.get("palavras", [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise r.fail(
                f"{where}.palavras", 'deve ser uma lista de textos: ["técnico", "defeito"]'
            )
        out.append(
            MenuEntry(
                department=department,
                extension=ext,
                digit=digit,
                description=r.text(m, "descricao", where),
                keywords=tuple(" ".join(w.split()) for w in words),
            )
        )
    return tuple(out)


def _price(r: _Reader, t: dict[str, Any], where: str) -> str:
    value = t.get("preco")
    if isinstance(value, bool):
        raise r.fail(f"{where}.preco", 'deve ser texto ("R$ 99,90 por mês") ou número')
    if isinstance(value, int | float):
        if value < 0:
            raise r.fail(f"{where}.preco", "não pode ser negativo")
        cents = round(value * 100)
        reais, c = divmod(cents, 100)
        whole = f"{reais:,}".replace(",", ".")
        return f"R$ {whole},{c:02d}"
    return r.text(t, "preco", where)


# --- rendering -------------------------------------------------------------------------


def _fmt_time(hhmm: str) -> str:
    h, m = hhmm.split(":")
    return f"{int(h)}h" if m == "00" else f"{int(h)}h{m}"


def _fmt_intervals(hours: tuple[Interval, ...]) -> str:
    if not hours:
        return CLOSED
    return " e ".join(f"das {_fmt_time(i.start)} às {_fmt_time(i.end)}" for i in hours)


def render_hours(facts: Facts) -> str:
    """``segunda a sexta, das 8h às 18h; sábado, das 8h às 12h; domingo, fechado``."""
    if not facts.hours:
        return ""
    known = dict(facts.hours)
    groups: list[tuple[list[str], tuple[Interval, ...] | None]] = []
    for day in WEEKDAYS:
        hours = known.get(day)
        if groups and groups[-1][1] == hours and hours is not None:
            groups[-1][0].append(day)
        else:
            groups.append(([day], hours))
    parts = []
    for days, hours in groups:
        if hours is None:
            continue
        names = [WEEKDAY_NAMES[d] for d in days]
        label = names[0] if len(names) == 1 else f"{names[0]} a {names[-1]}"
        parts.append(f"{label}, {_fmt_intervals(hours)}")
    return "; ".join(parts)


def _opt(before: str, value: str | None, after: str = "") -> str:
    """``value`` between ``before`` and ``after``; nothing when it is empty."""
    return f"{before}{value}{after}" if value else ""


def _listed(title: str, items: Iterable[str]) -> list[str]:
    """A titled list of the prompt (``- `` before each item); nothing without items."""
    bullets = [f"- {item}" for item in items]
    return [title, *bullets] if bullets else []


def render_facts(facts: Facts) -> str:
    """The facts as a compact system-prompt block; the same facts give the same text."""
    lines = ["FATOS DA EMPRESA (a única fonte das suas respostas):", f"Empresa: {facts.company}."]
    if facts.about:
        lines.append(f"Sobre: {facts.about}")
    if facts.address:
        lines.append(f"Endereço: {facts.address}.")
    labels = {"telefone": "Telefone", "whatsapp": "WhatsApp", "email": "E-mail", "site": "Site"}
    for key, value in facts.phones:
        lines.append(f"{labels[key]}: {value}.")
    if facts.hours:
        lines.append(f"Horário de atendimento: {render_hours(facts)}.")
    if facts.holidays:
        days = "; ".join(
            f"{h.date.day:02d}/{h.date.month:02d}/{h.date.year} ({h.name}), "
            f"{_fmt_intervals(h.hours)}"
            for h in facts.holidays
        )
        lines.append(f"Feriados: {days}.")
    if facts.menu:
        lines += _listed(
            "Setores para onde você pode transferir (ferramenta transfer_call):",
            [
                f"{e.department} (ramal {e.extension}{_opt(', tecla ', e.digit)})"
                f"{_opt(': ', e.description)}"
                for e in facts.menu
            ],
        )
    else:
        lines.append("Não há setores para transferir a ligação.")
    lines += _listed(
        "Serviços e preços:",
        [f"{s.name}{_opt(': ', s.price)}{_opt(' (', s.description, ')')}" for s in facts.services],
    )
    lines += _listed(
        "Perguntas frequentes (para uma pergunta parecida, diga a resposta):",
        [f'Pergunta: "{f.question}" Resposta: "{f.answer}"' for f in facts.faq],
    )
    lines += [
        "REGRAS DOS FATOS:",
        "- Responda só com estes fatos. Nunca invente horários, endereços, preços, prazos, "
        "nomes ou ramais.",
        "- Quando perguntarem um dado (telefone, WhatsApp, site, endereço, preço), diga o "
        "dado como está nos fatos.",
        f'- Se a resposta não estiver nos fatos, diga "{NO_INFO}" e ofereça transferir '
        "para um setor da lista. Não responda sim nem não sobre produtos, serviços, formas "
        "de pagamento, pessoas ou documentos que não estão nos fatos.",
        "- Só transfira para os ramais da lista de setores; para transferir, use a "
        "ferramenta transfer_call. Sem a ferramenta, não diga que está transferindo.",
    ]
    return "\n".join(lines)


def render_today(facts: Facts, day: dt.date) -> str:
    """The day, and the answer to "vocês abrem hoje?" from that day's hours::

        Hoje é segunda-feira, 7 de dezembro de 2026. Se perguntarem se abrimos hoje:
        "Sim, hoje abrimos das 8h às 18h."

    The hours are the holiday's on that date, else its weekday's; without hours for the day
    only the date is given (nothing to invent from). The answer is written out because the
    default 1.5B local model, given the date and the weekly hours, answered "Não tenho essa
    informação." every day tried, and given "Hoje a empresa abre ..." it still did so on
    closed days; with the answer written out it gave it on all 8 (docs/AGENT.md).
    """
    date = f"{'1º' if day.day == 1 else day.day} de {MONTHS[day.month - 1]} de {day.year}"
    text = f"Hoje é {WEEKDAY_LONG[day.weekday()]}, {date}"
    holiday = next((h for h in facts.holidays if h.date == day), None)
    hours: tuple[Interval, ...] | None
    if holiday is not None:
        text += f", feriado ({holiday.name})"
        hours = holiday.hours
    else:
        hours = dict(facts.hours).get(WEEKDAYS[day.weekday()])
    if hours is None:
        return f"{text}."
    if hours:
        answer = f"Sim, hoje abrimos {_fmt_intervals(hours)}."
    elif holiday is not None:
        answer = f"Não, hoje é feriado ({holiday.name}) e estamos fechados."
    else:
        answer = "Não, hoje estamos fechados."
    return f'{text}. Se perguntarem se abrimos hoje: "{answer}"'


def system_prompt(persona_prompt: str, facts: Facts, day: dt.date | None = None) -> str:
    """The persona's rules, the facts block, then (given ``day``) today's line: last, so
    that what comes before it is the same for every call on any day."""
    prompt = f"{persona_prompt.rstrip()}\n\n{render_facts(facts)}"
    return prompt if day is None else f"{prompt}\n\n{render_today(facts, day)}"
