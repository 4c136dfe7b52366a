"""Whisper through faster-whisper (CTranslate2), offline.

Loads a CTranslate2 model directory (model.bin, config.json, tokenizer.json,
vocabulary.txt) with ``local_files_only=True``; never contacts a model hub. Decoding is
greedy (beam 1, temperature 0, no temperature fallback): the fallback took 5-11 s on
garbled 8 kHz audio here and invented text. Segments that look like silence (Whisper's
no-speech test) or like a repetition loop (gzip compression ratio) are dropped, and the
output length is capped by the audio length. The language is forced on every call
(auto-detection called short pt-BR utterances Italian).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, ProviderError
from .base import STTCapabilities, STTProvider

REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


class FasterWhisperSTT(STTProvider):
    name: ClassVar[str] = "faster_whisper"
    capabilities: ClassVar[STTCapabilities] = STTCapabilities(max_concurrency=1)

    def __init__(
        self,
        model: str | Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 2,
        beam_size: int = 1,
        no_speech_threshold: float = 0.6,
        log_prob_threshold: float = -1.0,
        compression_ratio_threshold: float = 2.4,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        self.model_ref = model
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        self.no_speech_threshold = no_speech_threshold
        self.log_prob_threshold = log_prob_threshold
        self.compression_ratio_threshold = compression_ratio_threshold
        self._model: Any = None

    def _load(self) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ConfigError(
                "faster-whisper is not installed: pip install faster-whisper==1.2.1"
            ) from e
        ref = self.model_ref
        if isinstance(ref, Path) or "/" in str(ref):
            path = Path(ref)
            missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
            if missing:
                raise ConfigError(
                    f"Whisper model directory {path} lacks {', '.join(missing)}: run "
                    "scripts/assemble-models.sh or point STT_MODEL_PATH at a "
                    "CTranslate2 Whisper directory"
                )
            ref = str(path)
        try:
            self._model = WhisperModel(
                str(ref),
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
                num_workers=self.capabilities.max_concurrency,
                local_files_only=True,
            )
        except Exception as e:
            raise ConfigError(f"cannot load Whisper model {ref}: {e}") from e

    @property
    def supported_languages(self) -> list[str]:
        self.load()
        return list(self._model.supported_languages)

    def _transcribe(self, samples: np.ndarray, language: str) -> str:
        model = self._model
        if language not in model.supported_languages:
            raise ProviderError(f"Whisper does not know language {language!r}", retryable=False)
        segments, _info = model.transcribe(
            samples,
            language=language,
            task="transcribe",
            beam_size=self.beam_size,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            no_speech_threshold=self.no_speech_threshold,
            log_prob_threshold=self.log_prob_threshold,
            compression_ratio_threshold=self.compression_ratio_threshold,
            # Speech runs at well under 10 tokens/s: a longer output is a runaway loop.
            max_new_tokens=min(440, 24 + int(10 * len(samples) / 16_000)),
        )
        parts = []
        for seg in segments:  # a generator: decoding happens here
            silent = (
                seg.no_speech_prob > self.no_speech_threshold
                and seg.avg_logprob < self.log_prob_threshold
            )
            looping = seg.compression_ratio > self.compression_ratio_threshold
            if not (silent or looping):
                parts.append(seg.text.strip())
        return " ".join(p for p in parts if p)
