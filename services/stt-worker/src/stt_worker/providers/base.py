"""The STT provider base class: timeouts, retries and metrics live here, once.

A vendor implements two blocking primitives, ``_load()`` (called once per process)
and ``_transcribe(samples, language)`` (16 kHz float32 in, text out); the base runs
them in a worker thread, bounded by ``capabilities.max_concurrency``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import metrics
from ..audio import WHISPER_RATE, prepare_for_whisper, rms_dbfs
from ..errors import ProviderError, ProviderTimeout, STTError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class STTCapabilities:
    """What a provider can do."""

    streaming: bool = False
    max_concurrency: int = 1  # simultaneous transcriptions inside one process
    languages: frozenset[str] | None = None  # None: anything the engine accepts


@dataclass(frozen=True)
class Transcript:
    """One transcribed utterance."""

    text: str
    language: str
    audio_s: float  # duration of the input audio
    elapsed_s: float  # wall time spent transcribing (all attempts)
    provider: str
    attempts: int = 1


def normalize_language(language: str) -> str:
    """ASP metadata says "pt-BR"; Whisper wants "pt"."""
    lang = language.strip().replace("_", "-").split("-")[0].lower()
    if not lang.isalpha() or not 2 <= len(lang) <= 3:
        raise STTError(f"invalid language code {language!r}")
    return lang


class STTProvider(ABC):
    """Base class of every speech-to-text provider."""

    name: ClassVar[str] = "base"
    capabilities: ClassVar[STTCapabilities] = STTCapabilities()

    def __init__(
        self,
        *,
        language: str = "pt",
        timeout_s: float = 20.0,
        retries: int = 1,
        retry_backoff_s: float = 0.1,
        max_audio_s: float | None = 30.0,
        min_rms_dbfs: float = -60.0,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.default_language = normalize_language(language)
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self.max_audio_s = max_audio_s
        self.min_rms_dbfs = min_rms_dbfs
        self._load_lock = threading.Lock()
        self._loaded = False
        self._slots = threading.BoundedSemaphore(self.capabilities.max_concurrency)

    # -- vendor primitives -------------------------------------------------------------
    @abstractmethod
    def _load(self) -> None:
        """Load the model (blocking). Called once per provider instance."""

    @abstractmethod
    def _transcribe(self, samples: np.ndarray, language: str) -> str:
        """Transcribe 16 kHz float32 mono samples (blocking)."""

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

    def warm_up(self) -> None:
        """Load the model and run one short decode, so the first caller does not pay
        for the engine's first-call setup. Blocking; call once at startup."""
        self.load()
        t = np.arange(WHISPER_RATE // 2, dtype=np.float32) / WHISPER_RATE
        self._run((0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), self.default_language)

    def _run(self, samples: np.ndarray, language: str) -> str:
        self.load()
        with self._slots:
            return self._transcribe(samples, language)

    async def transcribe(
        self, pcm: bytes, sample_rate: int, language: str | None = None
    ) -> Transcript:
        """Transcribe one utterance of PCM16 mono audio.

        Audio quieter than ``min_rms_dbfs`` gives an empty transcript without running
        the engine. Raises AudioFormatError at once for malformed audio, ProviderTimeout
        or ProviderError once the retries are spent.
        """
        lang = normalize_language(language) if language else self.default_language
        samples = prepare_for_whisper(pcm, sample_rate, max_seconds=self.max_audio_s)
        audio_s = len(samples) / WHISPER_RATE
        started = time.perf_counter()
        if rms_dbfs(samples) < self.min_rms_dbfs:
            # Near-silence: engines like Whisper invent text for it; say nothing instead.
            metrics.REQUESTS.labels(self.name, "silent").inc()
            return Transcript("", lang, audio_s, time.perf_counter() - started, self.name, 0)
        attempt = 0
        while True:
            attempt += 1
            try:
                text = await asyncio.wait_for(
                    asyncio.to_thread(self._run, samples, lang), self.timeout_s
                )
            except TimeoutError as e:
                error: STTError = ProviderTimeout(
                    f"{self.name} took longer than {self.timeout_s:g} s"
                )
                error.__cause__ = e
            except STTError as e:
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
                metrics.AUDIO_SECONDS.labels(self.name).inc(audio_s)
                return Transcript(text, lang, audio_s, elapsed, self.name, attempt)
            if not error.retryable or attempt > self.retries:
                metrics.REQUESTS.labels(self.name, type(error).__name__).inc()
                raise error
            metrics.RETRIES.labels(self.name).inc()
            log.warning("%s attempt %d failed (%s), retrying", self.name, attempt, error)
            await asyncio.sleep(self.retry_backoff_s * attempt)
