"""The TTS provider base class: timeouts, retries and metrics live here, once.

A vendor implements two blocking primitives, ``_load()`` (called once per process) and
``_synthesize(text, voice, language)`` returning float32 samples at the engine's rate;
the base runs them in a worker thread, bounded by ``capabilities.max_concurrency``.
Synthesis is one call per sentence (the llm-worker splits the reply), which is what
makes the time to first audio one clause's synthesis.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .. import metrics
from ..audio import FRAME_MS, AudioChunk, render
from ..errors import ProviderError, ProviderTimeout, TTSError

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class TTSCapabilities:
    """What a provider can do."""

    languages: frozenset[str] | None = None  # primary subtags ("pt", "en"); None: any
    max_concurrency: int = 1


@dataclass(frozen=True)
class Synthesis:
    """One sentence of synthesized speech at the engine's own rate."""

    samples: np.ndarray = field(repr=False)  # float32 mono in [-1, 1]
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
    """"pt_BR" / "pt-BR" -> "pt-br"; primary subtag checked."""
    lang = language.strip().replace("_", "-").lower()
    primary = lang.split("-")[0]
    if not primary.isalpha() or not 2 <= len(primary) <= 3:
        raise TTSError(f"invalid language code {language!r}")
    return lang


def check_text(text: str) -> str:
    clean = " ".join(text.split())
    if not clean:
        raise TTSError("nothing to synthesize: empty text")
    if len(clean) > MAX_TEXT_CHARS:
        raise TTSError(f"text of {len(clean)} characters exceeds {MAX_TEXT_CHARS}: split it")
    return clean


class TTSProvider(ABC):
    """Base class of every text-to-speech provider."""

    name: ClassVar[str] = "base"
    capabilities: ClassVar[TTSCapabilities] = TTSCapabilities()

    def __init__(
        self,
        *,
        language: str = "pt",
        voice: str | None = None,
        timeout_s: float = 15.0,
        retries: int = 1,
        retry_backoff_s: float = 0.1,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.default_language = normalize_language(language)
        self.default_voice = voice
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self._load_lock = threading.Lock()
        self._loaded = False
        self._slots = threading.BoundedSemaphore(self.capabilities.max_concurrency)

    # -- vendor primitives -------------------------------------------------------------
    @abstractmethod
    def _load(self) -> None:
        """Load the model (blocking). Called once per provider instance."""

    @abstractmethod
    def _synthesize(self, text: str, voice: str, language: str) -> tuple[np.ndarray, int]:
        """Synthesize one sentence (blocking): float32 samples and their rate."""

    def resolve_voice(self, voice: str | None, language: str) -> str:
        """The voice to use: the call's, else the configured default."""
        return voice or self.default_voice or "default"

    @property
    def model_tag(self) -> str:
        """Identifies the weights (part of the cache key)."""
        return "builtin"

    # -- public API ------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        """Load the model once; later calls return at once. Blocking."""
        with self._load_lock:
            if not self._loaded:
                started = time.perf_counter()
                self._load()
                self._loaded = True
                log.info("%s loaded in %.2f s", self.name, time.perf_counter() - started)

    def supports(self, language: str) -> bool:
        langs = self.capabilities.languages
        return langs is None or normalize_language(language).split("-")[0] in langs

    def voice_id(self, language: str | None = None, voice: str | None = None) -> str:
        """Full identity of what ``synthesize`` would produce: engine, weights, voice, lang."""
        lang = normalize_language(language) if language else self.default_language
        return f"{self.name}:{self.model_tag}:{self.resolve_voice(voice, lang)}:{lang}"

    def warm_up(self, text: str = "Olá.") -> None:
        """Load the model and synthesize one word, so the first sentence of the first
        call does not pay for the engine's first-call setup. Blocking."""
        self.load()
        self._run(text, self.resolve_voice(None, self.default_language), self.default_language)

    def _run(self, text: str, voice: str, language: str) -> tuple[np.ndarray, int]:
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
        """Synthesize one sentence. Raises TTSError (ProviderTimeout, ProviderError...)."""
        clean = check_text(text)
        lang = normalize_language(language) if language else self.default_language
        name = self.resolve_voice(voice, lang)
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                samples, rate = await asyncio.wait_for(
                    asyncio.to_thread(self._run, clean, name, lang), self.timeout_s
                )
            except TimeoutError as e:
                error: TTSError = ProviderTimeout(
                    f"{self.name} took longer than {self.timeout_s:g} s"
                )
                error.__cause__ = e
            except TTSError as e:
                error = e
            except Exception as e:  # the engine's own exceptions
                # Only the type: engine messages may quote the text being processed, and
                # what callers say (or hear) stays out of logs. The cause keeps the rest.
                error = ProviderError(f"{self.name} failed: {type(e).__name__}",
                                      retryable=False)
                error.__cause__ = e
            else:
                elapsed = time.perf_counter() - started
                metrics.REQUESTS.labels(self.name, "ok").inc()
                metrics.SECONDS.labels(self.name).observe(elapsed)
                metrics.AUDIO_SECONDS.labels(self.name).inc(len(samples) / rate)
                return Synthesis(
                    samples, rate, self.voice_id(lang, voice), self.name, elapsed, attempt
                )
            if not error.retryable or attempt > self.retries:
                metrics.REQUESTS.labels(self.name, type(error).__name__).inc()
                raise error
            metrics.RETRIES.labels(self.name).inc()
            log.warning("%s attempt %d failed (%s), retrying", self.name, attempt, error)
            await asyncio.sleep(self.retry_backoff_s * attempt)
