"""The company's address and phone, answered from the facts without the model (sans-I/O).

Measured through Asterisk (bench/voice_to_voice.py), "Onde fica a empresa?" went to the
local model: 5.7-8.5 s of dead air on 2 cores, against about 2 s for an answer from the
facts. The address and the phone are fields of ``[empresa]``, so a plain question about
them is answered here (the WhatsApp, the site and the e-mail: :mod:`llm_worker.faq`):

* **address**: the caller says "endereço", "localização", asks where the company is
  ("onde fica", "onde vocês ficam", "onde é", "onde estão") or which street ("qual a
  rua?"); answer: "O nosso endereço é Rua das Flores, 123, Centro, Campinas, São Paulo.";
* **phone**: the caller says "telefone", "fone" or "fixo"; answer: "O telefone é dezenove,
  três três três três, quatro quatro quatro quatro." (read out, :mod:`llm_worker.spoken`).

Only a plain question: apart from these cues, the words that carry no topic (``PLAIN_WORDS``
of :mod:`llm_worker.claims`) and the words of the address, the company's name and a few
place nouns ("loja", "sede"), the question may name nothing else. "Onde fica o roteador?",
"quero mudar o endereço da instalação", "qual é o telefone do suporte?" (the suporte's
extension, not the company's phone) and any "meu"/"minha" ("o meu telefone não
funciona") are left to the model. A question asking both (address and phone) too.

With the field absent from the facts the answer is "Não tenho essa informação." and the
offer to transfer, as for the hours. :func:`company_answers` lists every answer this
module can give for the facts (for the TTS phrase cache): they depend on the facts only.
"""

from __future__ import annotations

import re

from llm_worker.claims import HUNDREDS, PLAIN_STEMS, TEENS, TENS, UNITS
from llm_worker.facts import NO_INFO, Facts, fold
from llm_worker.menu import offer
from llm_worker.spoken import say_phone

_WORD = re.compile(r"[a-z0-9]+")
# Numbers said in words ("seiscentos") are values, not topics.
NUMBER_WORDS = frozenset({*UNITS, *TEENS, *TENS, *HUNDREDS, "mil"})
STEM = 5  # compare words on their first 5 letters, as claims.stems does ("ficam"/"fica")

# The caller speaks of their own address or phone: not a question about the company's.
_OWN = {"meu", "minha", "meus", "minhas"}
# Words that ask for the address by themselves.
_ADDRESS_CUES = {"endereco", "enderecos", "localizacao", "localizada", "localizado",
                 "localizados", "localizadas", "situada", "situado"}  # fmt: skip
# After "onde": the verbs of "where is it" ("onde fica", "onde vocês estão", "onde é").
_WHERE_VERBS = {"fica", "ficam", "e", "estao", "esta", "sao", "ficas", "localiza",
                "localizam", "situa"}  # fmt: skip
# "qual a rua?", "que bairro?": asking which street is asking for the address.
_WHICH = {"qual", "que"}
_STREET = {"rua", "bairro", "avenida"}
_PHONE_CUES = {"telefone", "telefones", "fone", "fixo"}
# Words a plain question about the company's address or phone may also hold: place nouns,
# "pass me / tell me" verbs, greetings ("me passa o endereço", "boa tarde, qual o telefone
# da loja?"). Anything else of 4+ letters makes it another question (the model answers).
_ALLOWED = {
    "empresa", "loja", "lojas", "escritorio", "sede", "unidade", "atendimento", "fisica",
    "presencial", "exatamente", "certinho", "passa", "passar", "passe", "diz", "dizer",
    "diga", "fala", "falar", "informa", "informar", "informe", "manda", "mandar", "poderia",
    "podia", "sabe", "tarde", "noite", "numero", "contato", "ligar", "rua", "bairro",
    "cidade", "avenida", "endereco", "localizacao", "localizada", "localizado", "situada",
    "situado", "telefone", "fone", "fixo", "vcs", "oi", "ola", "alo",
}  # fmt: skip


def _stem(word: str) -> str:
    """A word's first 5 letters, singular ("lojas" and "loja" alike)."""
    if len(word) > 4 and word.endswith("s"):
        word = word[:-1]
    return word[:STEM]


def topics(words: list[str], allowed: set[str] | frozenset[str]) -> set[str]:
    """The stems of the words of 4+ letters that name something: not a plain word, not
    one of ``allowed`` (compared on stems), not a number (in digits or in words)."""
    allowed_stems = {_stem(w) for w in allowed}
    return {
        _stem(w)
        for w in words
        if len(w) >= 4
        and not w.isdigit()
        and w not in NUMBER_WORDS
        and _stem(w) not in allowed_stems | PLAIN_STEMS
    }


def _asks_address(words: list[str]) -> bool:
    if _ADDRESS_CUES & set(words):
        return True
    for i, w in enumerate(words):
        if w == "onde" and _WHERE_VERBS & set(words[i + 1 : i + 4]):
            return True  # "onde fica", "onde vocês ficam", "onde é que fica"
        if w in _WHICH and _STREET & set(words[i + 1 : i + 3]):
            return True  # "qual a rua", "que bairro"
    return False


def address_answer(facts: Facts) -> tuple[str, ...]:
    """What the agent says for the company's address (the facts' text as written)."""
    if not facts.address:
        return (NO_INFO, offer(facts))
    return (f"O nosso endereço é {facts.address.rstrip('.')}.",)


def phone_answer(facts: Facts) -> tuple[str, ...]:
    """What the agent says for the company's phone, read out digit by digit."""
    phone = dict(facts.phones).get("telefone")
    if not phone:
        return (NO_INFO, offer(facts))
    return (f"O telefone é {say_phone(phone)}.",)


def company_answer(text: str, facts: Facts) -> tuple[str, ...] | None:
    """The answer to a plain question about the company's address or phone, or None."""
    words = _WORD.findall(fold(text))
    if not words or _OWN & set(words):
        return None
    address = _asks_address(words)
    phone = bool(_PHONE_CUES & set(words))
    if address == phone:  # neither, or both at once: the model answers
        return None
    place = set(_WORD.findall(fold(f"{facts.address} {facts.company}")))
    if topics(words, _ALLOWED | _ADDRESS_CUES | _WHERE_VERBS | place):
        return None
    return address_answer(facts) if address else phone_answer(facts)


def company_answers(facts: Facts) -> tuple[tuple[str, ...], ...]:
    """Every answer :func:`company_answer` can give for ``facts`` (for the phrase cache)."""
    return (address_answer(facts), phone_answer(facts))
