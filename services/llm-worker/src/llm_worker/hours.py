"""Questions about opening hours, answered from the facts without the model (sans-I/O).

Measured on the evaluation set (docs/perf/agent-eval.md), the local 1.5B model got opening
hours wrong in ways no grounding check can see: "Sim, estamos abrindo no domingo" when the
facts say Sunday is closed, "Sim, estamos funcionando no dia de Natal" on a closed holiday,
"o horário é igual para sábado" when Saturday closes at noon. The hours are structured in
the facts file, so a plain question about them is answered here, deterministically:

* a question is about hours when it says so ("horário", "que horas", "expediente",
  "funcionamento"), or asks whether the company opens, closes, works or answers ("abre",
  "fecha", "aberto", "funciona", "atende") on a day or moment it names (a weekday, "fim
  de semana", a holiday of the facts, "hoje", "amanhã", "agora"); "hoje" and "amanhã"
  are resolved with the call's date when it is given (a holiday of the facts on that
  date wins over the weekday), else the whole week is said, and so is "agora"; "a fatura
  não abre" or "como funciona a instalação?" are not questions about hours;
* the answer is for the days it names, or for a holiday of the facts named by its date
  ("31 de dezembro", "25/12") or its name ("Natal");
* the answer says those days' hours from the facts, in words the voice reads well
  ("No sábado, atendemos das oito ao meio-dia.", "No dia 25 de dezembro, Natal, estamos
  fechados."), or that the day is closed; with no
  hours in the facts it is the fallback, "Não tenho essa informação", and the offer.

A question that is not plainly about hours ("o suporte técnico atende pelo WhatsApp?")
is left to the model: :func:`hours_answer` returns None.
"""

from __future__ import annotations

import datetime as dt
import re

from llm_worker.claims import claims
from llm_worker.facts import NO_INFO, WEEKDAYS, Facts, Holiday, Interval, fold
from llm_worker.menu import offer

_WORD = re.compile(r"[a-z0-9]+")
# Words that ask about opening hours by themselves (folded).
_HOURS_CUES = {"horario", "horarios", "expediente", "funcionamento"}
# These ask about hours only with a day or a moment named ("vocês abrem no domingo?",
# "funcionam no Natal?", "está aberta agora?"), not alone ("a fatura não abre",
# "como funciona a instalação?").
_DAY_CUES = {
    "abre", "abrem", "abrir", "abriu", "abrindo", "aberto", "aberta", "abertos", "abertas",
    "fecha", "fecham", "fechar", "fechado", "fechada", "fechados", "funciona", "funcionam",
    "funcionando", "atende", "atendem", "atendendo", "trabalham", "trabalhando",
}  # fmt: skip
_MOMENTS = {"hoje", "amanha", "agora", "feriado", "feriados"}
_DAY_WORDS = {
    "segunda": "segunda", "terca": "terca", "quarta": "quarta", "quinta": "quinta",
    "sexta": "sexta", "sabado": "sabado", "sabados": "sabado", "domingo": "domingo",
    "domingos": "domingo",
}  # fmt: skip
MONTHS = (
    "janeiro", "fevereiro", "marco", "abril", "maio", "junho", "julho", "agosto", "setembro",
    "outubro", "novembro", "dezembro",
)  # fmt: skip
_SMALL = (
    "zero", "uma", "duas", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez",
    "onze", "doze", "treze", "catorze", "quinze", "dezesseis", "dezessete", "dezoito",
    "dezenove", "vinte",
)  # fmt: skip
_TENS = {20: "vinte", 30: "trinta", 40: "quarenta", 50: "cinquenta"}
_DAY_NAMES = {
    "segunda": "segunda-feira", "terca": "terça-feira", "quarta": "quarta-feira",
    "quinta": "quinta-feira", "sexta": "sexta-feira", "sabado": "sábado", "domingo": "domingo",
}  # fmt: skip


def _number(n: int) -> str:
    if n <= 20:
        return _SMALL[n]
    tens, unit = divmod(n, 10)
    return _TENS[tens * 10] + (f" e {_SMALL[unit]}" if unit else "")


def say_time(hhmm: str) -> str:
    """``"08:00"`` -> ``"oito"``, ``"12:00"`` -> ``"meio-dia"``, ``"18:30"`` -> ``"dezoito
    e trinta"``: how the agent says an hour (the claims reader reads it back)."""
    h, m = (int(x) for x in hhmm.split(":"))
    if (h, m) == (12, 0):
        return "meio-dia"
    if (h, m) in ((0, 0), (24, 0)):
        return "meia-noite"
    hour = _number(h)
    if m == 0:
        return hour
    return f"{hour} e {'meia' if m == 30 else _number(m)}"


def say_intervals(hours: tuple[Interval, ...]) -> str:
    """``das oito às dezoito horas`` / ``das oito ao meio-dia e das catorze às dezoito
    horas``; empty: closed."""
    parts = []
    for iv in hours:
        end = say_time(iv.end)
        to = "ao" if end in ("meio-dia", "meia-noite") else "às"
        suffix = "" if end in ("meio-dia", "meia-noite") else " horas"
        parts.append(f"das {say_time(iv.start)} {to} {end}{suffix}")
    return " e ".join(parts)


def _days(words: list[str]) -> list[str]:
    days = []
    for i, w in enumerate(words):
        day = _DAY_WORDS.get(w)
        if w == "fim" and words[i + 1 : i + 3] == ["de", "semana"]:
            days += ["sabado", "domingo"]
        elif day and day not in days:
            days.append(day)
    return [d for d in WEEKDAYS if d in days]


def _holiday(text: str, words: list[str], facts: Facts) -> Holiday | None:
    folded = fold(text)
    for h in facts.holidays:
        month = MONTHS[h.date.month - 1]
        named = [w for w in _WORD.findall(fold(h.name)) if len(w) >= 4]
        if named and all(w in words for w in named):
            return h
        if re.search(rf"\b0?{h.date.day}/0?{h.date.month}\b", folded):
            return h
        if month in words:  # "dia 25 de dezembro", "30 e 1 de dezembro" (heard as digits)
            before = " ".join(words[: words.index(month)])
            m = re.search(r"(\d+)(?: e (\d))? de$", before)
            if m and int(m[1]) + int(m[2] or 0) == h.date.day:
                return h
            if _spoken_day(before) == h.date.day:
                return h
    return None


def _spoken_day(before: str) -> int | None:
    """The day said in words right before "de <mês>" ("trinta e um de")."""
    found = [c for c in claims(before) if c.kind in ("number", "time")]
    if not found or not before.endswith(" de"):
        return None
    last = found[-1]
    value = int(last.value) // 60 if last.kind == "time" else int(last.value)
    return value if 1 <= value <= 31 else None


def is_hours_question(text: str, facts: Facts) -> bool:
    """Whether ``text`` plainly asks about opening hours (see the module docstring)."""
    words = _WORD.findall(fold(text))
    if not words:
        return False
    if _HOURS_CUES & set(words) or "que horas" in " ".join(words):
        return True
    named = _days(words) or _MOMENTS & set(words) or _holiday(text, words, facts)
    return bool(_DAY_CUES & set(words) and named)


def hours_answer(text: str, facts: Facts, today: dt.date | None = None) -> tuple[str, ...] | None:
    """The sentences that answer a question about opening hours, or None (see module);
    ``today``: the call's date, which resolves "hoje" and "amanhã"."""
    if not is_hours_question(text, facts):
        return None
    words = _WORD.findall(fold(text))
    if not facts.hours and not facts.holidays:
        return (NO_INFO, offer(facts))
    holiday = _holiday(text, words, facts)
    if holiday is None and today is not None and not _days(words):
        relative = _relative_day(words, facts, today)
        if relative is not None:
            return relative
    if holiday is not None:
        return (_holiday_sentence(holiday),)
    days = _days(words)
    if not days and {"feriado", "feriados"} & set(words):
        return _holidays_answer(facts)
    if not days:
        return _week_answer(facts)
    return _days_answer(days, facts)


def _holiday_sentence(holiday: Holiday) -> str:
    day = f"No dia {holiday.date.day} de {MONTHS[holiday.date.month - 1]}, {holiday.name}"
    if not holiday.hours:
        return f"{day}, estamos fechados."
    return f"{day}, atendemos {say_intervals(holiday.hours)}."


def _holidays_answer(facts: Facts) -> tuple[str, ...]:
    if not facts.holidays:
        return (NO_INFO, offer(facts))
    listed = "; ".join(
        f"dia {h.date.day} de {MONTHS[h.date.month - 1]}, {h.name}, "
        + (say_intervals(h.hours) if h.hours else "fechado")
        for h in facts.holidays
    )
    return (f"Nos feriados: {listed}.",)


def _week_answer(facts: Facts) -> tuple[str, ...]:
    if not facts.hours:
        return (NO_INFO, offer(facts))
    return (f"Nosso horário de atendimento: {_week(facts)}.",)


def _day_sentence(day: str, known: dict[str, tuple[Interval, ...]]) -> str:
    name = _DAY_NAMES[day]
    article = "No" if day in ("sabado", "domingo") else "Na"
    if day not in known:
        return f"{article} {name}, {NO_INFO[0].lower()}{NO_INFO[1:]}"
    if not known[day]:
        return f"{article} {name}, estamos fechados."
    return f"{article} {name}, atendemos {say_intervals(known[day])}."


def _days_answer(days: list[str], facts: Facts) -> tuple[str, ...]:
    """The answer for the weekdays named (in week order): one sentence a day, then the
    offer when one of them is not in the facts."""
    known = dict(facts.hours)
    sentences = [_day_sentence(day, known) for day in days]
    if any(d not in known for d in days):
        sentences.append(offer(facts))
    return tuple(sentences)


def static_answers(facts: Facts, today: dt.date | None = None) -> list[tuple[str, ...]]:
    """Every answer :func:`hours_answer` can give for ``facts`` whose text does not depend
    on the moment of the question (for the TTS phrase cache): the week, each weekday alone,
    the weekend, the holidays, each holiday; with ``today``, what "hoje" and "amanhã" get
    on that date. An answer naming other days together starts with the first day's
    single-day sentence, so its first piece is among these. No answer reads the clock:
    "agora" gets the week."""
    if not facts.hours and not facts.holidays:
        return [(NO_INFO, offer(facts))]
    answers = [_week_answer(facts), _holidays_answer(facts)]
    answers += [(_holiday_sentence(h),) for h in facts.holidays]
    answers += [_days_answer([day], facts) for day in WEEKDAYS]
    answers.append(_days_answer(["sabado", "domingo"], facts))  # "no fim de semana"
    if today is not None:
        for word in ("hoje", "amanha"):
            relative = _relative_day([word], facts, today)
            if relative is not None:
                answers.append(relative)
    return list(dict.fromkeys(answers))


def _relative_day(words: list[str], facts: Facts, today: dt.date) -> tuple[str, ...] | None:
    """ "Hoje" or "amanhã" said, resolved with the call's date: that date's holiday of the
    facts, else its weekday's hours; None when neither word is said (or both are)."""
    said = [w for w in ("hoje", "amanha") if w in words]
    if len(said) != 1:
        return None
    date = today if said[0] == "hoje" else today + dt.timedelta(days=1)
    label = "Hoje" if said[0] == "hoje" else "Amanhã"
    for h in facts.holidays:
        if h.date == date:
            if not h.hours:
                return (f"{label}, {h.name}, estamos fechados.",)
            return (f"{label}, {h.name}, atendemos {say_intervals(h.hours)}.",)
    day = WEEKDAYS[date.weekday()]
    known = dict(facts.hours)
    if day not in known:
        return None  # the week is said instead
    if not known[day]:
        return (f"{label}, {_DAY_NAMES[day]}, estamos fechados.",)
    return (f"{label}, {_DAY_NAMES[day]}, atendemos {say_intervals(known[day])}.",)


def _week(facts: Facts) -> str:
    """``de segunda a sexta, das oito às dezoito horas; no sábado, das oito ao meio-dia;
    domingo, fechado``."""
    groups: list[tuple[list[str], tuple[Interval, ...]]] = []
    for day, hours in facts.hours:
        if (
            groups
            and groups[-1][1] == hours
            and WEEKDAYS.index(day) == (WEEKDAYS.index(groups[-1][0][-1]) + 1)
        ):
            groups[-1][0].append(day)
        else:
            groups.append(([day], hours))
    parts = []
    for days, hours in groups:
        first = _DAY_NAMES[days[0]].removesuffix("-feira")
        last = _DAY_NAMES[days[-1]].removesuffix("-feira")
        label = f"de {first} a {last}" if len(days) > 1 else f"{first}"
        parts.append(f"{label}, {say_intervals(hours) if hours else 'fechado'}")
    return "; ".join(parts)
