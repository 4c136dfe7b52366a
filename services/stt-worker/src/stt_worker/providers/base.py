"""The STT provider base class: timeouts, retries and metrics live here, once.

A vendor implements two blocking primitives, ``_load()`` (called once per process)
and ``_transcribe(samples, language, cancel)`` (16 kHz float32 in, text out); the base
runs them in a worker thread, bounded by ``capabilities.max_concurrency``. A call whose
``cancel`` event is set before it takes an engine slot does not run the engine
(TranscriptionCancelled); an engine may also check the event while it runs.
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Unpack

import numpy as np
from pipeline.engine import EngineCapabilities, EngineOptions, SpeechEngine
from pipeline.language import language_tag

from .. import metrics
from ..audio import WHISPER_RATE, Samples, prepare_for_whisper, rms_dbfs
from ..errors import STTError, TranscriptionCancelled


@dataclass(frozen=True)
class STTCapabilities(EngineCapabilities):
    """What a provider can do."""

    streaming: bool = False


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
    tag = language_tag(language)
    if tag is None:
        raise STTError(f"invalid language code {language!r}")
    return tag.split("-")[0]


class STTProvider(SpeechEngine):
    """Base class of every speech-to-text provider."""

    capabilities: ClassVar[STTCapabilities] = STTCapabilities()
    engine_metrics = metrics.ENGINE
    default_timeout_s = 20.0

    def __init__(
        self,
        *,
        max_audio_s: float | None = 30.0,
        min_rms_dbfs: float = -60.0,
        **options: Unpack[EngineOptions],
    ) -> None:
        super().__init__(**options)
        self.default_language = normalize_language(options.get("language", "pt"))
        self.max_audio_s = max_audio_s
        self.min_rms_dbfs = min_rms_dbfs

    # -- vendor primitives (and ``_load``, see BlockingEngine) --------------------------
    @abstractmethod
    def _transcribe(
        self, samples: Samples, language: str, cancel: threading.Event | None = None
    ) -> str:
        """Transcribe 16 kHz float32 mono samples (blocking). An engine that can stop
        midway raises TranscriptionCancelled once ``cancel`` is set."""

    # -- public API (and ``load``, see BlockingEngine) -----------------------------------
    def warm_up(self) -> None:
        """Load the model and run one short decode, so the first caller does not pay
        for the engine's first-call setup. Blocking; call once at startup."""
        self.load()
        t = np.arange(WHISPER_RATE // 2, dtype=np.float32) / WHISPER_RATE
        self._run((0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), self.default_language)

    def _run(self, samples: Samples, language: str, cancel: threading.Event | None = None) -> str:
        self.load()
        with self._slots:
            if cancel is not None and cancel.is_set():  # cancelled while it waited
                raise TranscriptionCancelled("transcription cancelled before it started")
            return self._transcribe(samples, language, cancel)

    async def transcribe(
        self,
        pcm: bytes,
        sample_rate: int,
        language: str | None = None,
        cancel: threading.Event | None = None,
    ) -> Transcript:
        """Transcribe one utterance of PCM16 mono audio.

        Audio quieter than ``min_rms_dbfs`` gives an empty transcript without running
        the engine. Raises AudioFormatError at once for malformed audio, ProviderTimeout
        or ProviderError once the retries are spent, TranscriptionCancelled (never
        retried) when ``cancel`` was set before the engine took the call (or, for an
        engine that checks it, while it ran).
        """
        lang = normalize_language(language) if language else self.default_language
        samples = prepare_for_whisper(pcm, sample_rate, max_seconds=self.max_audio_s)
        audio_s = len(samples) / WHISPER_RATE
        started = time.perf_counter()
        if rms_dbfs(samples) < self.min_rms_dbfs:
            # Near-silence: engines like Whisper invent text for it; say nothing instead.
            metrics.ENGINE.requests.labels(self.name, "silent").inc()
            return Transcript("", lang, audio_s, time.perf_counter() - started, self.name, 0)
        if cancel is not None and cancel.is_set():
            metrics.ENGINE.requests.labels(self.name, "TranscriptionCancelled").inc()
            raise TranscriptionCancelled("transcription cancelled before it started")
        text, attempts = await self._attempts(self._run, samples, lang, cancel)
        elapsed = time.perf_counter() - started
        self._succeeded(elapsed, audio_s)
        return Transcript(text, lang, audio_s, elapsed, self.name, attempts)
