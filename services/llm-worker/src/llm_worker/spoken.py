"""Numbers in the facts written as the voice should say them (sans-I/O).

The TTS (Kokoro, phonemized by espeak-ng pt-BR) reads digits as one number: "R$ 129,90"
comes out as "reais cento e vinte e nove vírgula noventa" and "(19) 3333-4444" as "dezenove
três mil trezentos e trinta e três menos quatro mil ...". The persona asks the model to
write numbers as they are said; the fixed answers built from the facts do the same here:

* :func:`say_price`: ``"R$ 129,90 por mês"`` -> ``"cento e vinte e nove reais e noventa
  centavos por mês"`` (every ``R$ <valor>`` in the text; the rest is kept as written);
* :func:`say_phone`: ``"(19) 3333-4444"`` -> ``"dezenove, três três três três, quatro
  quatro quatro quatro"``: a two-digit area code as a number, the other groups digit by
  digit, as a phone number is read out in Brazil.

Both read back, through :func:`llm_worker.claims.claims`, as the values the facts hold
(the grounding guard and the evaluation's scorer accept them).
"""

from __future__ import annotations

import re

_UNITS = ("zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove")
_TEENS = (
    "dez", "onze", "doze", "treze", "catorze", "quinze", "dezesseis", "dezessete", "dezoito",
    "dezenove",
)  # fmt: skip
_TENS = ("", "", "vinte", "trinta", "quarenta", "cinquenta", "sessenta", "setenta", "oitenta",
         "noventa")  # fmt: skip
_HUNDREDS = ("", "cento", "duzentos", "trezentos", "quatrocentos", "quinhentos", "seiscentos",
             "setecentos", "oitocentos", "novecentos")  # fmt: skip
# "R$ 1.234,56", "R$ 99,90", "R$80": reais (thousands with dots), optional cents.
_PRICE = re.compile(r"R\$\s*(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?(?![\d,])")


def _below_thousand(n: int) -> str:
    if n < 10:
        return _UNITS[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS[tens] + (f" e {_UNITS[unit]}" if unit else "")
    if n == 100:
        return "cem"
    hundreds, rest = divmod(n, 100)
    return _HUNDREDS[hundreds] + (f" e {_below_thousand(rest)}" if rest else "")


def say_number(n: int) -> str:
    """A whole number from 0 to 999 999 in words (masculine: "dois reais")."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"{n} is out of range")
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return _below_thousand(rest)
    head = "mil" if thousands == 1 else f"{_below_thousand(thousands)} mil"
    if not rest:
        return head
    # "mil e cem", "mil e vinte", but "mil duzentos e trinta" (the usual Portuguese "e")
    link = " e " if rest < 100 or rest % 100 == 0 else " "
    return f"{head}{link}{_below_thousand(rest)}"


def _money(reais: int, cents: int) -> str:
    parts = []
    if reais or not cents:
        parts.append(f"{say_number(reais)} {'real' if reais == 1 else 'reais'}")
    if cents:
        parts.append(f"{say_number(cents)} {'centavo' if cents == 1 else 'centavos'}")
    return " e ".join(parts)


def say_price(text: str) -> str:
    """``text`` with every ``R$ <valor>`` said in words; a value too large is kept."""

    def words(m: re.Match[str]) -> str:
        reais = int(m[1].replace(".", ""))
        cents = int(m[2].ljust(2, "0")) if m[2] else 0
        if reais >= 1_000_000:
            return m[0]
        return _money(reais, cents)

    return _PRICE.sub(words, text)


def say_phone(value: str) -> str:
    """A phone number read out: a two-digit area code (not starting with 0) as a number,
    every other group of digits digit by digit, groups apart by commas; a value without
    digits (or with letters, such as an e-mail) is returned as written."""
    if re.search(r"[A-Za-z@]", value) or not re.search(r"\d", value):
        return value
    groups = re.findall(r"\d+", value)
    said = [
        say_number(int(g)) if len(g) == 2 and g[0] != "0" and i == 0 and len(groups) > 1
        else " ".join(_UNITS[int(d)] for d in g)
        for i, g in enumerate(groups)
    ]  # fmt: skip
    return ", ".join(said)
