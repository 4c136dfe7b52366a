"""What a reply states that the operator's facts must back (sans-I/O).

A small local model writes numbers as the persona asks, in words ("das oito às seis da
tarde", "cento e vinte e nove reais e noventa centavos"), or as digits ("8h", "08:00",
"R$ 129,90"); both are read here into the same values:

* **time**: minutes after midnight, from "8h", "8h30", "08:00", "às 8", "oito horas",
  "seis da tarde", "oito e meia", "meio-dia". A time said without morning/afternoon and
  at or below 12 ("às seis") is ambiguous: 6:00 or 18:00 both match;
* **price**: cents, from "R$ 129,90", "R$ 80", "129,90 reais", "oitenta reais",
  "cento e vinte e nove reais e noventa centavos";
* **number**: any other number of 3 or more (1 and 2 are articles: "um momento", "duas
  opções"), as digits: a plan's "600 megas", a street number, an extension "1002", a
  phone read digit by digit ("três três três três") is one number "3333";
* **street**: the name after "rua", "avenida", "alameda", "travessa", "praça", "estrada"
  or "rodovia" ("Rua das Flores" -> "flores").

:func:`claims` extracts them from a text; :func:`grounds` collects every value the facts
hold (the same reading applied to the rendered facts, plus the hours and prices from their
fields); :func:`unsupported` returns the claims the facts do not back. The agent's
grounding guard (:mod:`llm_worker.grounding`) and the evaluation bench use these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_worker.facts import Facts, fold, render_facts

UNITS = {
    "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5,
    "seis": 6, "sete": 7, "oito": 8, "nove": 9,
}  # fmt: skip
TEENS = {
    "dez": 10, "onze": 11, "doze": 12, "treze": 13, "catorze": 14, "quatorze": 14,
    "quinze": 15, "dezesseis": 16, "dezessete": 17, "dezoito": 18, "dezenove": 19,
}  # fmt: skip
TENS = {
    "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "sessenta": 60,
    "setenta": 70, "oitenta": 80, "noventa": 90,
}  # fmt: skip
HUNDREDS = {
    "cem": 100, "cento": 100, "duzentos": 200, "duzentas": 200, "trezentos": 300,
    "trezentas": 300, "quatrocentos": 400, "quatrocentas": 400, "quinhentos": 500,
    "quinhentas": 500, "seiscentos": 600, "seiscentas": 600, "setecentos": 700,
    "setecentas": 700, "oitocentos": 800, "oitocentas": 800, "novecentos": 900,
    "novecentas": 900,
}  # fmt: skip
# Size class of a number word: a word continues a number after "e" only when it is of a
# smaller class than the word before it ("cento e vinte e nove"; "três e quatro" is two).
_CLASS = {**dict.fromkeys(UNITS, 0), **dict.fromkeys(TEENS, 1), **dict.fromkeys(TENS, 1)}
_CLASS |= dict.fromkeys(HUNDREDS, 2)
_VALUE = {**UNITS, **TEENS, **TENS, **HUNDREDS}

STREET_WORDS = ("rua", "avenida", "av", "alameda", "travessa", "praca", "estrada", "rodovia")
_LINKS = {"da", "de", "do", "das", "dos"}
_TIME_PREPS = {"as", "das", "ate", "a", "partir"}
_HOUR_WORDS = {"h", "hora", "horas", "hs"}
_PERIODS = {"manha", "tarde", "noite"}
# After these a number counts things, not the hour ("até três dias úteis").
_COUNT_NOUNS = {
    "dia", "dias", "uteis", "semana", "semanas", "mes", "meses", "ano", "anos", "minuto",
    "minutos", "mega", "megas", "vez", "vezes", "parcela", "parcelas", "pessoa", "pessoas",
    "plano", "planos", "real", "reais", "centavos", "mil",
}  # fmt: skip

_TOKEN = re.compile(
    r"r\$"
    r"|(?P<hm>\d{1,2})h(?P<hmm>\d{2})\b"
    r"|(?P<h>\d{1,2})h\b"
    r"|(?P<clock>\d{1,2}):(?P<clockm>\d{2})\b"
    r"|(?P<thousands>\d{1,3}(?:\.\d{3})+)(?:,(?P<tc>\d{2}))?(?!\d)"
    r"|(?P<int>\d+),(?P<dec>\d{1,2})(?!\d)"
    r"|(?P<num>\d+)"
    r"|(?P<word>[a-z]+)"
)


@dataclass(frozen=True, slots=True)
class Claim:
    kind: str  # "time" | "price" | "number" | "street"
    value: str  # minutes after midnight, cents, the number's digits, or the street's name
    text: str  # what the reply said, for reports
    ambiguous: bool = False  # a time said without morning/afternoon, at or below 12

    def __str__(self) -> str:
        return f"{self.kind} {self.text!r}"


@dataclass(frozen=True, slots=True)
class Grounds:
    """Every value the facts hold, as :func:`claims` reads them."""

    times: frozenset[int]
    prices: frozenset[int]
    numbers: frozenset[str]
    digits: tuple[str, ...]  # the facts' phone numbers as digits ("1933334444")
    words: frozenset[str]


@dataclass
class _Tok:
    word: str = ""  # a word (folded); "" for a number
    value: int | None = None  # a whole number
    cents: int | None = None  # "129,90": a decimal, as cents
    minutes: int | None = None  # "8h", "08:00": a time
    text: str = ""
    digit_run: str = ""  # numbers said digit by digit ("três três três três")


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _TOKEN.finditer(fold(text)):
        g = m.group
        if m.group(0) == "r$":
            out.append(_Tok(word="r$", text="R$"))
        elif g("hm") is not None:
            out.append(_Tok(minutes=int(g("hm")) * 60 + int(g("hmm")), text=m.group(0)))
        elif g("h") is not None:
            out.append(_Tok(minutes=int(g("h")) * 60, text=m.group(0)))
        elif g("clock") is not None:
            out.append(_Tok(minutes=int(g("clock")) * 60 + int(g("clockm")), text=m.group(0)))
        elif g("thousands") is not None:
            whole = int(g("thousands").replace(".", ""))
            cents = None if g("tc") is None else whole * 100 + int(g("tc"))
            out.append(_Tok(value=whole, cents=cents, text=m.group(0)))
        elif g("int") is not None:
            dec = g("dec").ljust(2, "0")
            out.append(_Tok(value=int(g("int")), cents=int(g("int")) * 100 + int(dec),
                            text=m.group(0)))  # fmt: skip
        elif g("num") is not None:
            digits = g("num")
            out.append(_Tok(value=int(digits), text=digits, digit_run=digits))
        else:
            out.append(_Tok(word=g("word"), text=g("word")))
    return _numbers_in_words(out)


def _numbers_in_words(tokens: list[_Tok]) -> list[_Tok]:
    """Joins number words into numbers: "cento e vinte e nove" -> 129, "mil e dois" ->
    1002; single digits said one after another become one digit run."""
    out: list[_Tok] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.word not in _VALUE and t.word != "mil":
            out.append(t)
            i += 1
            continue
        total, small, last_class, words = 0, 0, 9, []
        j = i
        while j < len(tokens):
            w = tokens[j].word
            if w == "mil":
                total += (small or 1) * 1000
                small, last_class = 0, 3
                words.append(w)
                j += 1
                continue
            if w == "e" and j + 1 < len(tokens) and tokens[j + 1].word in _VALUE and words:
                nxt = tokens[j + 1].word
                if _CLASS[nxt] < last_class:
                    small += _VALUE[nxt]
                    last_class = _CLASS[nxt]
                    words += [w, nxt]
                    j += 2
                    continue
                break
            if w in _VALUE and (not words or last_class == 3):
                small += _VALUE[w]
                last_class = _CLASS[w]
                words.append(w)
                j += 1
                continue
            break
        value = total + small
        out.append(_Tok(value=value, text=" ".join(words)))
        i = j
    return _digit_runs(out)


def _single_digit(tok: _Tok) -> bool:
    """A number from 0 to 9, alone (no cents, not already a run)."""
    return tok.value is not None and tok.value < 10 and tok.cents is None and not tok.digit_run


def _digit_runs(tokens: list[_Tok]) -> list[_Tok]:
    """Three or more single-digit numbers in a row ("três três três três") are one run."""
    out: list[_Tok] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and _single_digit(tokens[j]):
            j += 1
        if j - i >= 3:
            run = "".join(str(t.value) for t in tokens[i:j])
            out.append(_Tok(value=int(run), text=" ".join(t.text for t in tokens[i:j]),
                            digit_run=run))  # fmt: skip
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return out


def _word(tokens: list[_Tok], i: int) -> str:
    return tokens[i].word if 0 <= i < len(tokens) else ""


def claims(text: str) -> list[Claim]:
    """The times, prices, numbers and street names stated in ``text``."""
    toks = _tokens(text)
    out: list[Claim] = []
    used: set[int] = set()
    n = len(toks)
    for i, t in enumerate(toks):
        if i in used:
            continue
        # -- times ------------------------------------------------------------------
        if t.word == "meio" and _word(toks, i + 1) == "dia":
            out.append(Claim("time", str(12 * 60), "meio-dia"))
            used |= {i, i + 1}
            continue
        if t.word == "meia" and _word(toks, i + 1) == "noite":
            out.append(Claim("time", "0", "meia-noite"))
            used |= {i, i + 1}
            continue
        if t.value is None and t.minutes is None:
            if t.word in STREET_WORDS:
                k = i + 1
                while _word(toks, k) in _LINKS:
                    k += 1
                name = _word(toks, k)
                if name and name not in _LINKS:
                    out.append(Claim("street", name, f"{t.word} {name}"))
            continue
        if t.word == "" and t.minutes is None and _word(toks, i - 1) == "r$":
            cents = t.cents if t.cents is not None else (t.value or 0) * 100
            out.append(Claim("price", str(cents), f"R$ {t.text}"))
            used.add(i)
            continue
        after = _word(toks, i + 1)
        if t.minutes is not None or (
            t.value is not None
            and t.cents is None
            and t.value <= 24
            and after not in _COUNT_NOUNS
            and (
                after in _HOUR_WORDS
                or _word(toks, i - 1) in _TIME_PREPS
                or (after == "da" and _word(toks, i + 2) in _PERIODS)
                or (after == "e" and _word(toks, i + 2) == "meia")
            )
        ):
            claim, end = _time(toks, i)
            out.append(claim)
            used |= set(range(i, end))
            continue
        # -- prices -----------------------------------------------------------------
        if after in {"reais", "real"}:
            cents = (t.value or 0) * 100 if t.cents is None else t.cents
            spoken = f"{t.text} {after}"
            if (  # "e noventa (centavos)"
                _word(toks, i + 2) == "e"
                and i + 3 < n
                and toks[i + 3].value is not None
                and toks[i + 3].cents is None
                and (toks[i + 3].value or 0) < 100
            ):
                cents += toks[i + 3].value or 0
                spoken += f" e {toks[i + 3].text}"
                if _word(toks, i + 4) in {"centavos", "centavo"}:
                    spoken += f" {_word(toks, i + 4)}"
                used.add(i + 3)
            out.append(Claim("price", str(cents), spoken))
            used.add(i)
            continue
        if after in {"centavos", "centavo"}:
            out.append(Claim("price", str(t.value or 0), f"{t.text} {after}"))
            used.add(i)
            continue
        if t.cents is not None:
            out.append(Claim("price", str(t.cents), t.text))
            used.add(i)
            continue
        # -- other numbers ----------------------------------------------------------
        if t.digit_run or (t.value is not None and t.value >= 3):
            out.append(Claim("number", t.digit_run or str(t.value), t.text))
            used.add(i)
    return out


def _time(toks: list[_Tok], i: int) -> tuple[Claim, int]:
    """The time that starts at token ``i`` ("8h30", "oito e meia da noite", "18 horas"),
    and the index of the token after it."""
    t = toks[i]
    digits = t.minutes is not None
    minutes = t.minutes if t.minutes is not None else (t.value or 0) * 60
    spoken = t.text
    k = i + 1
    if _word(toks, k) in _HOUR_WORDS:
        spoken += f" {_word(toks, k)}"
        k += 1
    if _word(toks, k) == "e" and _word(toks, k + 1) == "meia":
        minutes += 30
        spoken += " e meia"
        k += 2
    elif (
        not digits
        and _word(toks, k) == "e"
        and k + 1 < len(toks)
        and toks[k + 1].value is not None
        and toks[k + 1].cents is None
        and 0 < (toks[k + 1].value or 0) < 60
        and _word(toks, k + 2) in {"minutos", "minuto"}
    ):
        minutes += toks[k + 1].value or 0
        spoken += f" e {toks[k + 1].text} minutos"
        k += 3
    period = _word(toks, k + 1) if _word(toks, k) == "da" else ""
    period = period if period in _PERIODS else ""
    ambiguous = not digits and minutes <= 12 * 60 and not period
    if period:
        spoken += f" da {period}"
        k += 2
        if period != "manha" and minutes < 12 * 60:
            minutes += 12 * 60
    return Claim("time", str(minutes), spoken, ambiguous), k


# Words of a caller's question that name no topic (compared on their first 5 letters).
PLAIN_WORDS = {
    "voces", "voce", "queria", "quero", "gostaria", "saber", "qual", "quais", "quanto",
    "quantos", "quando", "onde", "como", "porque", "tenho", "temos", "posso", "pode",
    "podem", "fazer", "fazem", "sobre", "favor", "aqui", "agora", "hoje", "empresa", "loja",
    "lojas", "seria", "preciso", "precisa", "existe", "algum", "alguma", "outro", "outra",
    "mesmo", "ainda", "tambem", "minha", "nossa", "desse", "dessa", "deste", "desta",
    "fica", "ficam", "custa", "custo", "preco", "valor", "isso", "esse", "essa", "este",
    "esta", "estao", "entao", "obrigado", "obrigada", "eles", "elas", "para", "pela", "pelo",
    "perto", "longe", "numero", "pago", "paga", "pagar", "demora", "demoram", "leva",
    "tempo", "dias", "feita", "feito", "depois", "antes", "tres", "hora", "horas", "semana",
    "meses", "anos", "sempre", "muito", "pouco", "mais", "menos",
}  # fmt: skip
STEM = 5


def stems(text: str) -> set[str]:
    """The first 5 letters of each word of 4+ letters (folded): a crude stem for topics."""
    return {w[:STEM] for w in re.findall(r"[a-z]+", fold(text)) if len(w) >= 4}


PLAIN_STEMS = frozenset(w[:STEM] for w in PLAIN_WORDS)


def grounds(facts: Facts) -> Grounds:
    """Every time, price, number and word of the facts, read as :func:`claims` reads."""
    text = render_facts(facts)
    found = claims(text)
    times = {int(c.value) for c in found if c.kind == "time"}
    for _, intervals in facts.hours:
        for iv in intervals:
            times |= {_minutes(iv.start), _minutes(iv.end)}
    for h in facts.holidays:
        for iv in h.hours:
            times |= {_minutes(iv.start), _minutes(iv.end)}
    prices = {int(c.value) for c in found if c.kind == "price"}
    numbers = {c.value for c in found if c.kind == "number"}
    for cents in list(prices):  # "cento e vinte e nove e noventa" said without "reais"
        numbers |= {str(cents // 100), str(cents % 100)}
    for minutes in times:
        numbers.add(str(minutes // 60))
    digits = tuple(
        "".join(re.findall(r"\d", value)) for _, value in facts.phones if re.search(r"\d", value)
    )
    numbers |= {d for d in re.findall(r"\d+", text)}
    return Grounds(
        times=frozenset(times),
        prices=frozenset(prices),
        numbers=frozenset(numbers),
        digits=digits,
        words=frozenset(re.findall(r"[a-z]+", fold(text))),
    )


def ends_in_number(text: str) -> bool:
    """Whether ``text`` stops where a number may go on ("custa cento e", "R$"): a piece
    cut there is read with the next one."""
    words = re.findall(r"r\$|\d+|[a-z]+", fold(text.rstrip(" ,;:")))
    if not words or text.rstrip().endswith((".", "!", "?", "…")):
        return False
    last = words[-1]
    if last in ("r$", "mil") or last in _VALUE or last.isdigit():
        return True
    return last == "e" and len(words) > 1 and (words[-2] in _VALUE or words[-2].isdigit())


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def supported(claim: Claim, g: Grounds) -> bool:
    """Whether the facts back this one claim."""
    if claim.kind == "time":
        minutes = int(claim.value)
        if minutes in g.times:
            return True
        return claim.ambiguous and (minutes + 12 * 60) in g.times
    if claim.kind == "price":
        return int(claim.value) in g.prices
    if claim.kind == "number":
        if claim.value in g.numbers:
            return True
        # a piece of a phone number read apart ("nove nove nove nove nove")
        return len(claim.value) >= 4 and any(claim.value in d for d in g.digits)
    return claim.value in g.words


def unsupported(text: str, g: Grounds) -> list[Claim]:
    """The claims of ``text`` that the facts do not back."""
    return [c for c in claims(text) if not supported(c, g)]
