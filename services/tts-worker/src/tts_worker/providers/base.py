"""The TTS provider base class: timeouts, retries and metrics live here, once.

A vendor implements two blocking primitives, ``_load()`` (called once per process) and
``_synthesize(text, voice, language)`` returning float32 samples at the engine's rate;
the base runs them in a worker thread, bounded by ``capabilities.max_concurrency``.
Synthesis is one call per sentence (the llm-worker splits the reply), which is what
makes the time to first audio one clause's synthesis.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Unpack

import numpy as np
from pipeline.engine import EngineCapabilities, EngineOptions, SpeechEngine
from pipeline.language import language_tag

from .. import metrics
from ..audio import FRAME_MS, AudioChunk, Samples, render
from ..errors import ProviderError, TTSError

MAX_TEXT_CHARS = 2000


TTSCapabilities = EngineCapabilities  # languages: primary subtags ("pt", "en"); None: any


@dataclass(frozen=True)
class Synthesis:
    """One sentence of synthesized speech at the engine's own rate."""

    samples: Samples = field(repr=False)  # float32 mono in [-1, 1]
    sample_rate: int
    voice_id: str
    provider: str
    elapsed_s: float  # wall time spent synthesizing (all attempts)
    attempts: int = 1

    @property
    def audio_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def render(
        self, session_rate: int, *, chunk_ms: int = FRAME_MS, start_seq: int = 0
    ) -> list[AudioChunk]:
        """Resample once to the session rate and cut into 20 ms-aligned chunks."""
        return render(
            self.samples, self.sample_rate, session_rate, chunk_ms=chunk_ms, start_seq=start_seq
        )


def normalize_language(language: str) -> str:
    """ "pt_BR" / "pt-BR" -> "pt-br"; primary subtag checked."""
    tag = language_tag(language)
    if tag is None:
        raise TTSError(f"invalid language code {language!r}")
    return tag


def check_text(text: str) -> str:
    clean = " ".join(text.split())
    if not clean:
        raise TTSError("nothing to synthesize: empty text")
    if len(clean) > MAX_TEXT_CHARS:
        raise TTSError(f"text of {len(clean)} characters exceeds {MAX_TEXT_CHARS}: split it")
    return clean


class TTSProvider(SpeechEngine):
    """Base class of every text-to-speech provider."""

    capabilities: ClassVar[TTSCapabilities] = TTSCapabilities()
    engine_metrics = metrics.ENGINE

    def __init__(self, *, voice: str | None = None, **options: Unpack[EngineOptions]) -> None:
        super().__init__(**options)
        self.default_language = normalize_language(options.get("language", "pt"))
        self.default_voice = voice

    # -- vendor primitives (and ``_load``, see BlockingEngine) --------------------------
    @abstractmethod
    def _synthesize(self, text: str, voice: str, language: str) -> tuple[Samples, int]:
        """Synthesize one sentence (blocking): float32 samples and their rate."""

    def resolve_voice(self, voice: str | None, language: str) -> str:
        """The voice to use: the call's, else the configured default."""
        return voice or self.default_voice or "default"

    @property
    def model_tag(self) -> str:
        """Identifies the weights (part of the cache key)."""
        return "builtin"

    # -- public API (and ``load``, see BlockingEngine) -----------------------------------
    def supports(self, language: str) -> bool:
        langs = self.capabilities.languages
        return langs is None or normalize_language(language).split("-")[0] in langs

    def engine_language(self, language: str) -> str:
        """The language the engine actually speaks for ``language`` (normalized): two tags
        that sound the same (Kokoro's ``pt`` and ``pt-br``) share one identity."""
        return language

    def voice_id(self, language: str | None = None, voice: str | None = None) -> str:
        """Full identity of what ``synthesize`` would produce: engine, weights (and speed),
        voice, language. The phrase cache keys on it."""
        lang = normalize_language(language) if language else self.default_language
        spoken = self.engine_language(lang)
        return f"{self.name}:{self.model_tag}:{self.resolve_voice(voice, lang)}:{spoken}"

    def warm_up(self, text: str = "Olá.") -> None:
        """Load the model and synthesize one word, so the first sentence of the first
        call does not pay for the engine's first-call setup. Blocking."""
        self.load()
        self._run(text, self.resolve_voice(None, self.default_language), self.default_language)

    def _run(self, text: str, voice: str, language: str) -> tuple[Samples, int]:
        self.load()
        with self._slots:
            samples, rate = self._synthesize(text, voice, language)
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise ProviderError(f"{self.name} produced no audio", retryable=False)
        return samples, int(rate)

    async def synthesize(
        self, text: str, *, language: str | None = None, voice: str | None = None
    ) -> Synthesis:
        """Synthesize one sentence. Raises an EngineError (TTSError, ProviderTimeout...)."""
        clean = check_text(text)
        lang = normalize_language(language) if language else self.default_language
        name = self.resolve_voice(voice, lang)
        started = time.perf_counter()
        (samples, rate), attempts = await self._attempts(self._run, clean, name, lang)
        elapsed = time.perf_counter() - started
        self._succeeded(elapsed, len(samples) / rate)
        return Synthesis(samples, rate, self.voice_id(lang, voice), self.name, elapsed, attempts)
