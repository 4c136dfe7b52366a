"""Chooses the engine per sentence: by language, with a last-resort fallback.

``TTS_PROVIDER=auto`` (the default) speaks English with Piper and everything else with
Kokoro; when the chosen engine fails (after its own retries) the sentence goes to
espeak-ng, so the caller hears something rather than silence.
"""

from __future__ import annotations

import logging

from . import metrics
from .errors import EngineError
from .providers.base import Synthesis, TTSProvider, check_text, normalize_language

log = logging.getLogger(__name__)


class TTSRouter:
    """Same ``synthesize``/``voice_id``/``load`` interface as a provider."""

    def __init__(
        self,
        default: TTSProvider,
        *,
        routes: dict[str, TTSProvider] | None = None,
        fallback: TTSProvider | None = None,
        language: str = "pt",
    ) -> None:
        self.default = default
        self.routes = {normalize_language(k).split("-")[0]: v for k, v in (routes or {}).items()}
        self.fallback = fallback
        self.default_language = normalize_language(language)

    @property
    def providers(self) -> list[TTSProvider]:
        seen: dict[int, TTSProvider] = {}
        for p in (self.default, *self.routes.values(), self.fallback):
            if p is not None:
                seen.setdefault(id(p), p)
        return list(seen.values())

    def load(self) -> None:
        """Load every engine once (blocking): the first sentence then waits for nothing."""
        for p in self.providers:
            p.load()

    def healthy(self) -> bool:
        """Every engine loaded and none with a call past its deadline (readiness)."""
        return all(p.healthy() for p in self.providers)

    def warm_up(self) -> None:
        """Load every engine and run each once (blocking), in its own language."""
        for p in self.providers:
            p.warm_up("Hello." if p.default_language.startswith("en") else "Olá.")

    def provider_for(self, language: str | None) -> TTSProvider:
        lang = normalize_language(language) if language else self.default_language
        return self.routes.get(lang.split("-")[0], self.default)

    def voice_id(self, language: str | None = None, voice: str | None = None) -> str:
        lang = normalize_language(language) if language else self.default_language
        return self.provider_for(lang).voice_id(lang, voice)

    async def synthesize(
        self, text: str, *, language: str | None = None, voice: str | None = None
    ) -> Synthesis:
        check_text(text)  # an empty sentence is the caller's bug, not the engine's
        lang = normalize_language(language) if language else self.default_language
        primary = self.provider_for(lang)
        try:
            return await primary.synthesize(text, language=lang, voice=voice)
        except EngineError as e:
            if self.fallback is None or self.fallback is primary:
                raise
            log.warning("%s failed (%s); falling back to %s", primary.name, e, self.fallback.name)
            metrics.FALLBACKS.labels(primary.name).inc()
            return await self.fallback.synthesize(text, language=lang)
