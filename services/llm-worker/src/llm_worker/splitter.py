"""Sentence and clause splitter for streamed Portuguese text (sans-I/O).

The LLM streams text in small deltas; the TTS wants whole sentences, and the first one as
early as possible so that speech starts before the reply is finished. ``SentenceSplitter``
is fed the deltas and returns each piece as soon as its end is certain:

* a sentence ends at ``.``, ``!``, ``?``, ``...`` or ``…`` (plus closing quotes or brackets)
  followed by white space; after ``.`` and ellipses it also waits for the next word, which
  must not start in lower case ("Bem... deixa eu ver" is one sentence);
* a period is not an end after a title or address abbreviation (``Sr.``, ``Dra.``, ``Av.``,
  ``nº.``...), after a single capital initial (``J. Silva``) or when the piece is only a
  number (``1.`` of a list); numbers (``1.000,50``), times (``14:30``) and decimals never
  split because no white space follows their punctuation;
* the first piece of a reply may be a clause: it is cut at ``,`` ``;`` ``:`` followed by
  white space once it holds at least ``first_clause_min_chars`` characters;
* with ``first_words_min`` > 0 the first piece is released even sooner, without waiting for
  any punctuation: after ``first_words_min`` whole words (a word is whole once white space
  follows it, so a word is never cut), at the first word that can end a phrase (not an
  article, preposition, conjunction, pronoun or auxiliary, and not the first word of a new
  clause), and after ``first_words_max`` words at the latest;
* with ``clause_min_chars`` > 0 the later pieces are cut at clause marks too, once a piece
  holds that many characters (0: later pieces end at sentence ends only);
* a line break ends a piece; a piece longer than ``max_chars`` is cut at its last clause
  mark or space, so the TTS never waits for an endless sentence.

Pieces come out cleaned for speech (markdown marks removed, spaces collapsed).

A text known in full (a fixed answer, spoken without the model) is cut the same way with
:func:`split_known`, so its first clause reaches the TTS on its own and is heard first.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

# Abbreviations after which a period is never a sentence end (they precede a name or number).
TITLE_ABBREVIATIONS = frozenset(
    {
        "sr",
        "sra",
        "srs",
        "sras",
        "srta",
        "sr(a)",
        "dr",
        "dra",
        "drs",
        "dras",
        "dr(a)",
        "prof",
        "profa",
        "profª",
        "eng",
        "enga",
        "engª",
        "exmo",
        "exma",
        "ilmo",
        "ilma",
        "sto",
        "sta",
        "av",
        "r",
        "al",
        "pça",
        "rod",
        "trav",
        "tel",
        "cel",
        "nº",
        "n",
        "núm",
        "art",
        "cap",
        "pág",
        "pag",
        "p",
        "vol",
        "fig",
        "ex",
        "dept",
        "depto",
        "apto",
        "bl",
        "mr",
        "mrs",
        "ms",
        "st",
        "vs",
    }
)

# Words after which a phrase rarely ends (articles, prepositions, conjunctions, pronouns,
# possessives, auxiliaries): the first piece is not cut right after one of them unless it
# already holds ``first_words_max`` words. Lower case, without punctuation.
WEAK_ENDS = frozenset(
    {
        "o",
        "a",
        "os",
        "as",
        "um",
        "uma",
        "uns",
        "umas",
        "de",
        "do",
        "da",
        "dos",
        "das",
        "em",
        "no",
        "na",
        "nos",
        "nas",
        "num",
        "numa",
        "por",
        "pelo",
        "pela",
        "pelos",
        "pelas",
        "para",
        "pra",
        "pro",
        "com",
        "sem",
        "sob",
        "sobre",
        "ao",
        "aos",
        "à",
        "às",
        "até",
        "entre",
        "após",
        "desde",
        "e",
        "ou",
        "mas",
        "que",
        "se",
        "como",
        "porque",
        "pois",
        "quando",
        "onde",
        "nem",
        "me",
        "te",
        "lhe",
        "lhes",
        "eu",
        "meu",
        "minha",
        "meus",
        "minhas",
        "seu",
        "sua",
        "seus",
        "suas",
        "nosso",
        "nossa",
        "nossos",
        "nossas",
        "é",
        "são",
        "está",
        "estão",
        "foi",
        "vai",
        "vou",
        "vamos",
        "posso",
        "pode",
        "podemos",
        "não",
        "muito",
        "mais",
        "the",
        "to",
        "of",
        "and",
        "is",
    }
)

_SENTENCE_PUNCT = ".!?…"
_CLAUSE_PUNCT = ",;:"
# Typographic quotes and dashes are written as escapes (ruff RUF001 flags them as ambiguous).
_CLOSERS = "\"')]»\u201d\u2019"
_OPENERS = "\"'([-¿¡«\u201c\u2018\u2014\u2013"
_TOKEN_BEFORE = re.compile(r"([\w()ºª]+)$")
_MARKDOWN = re.compile(r"[*_#`]+")
_BULLET = re.compile(r"^\s*(?:[-•]\s+)")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?…][\"')\]»\u201d\u2019]*$")


def clean_for_speech(text: str) -> str:
    """Strips what a voice should not read: markdown marks, bullets, repeated spaces."""
    text = _BULLET.sub("", text)
    text = _MARKDOWN.sub("", text)
    return _SPACES.sub(" ", text).strip()


def ends_sentence(piece: str) -> bool:
    """Whether a piece the splitter returned ends a sentence (not just a clause or words)."""
    return _SENTENCE_END.search(piece) is not None


def split_known(
    sentences: Iterable[str], splitter: SentenceSplitter, *, whole: Collection[str] = ()
) -> list[str]:
    """The pieces of a reply known in full, cut as if it had been streamed through
    ``splitter`` (the first piece may be a clause or the first words).

    A sentence in ``whole`` stays one piece, its text unchanged: the TTS phrase cache looks
    a sentence up by its exact text (white space collapsed), so a registered phrase cut in
    two would be synthesized instead of served from Redis."""
    keep = {_SPACES.sub(" ", w).strip() for w in whole}
    out: list[str] = []
    for sentence in sentences:
        if _SPACES.sub(" ", sentence).strip() in keep:
            out.append(sentence)
            continue
        out.extend(splitter.feed(sentence))
        out.extend(splitter.flush())
    return out


def _speakable(piece: str) -> bool:
    """A piece worth sending to the TTS: it has a letter or a digit."""
    return any(ch.isalnum() for ch in piece)


def _has_letters(piece: str) -> bool:
    return any(ch.isalpha() for ch in piece)


class SentenceSplitter:
    """Feed streamed text with :meth:`feed`; call :meth:`flush` at the end of the reply."""

    def __init__(
        self,
        *,
        first_clause_min_chars: int = 12,
        max_chars: int = 240,
        first_words_min: int = 0,
        first_words_max: int = 6,
        clause_min_chars: int = 0,
    ) -> None:
        if first_clause_min_chars < 1 or max_chars < 20:
            raise ValueError("first_clause_min_chars >= 1 and max_chars >= 20")
        if first_words_min < 0 or (first_words_min and first_words_max < first_words_min):
            raise ValueError("first_words_min >= 0 and first_words_max >= first_words_min")
        if clause_min_chars < 0:
            raise ValueError("clause_min_chars >= 0")
        self._buf = ""
        self._emitted = 0
        self._first_clause_min = first_clause_min_chars
        self._max_chars = max_chars
        self._words_min = first_words_min
        self._words_max = first_words_max
        self._clause_min = clause_min_chars

    @property
    def pending(self) -> str:
        """Text received but not yet returned."""
        return self._buf

    def feed(self, text: str) -> list[str]:
        """Adds a delta; returns the pieces that are now complete, in order."""
        self._buf += text
        out: list[str] = []
        while (cut := self._find_cut()) is not None:
            piece, self._buf = self._buf[:cut], self._buf[cut:]
            self._emit(piece, out)
        return out

    def flush(self) -> list[str]:
        """Returns whatever is left (the reply ended)."""
        out: list[str] = []
        piece, self._buf = self._buf, ""
        self._emit(piece, out)
        return out

    def _emit(self, piece: str, out: list[str]) -> None:
        cleaned = clean_for_speech(piece)
        if cleaned and _speakable(cleaned):
            out.append(cleaned)
            self._emitted += 1
        elif cleaned and out:
            out[-1] = f"{out[-1]} {cleaned}"

    # -- boundary search ---------------------------------------------------------------

    def _find_cut(self) -> int | None:
        """Index just after the first certain boundary in the buffer, or None."""
        buf = self._buf
        n = len(buf)
        i = 0
        while i < n:
            ch = buf[i]
            if ch == "\n":
                if _speakable(buf[:i]):
                    return i + 1
            elif ch in _SENTENCE_PUNCT:
                decision = self._sentence_end(i)
                if decision is None:
                    return self._overflow_cut()
                if decision > 0:
                    return decision
                # decision == 0: not an end; skip the whole punctuation run
                while i + 1 < n and buf[i + 1] in _SENTENCE_PUNCT:
                    i += 1
            elif ch in _CLAUSE_PUNCT and (self._emitted == 0 or self._clause_min):
                decision = self._clause_end(i)
                if decision is None:
                    return self._overflow_cut()
                if decision > 0:
                    return decision
            elif ch.isspace() and self._emitted == 0 and self._words_min and self._word_end(i):
                return i
            i += 1
        return self._overflow_cut()

    def _sentence_end(self, i: int) -> int | None:
        """For punctuation at ``i``: cut index, 0 when not an end, None when undecided."""
        buf = self._buf
        n = len(buf)
        j = i
        while j < n and buf[j] in _SENTENCE_PUNCT:
            j += 1
        run = buf[i:j]
        while j < n and buf[j] in _CLOSERS:
            j += 1
        if j >= n:
            return None
        if not buf[j].isspace():
            return 0  # 1.000,50 / 14h30 / p.ex. / a URL
        cut = j
        if not _has_letters(buf[:i]):
            return 0  # "1." of a list
        if run in ("!", "?") or ("!" in run or "?" in run):
            return cut
        # A period or an ellipsis: look at the previous token and at the next word.
        if run == ".":
            m = _TOKEN_BEFORE.search(buf[:i])
            token = m.group(1) if m else ""
            if token.lower() in TITLE_ABBREVIATIONS:
                return 0
            if len(token) == 1 and token.isupper():
                return 0  # an initial: "J. Silva"
        k = j
        while k < n and buf[k].isspace():
            if buf[k] == "\n":
                return cut
            k += 1
        if k >= n:
            return None
        nxt = buf[k]
        if nxt.islower():
            return 0
        if nxt.isupper() or nxt.isdigit() or nxt in _OPENERS:
            return cut
        return cut

    def _clause_end(self, i: int) -> int | None:
        buf = self._buf
        if i + 1 >= len(buf):
            return None
        if not buf[i + 1].isspace():
            return 0  # 1.000,50 / 14:30
        least = self._first_clause_min if self._emitted == 0 else self._clause_min
        if len(clean_for_speech(buf[: i + 1])) < least:
            return 0
        return i + 1

    def _word_end(self, i: int) -> bool:
        """White space at ``i`` while the first piece is pending: release the words before it?

        Decided from ``buf[:i]`` alone, so how the text was cut into deltas never matters.
        """
        buf = self._buf
        if i == 0 or buf[i - 1].isspace():
            return False
        words = [w for w in buf[:i].split() if _speakable(w)]
        n = len(words)
        if n < self._words_min:
            return False
        last = words[-1].rstrip(_CLOSERS)
        if last[-1] in _SENTENCE_PUNCT:
            return False  # not a sentence end ("Sr.", "J.", "Bem... deixa"): wait a word
        if n >= self._words_max or last[-1] in _CLAUSE_PUNCT:
            return True
        if last.lstrip(_OPENERS).lower() in WEAK_ENDS:
            return False
        # "Bom dia, tudo": the last word opens a new clause; the next one may end it.
        return not (n >= 2 and words[-2].rstrip(_CLOSERS)[-1] in _CLAUSE_PUNCT)

    def _overflow_cut(self) -> int | None:
        buf = self._buf
        if len(buf) <= self._max_chars:
            return None
        window = buf[: self._max_chars]
        for marks in (_CLAUSE_PUNCT + _SENTENCE_PUNCT, " "):
            best = max(window.rfind(m + " ") if m != " " else window.rfind(" ") for m in marks)
            if best > 0:
                return best + 1
        return self._max_chars
