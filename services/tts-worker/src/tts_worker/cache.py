"""The phrase cache: fixed phrases synthesized once, kept in Redis, served without synthesis.

Which phrases: the ones in TTS_CACHE_PHRASES (short acknowledgements: "Claro.", "Certo.",
"Um momento.") and the ones the llm-worker registers (its persona's greeting, apology and
goodbye, the menu's phrases and the pieces of the facts' fixed answers,
``Bus.register_phrases``), in that order, at most TTS_CACHE_MAX_PHRASES.
:meth:`PhraseCache.sync` reads that list (the phrases looked up from then on), renews the
TTL of the audio there is and lists the phrases whose audio is missing;
:meth:`PhraseCache.fill_next` synthesizes one of them. The worker syncs when it starts,
when the registry's version changes (a phrase registered later: seen within a second) and
every TTS_CACHE_REFRESH_S (a Redis that restarted empty), and synthesizes the missing
phrases only while no live work is waiting (see ``worker``). A phrase not filled yet is
still stored the first time a live sentence synthesizes it.

Memory: a phrase is kept at every session rate as 16-bit mono PCM, 2 bytes a sample:
16 000 bytes per second of speech at 8 kHz plus 32 000 at 16 kHz, 48 000 bytes a second in
all (a 1.5 s piece such as "Nosso horário de atendimento:" about 72 kB). A phrase is at most
``MAX_PHRASE_CHARS`` (300) characters, about 20 s of speech, under 1 MB; so the cache holds
at most TTS_CACHE_MAX_PHRASES such phrases per voice.

Every sentence of a response whose normalized text (NFC, collapsed white space) is a cached
phrase is served from Redis (other sentences are not looked up: no extra round trip). The
key is (text, voice, rate): ``voice`` is the provider's full identity
(``TTSProvider.voice_id``: engine, model, speed, voice and spoken language), so changing any
of them never serves stale audio. Each use and each refresh renews the key's TTL
(TTS_CACHE_TTL_S): a phrase in use never expires mid-call; audio of an old voice does.
Audio from the fallback engine is never cached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import unicodedata
from collections.abc import Callable, Sequence

from asp import streams as layout
from pipeline import Bus

from . import metrics
from .audio import SESSION_RATES, check_session_rate, float_to_pcm16, resample
from .errors import EngineError
from .router import TTSRouter

log = logging.getLogger(__name__)

KEY_PREFIX = layout.cache_key("tts", "v2")


def normalize_text(text: str) -> str:
    """NFC and collapsed whitespace: the same phrase typed twice gets one key."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def phrase_cache_key(text: str, voice: str, rate: int, *, prefix: str = KEY_PREFIX) -> str:
    """Redis key for the synthesized audio of a fixed phrase."""
    norm = normalize_text(text)
    if not norm:
        raise ValueError("cannot cache an empty phrase")
    if not voice:
        raise ValueError("voice must not be empty")
    check_session_rate(rate)
    digest = hashlib.sha256(json.dumps([norm, voice, rate]).encode()).hexdigest()
    return f"{prefix}:{rate}:{digest[:40]}"


@dataclasses.dataclass(eq=False, repr=False)
class PhraseCache:
    """Lookups, stores and the fill of the phrase cache, through the bus."""

    bus: Bus
    tts: TTSRouter
    _: dataclasses.KW_ONLY
    phrases: dataclasses.InitVar[Sequence[str]] = ()
    language: str = "pt"
    max_phrases: int = 32
    ttl_s: int = 7 * 86400
    rates: Sequence[int] = SESSION_RATES
    configured: list[tuple[str, str]] = dataclasses.field(init=False)
    """(language, normalized text) of ``phrases`` (TTS_CACHE_PHRASES)."""
    known: frozenset[str] = dataclasses.field(init=False, default=frozenset())
    """Normalized texts of the phrases of the last sync: the ones worth storing."""
    pending: list[tuple[str, str]] = dataclasses.field(init=False, default_factory=list)
    """(language, text) of the phrases of the last sync whose audio is missing."""

    def __post_init__(self, phrases: Sequence[str]) -> None:
        self.rates = tuple(self.rates)
        self.configured = [(self.language, normalize_text(p)) for p in phrases if normalize_text(p)]

    @property
    def enabled(self) -> bool:
        return self.max_phrases > 0

    def key(self, text: str, language: str, rate: int) -> str:
        return phrase_cache_key(text, self.tts.voice_id(language), rate)

    async def lookup(self, text: str, language: str, rate: int) -> bytes | None:
        """The cached audio of a sentence at ``rate``, or None (counted as hit or miss).

        Only a sentence that is one of the phrases of the last sync is looked up: the other
        sentences cost no Redis round trip."""
        pcm = None
        if self.enabled and normalize_text(text) in self.known:
            pcm = await self.bus.cached(self.key(text, language, rate), self.ttl_s)
        (metrics.CACHE_MISSES if pcm is None else metrics.CACHE_HITS).inc()
        return pcm

    async def store(self, text: str, language: str, rate: int, pcm: bytes, voice_id: str) -> bool:
        """Keeps a synthesized sentence when it is one of the phrases and the voice that
        spoke it is the one the key names (never the fallback's audio)."""
        if not (self.enabled and normalize_text(text) in self.known and pcm):
            return False
        if voice_id != self.tts.voice_id(language):
            return False
        await self.bus.cache(self.key(text, language, rate), pcm, self.ttl_s)
        metrics.CACHE_STORES.inc()
        return True

    async def to_keep(self) -> list[tuple[str, str]]:
        """(language, normalized text) of every phrase to keep, configured ones first."""
        if not self.enabled:
            return []
        out: dict[tuple[str, str], None] = dict.fromkeys(self.configured)
        for language, text in await self.bus.registered_phrases():
            norm = normalize_text(text)
            if norm:
                out.setdefault((language, norm), None)
        return list(out)[: self.max_phrases]

    async def sync(self) -> int:
        """Reads the phrases to keep (they are looked up from now on), renews the TTL of
        their audio and lists the ones whose audio is missing at some rate in
        :attr:`pending`; returns how many are pending. Raises only Redis errors."""
        phrases = await self.to_keep()
        self.known = frozenset(text for _, text in phrases)
        keyed: list[tuple[str, str, list[str]]] = []
        for language, text in phrases:
            try:
                keyed.append((language, text, [self.key(text, language, r) for r in self.rates]))
            except EngineError as e:  # a registered language no engine knows
                log.warning("phrase cache: skipped a phrase in %r: %s", language, e)
        # one round trip for all of them
        present = await self.bus.refresh_cached([k for *_, keys in keyed for k in keys], self.ttl_s)
        n = len(self.rates)
        self.pending = [
            (language, text)
            for i, (language, text, _) in enumerate(keyed)
            if not all(present[i * n : (i + 1) * n])
        ]
        metrics.CACHE_PENDING.set(len(self.pending))
        return len(self.pending)

    async def _missing(self, language: str, text: str) -> list[tuple[int, str]]:
        """(rate, key) of the rates whose audio of the phrase is not in Redis (the TTL of
        the others renewed); none for a language no engine speaks (logged)."""
        try:
            keys = [self.key(text, language, rate) for rate in self.rates]
        except EngineError as e:  # a registered language no engine knows
            log.warning("phrase cache: skipped a phrase in %r: %s", language, e)
            return []
        present = await self.bus.refresh_cached(keys, self.ttl_s)
        return [(r, k) for r, k, ok in zip(self.rates, keys, present, strict=True) if not ok]

    async def fill_next(self) -> bool:
        """Synthesizes the first pending phrase (unless a live sentence or another replica
        stored it meanwhile) and stores it at every rate; True when it was synthesized. A
        phrase the engine cannot say is logged and dropped. Raises only Redis errors."""
        if not self.pending:
            return False
        language, text = self.pending.pop(0)
        metrics.CACHE_PENDING.set(len(self.pending))
        missing = await self._missing(language, text)
        if not missing:
            return False
        try:
            syn = await self.tts.synthesize(text, language=language)
        except EngineError as e:
            log.warning("phrase cache: could not synthesize a phrase: %s", e)
            return False
        if syn.voice_id != self.tts.voice_id(language):
            log.warning("phrase cache: %s answered instead; not cached", syn.provider)
            return False
        for rate, key in missing:
            pcm = float_to_pcm16(resample(syn.samples, syn.sample_rate, rate))
            await self.bus.cache(key, pcm, self.ttl_s)
            metrics.CACHE_STORES.inc()
        return True

    async def fill(self, limit: int | None = None, stop: Callable[[], bool] = lambda: False) -> int:
        """Syncs, then synthesizes the missing phrases in order (at most ``limit`` of them,
        none once ``stop()`` is true: a worker told to stop does not synthesize the rest;
        the others stay in :attr:`pending`); returns how many were synthesized. Raises
        only Redis errors."""
        total = await self.sync()
        synthesized = 0
        tried = 0
        while self.pending and (limit is None or tried < limit) and not stop():
            tried += 1
            synthesized += await self.fill_next()
        if synthesized:
            log.info("phrase cache: %d of %d phrases synthesized", synthesized, total)
        return synthesized
