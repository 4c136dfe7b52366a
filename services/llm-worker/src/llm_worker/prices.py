"""A service's price and what it includes, answered from the facts without the model
(sans-I/O).

Measured through Asterisk (bench/voice_to_voice.py), "Quanto custa o plano de 300 megas?"
and "O plano de 600 megas vem com roteador?" went to the local model (5.7-8.5 s on 2
cores) although the answer is a ``[[servico]]`` of the facts. Here:

* **which service**: the question must name exactly one ``[[servico]]`` by the words of
  its ``nome`` that no other service's name has (its *distinctive* words: "300" for "Plano
  300 megas" next to "Plano 600 megas"; "visita", "técnica", "fora", "garantia" for "Visita
  técnica fora da garantia"), compared folded and in the singular ("600 Mega" is "600
  megas"), numbers as digits or words ("seiscentos"). A distinctive number is enough; words
  need two of them (or all, if fewer): "garantia" alone names nothing. A number said that
  the service's texts do not hold ("o plano de 500 megas") names nothing either. Two
  services named, or none: the model answers (and the grounding guard checks it);
* **what is asked**: the price ("quanto custa", "qual o preço", "qual o valor", "quanto
  é", "quanto fica") or what the service includes ("vem com", "inclui", "tem", "possui",
  "acompanha"). Apart from these cues, the service's own words, the words that carry no
  topic (``PLAIN_WORDS``) and a few generic ones ("internet", "mensalidade"), the question
  may name nothing the service's facts do not: "o plano de 300 vem com roteador?" (its
  facts say nothing of a router) and "quanto custa para contratar o plano de 600?" are left
  to the model;
* **the answer** is one sentence from the facts, the same for both kinds: "O Plano 600
  megas custa cento e vinte e nove reais e noventa centavos por mês, com roteador Wi-Fi 6
  incluso." (price read out, :mod:`llm_worker.spoken`; the description as written). A price
  question about a service without ``preco`` gets "Não tenho essa informação." and the
  offer to transfer.

The transfer and hang-up intents, the keypad, the hours and the FAQ come first
(:func:`llm_worker.intent.plan_without_model`): "quero contratar o plano de 600 megas"
goes where it went before. :func:`service_answers` lists every answer this module can give
for the facts (for the TTS phrase cache).
"""

from __future__ import annotations

import re

from llm_worker.claims import claims
from llm_worker.company import NUMBER_WORDS, topics
from llm_worker.facts import NO_INFO, Facts, Service, fold
from llm_worker.menu import offer
from llm_worker.spoken import say_price

_WORD = re.compile(r"[a-z0-9]+")
# A whole number written in digits (not a piece of "99,90" or "1.000").
_DIGITS = re.compile(r"(?<![\d,.])\d+(?![,.]?\d)")
# Words of a service's name that do not tell it apart ("Plano de 300 megas").
_STOP = {"o", "a", "os", "as", "de", "da", "do", "das", "dos", "e", "em", "no", "na", "com",
         "sem", "para", "pra", "por", "um", "uma"}  # fmt: skip
# Price cues: a word, or "quanto" followed by one of _HOW_MUCH ("quanto é", "quanto fica").
_PRICE_WORDS = {"custa", "custam", "custaria", "custo", "preco", "precos", "valor",
                "valores", "mensalidade", "cobra", "cobram", "cobrado"}  # fmt: skip
_HOW_MUCH = {"e", "fica", "sai", "ta", "esta", "que", "seria", "vale", "pago", "pagaria"}
# What the service includes: "vem com roteador?", "inclui instalação?", "tem Wi-Fi?".
_INCLUDES = {"vem", "veem", "inclui", "incluem", "incluso", "inclusa", "incluido",
             "incluida", "acompanha", "possui", "tem", "teem"}  # fmt: skip
# Generic words a plain price or contents question may also hold.
_GENERIC = {"internet", "plano", "planos", "pacote", "servico", "mensal", "mensalidade",
            "assinatura", "velocidade", "mega", "giga", "cobrado", "cobram", "cobra",
            "custam", "custaria", "precos", "valores", "inclui", "incluem", "incluso",
            "inclusa", "incluido", "incluida", "acompanha", "possui", "tarde", "noite",
            "atualmente", "diz", "dizer", "passa", "informar"}  # fmt: skip


def _singular(word: str) -> str:
    """``megas`` -> ``mega``: the caller (or the STT) may say either."""
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def _tokens(text: str) -> set[str]:
    """The words that may name a service: folded, singular, without small words; numbers
    as digits, whether written as digits or in words ("seiscentos" -> "600")."""
    words = {
        _singular(w)
        for w in _WORD.findall(fold(text))
        if not w.isdigit() and w not in _STOP and w not in NUMBER_WORDS
    }
    # Numbers as claims reads them: "300 reais" is a price and "às 10" a time, not a
    # service's number; 1 and 2, which it skips as articles, from the digits ("1 giga").
    numbers = {c.value for c in claims(text) if c.kind == "number"}
    numbers |= {str(int(d)) for d in _DIGITS.findall(text) if int(d) < 3}
    return words | numbers


def _distinctive(facts: Facts) -> list[tuple[Service, set[str]]]:
    names = [_tokens(s.name) for s in facts.services]
    return [
        (s, names[i] - set().union(*(n for j, n in enumerate(names) if j != i)))
        for i, s in enumerate(facts.services)
    ]


def _named(said: set[str], distinctive: set[str], texts: set[str]) -> bool:
    """Whether the question names this service (see the module docstring)."""
    hits = said & distinctive
    if not hits:
        return False
    if {n for n in said if n.isdigit()} - texts:
        return False  # a number this service's facts do not hold: another service
    if any(h.isdigit() for h in hits):
        return True  # "300" in "Plano 300 megas" tells it apart by itself
    # Words: two of the distinctive ones (or all, if it has fewer), "visita técnica".
    return len(hits) >= min(2, len(distinctive))


def _asks(words: list[str]) -> bool:
    if (_PRICE_WORDS | _INCLUDES) & set(words):
        return True
    return any(
        w in ("quanto", "quanta") and words[i + 1 : i + 2] and words[i + 1] in _HOW_MUCH
        for i, w in enumerate(words)
    )


def _asks_price(words: list[str]) -> bool:
    if _PRICE_WORDS & set(words):
        return True
    return any(w in ("quanto", "quanta") for w in words)


def _article(name: str) -> str:
    """ "O" or "A" before a service's name, guessed from its first word's ending: "Plano",
    "Pacote", "Combo" -> "O"; "Visita", "Taxa", "Instalação", "Mensalidade" -> "A". A
    feminine word ending otherwise (or a masculine in -a, "Sistema") gets the wrong one;
    the operator's names seen so far are plans, visits and fees."""
    first = (_WORD.findall(fold(name)) or [""])[0]
    return "A" if first.endswith(("a", "cao", "sao", "dade", "gem", "tude")) else "O"


def service_sentences(service: Service, facts: Facts, *, price: bool) -> tuple[str, ...]:
    """What the agent says about ``service``; ``price``: the question asks the price (a
    service without one gets "Não tenho essa informação." and the offer)."""
    subject = f"{_article(service.name)} {service.name}"
    about = service.description.rstrip(" .")
    if service.price:
        said = f"{subject} custa {say_price(service.price).rstrip(' .')}"
        if not about:
            return (f"{said}.",)
        if about[0].islower():  # "com roteador Wi-Fi 6 incluso": goes on the sentence
            return (f"{said}, {about}.",)
        return (f"{said}.", f"{about}.")
    if price or not about:
        return (NO_INFO, offer(facts))
    if fold(about).startswith(("com ", "sem ")):
        return (f"{subject} vem {about}.",)  # "O Plano X vem com roteador."
    return (f"{subject}: {about[0].lower()}{about[1:]}.",)


def service_answer(text: str, facts: Facts) -> tuple[str, ...] | None:
    """The answer to a price or contents question naming one service, or None."""
    words = _WORD.findall(fold(text))
    if not words or not facts.services or not _asks(words):
        return None
    said = _tokens(text)
    named = []
    for service, distinctive in _distinctive(facts):
        texts = _tokens(f"{service.name} {service.price} {service.description}")
        if _named(said, distinctive, texts):
            named.append((service, texts))
    if len(named) != 1:
        return None
    ((service, texts),) = named
    own = set(_WORD.findall(fold(f"{service.name} {service.price} {service.description}")))
    cues = _PRICE_WORDS | _HOW_MUCH | _INCLUDES | _GENERIC
    if topics(words, cues | own | {_singular(t) for t in texts}):
        return None
    return service_sentences(service, facts, price=_asks_price(words))


def service_answers(facts: Facts) -> tuple[tuple[str, ...], ...]:
    """Every answer :func:`service_answer` can give for ``facts`` (for the phrase cache),
    without repeats."""
    out = [
        service_sentences(s, facts, price=asked) for s in facts.services for asked in (True, False)
    ]
    return tuple(dict.fromkeys(out))
