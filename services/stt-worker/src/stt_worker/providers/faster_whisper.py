"""Whisper through faster-whisper (CTranslate2), offline.

Loads a CTranslate2 model directory (model.bin, config.json, tokenizer.json,
vocabulary.txt) with ``local_files_only=True``; never contacts a model hub. Decoding is
greedy (beam 1, temperature 0, no temperature fallback): the fallback took 5-11 s on
garbled 8 kHz audio here and invented text. Segments that look like silence (Whisper's
no-speech test) or like a repetition loop (gzip compression ratio) are dropped, and the
output length is capped by the audio length. The language is forced on every call
(auto-detection called short pt-BR utterances Italian).

The encoder window: Whisper was trained on 30 s windows and faster-whisper 1.2.1 pads
every input to 3000 mel frames (``pad_or_trim`` in ``generate_segments``; its
``chunk_length`` argument changes only how long audio is cut, not that padding), so a 2 s
question costs the encoder as much as 30 s of speech. CTranslate2 (>= 3.21) encodes
shorter inputs; with ``window_s`` below 30 the model here cuts the padded features to the
utterance rounded up to a multiple of ``window_s`` seconds (at least ``min_window_s``,
at most 30) before the encoder runs. ``window_s=30`` keeps Whisper's own window.

Cancellation (``cancel`` set, a provisional utterance cancelled): a transcription that
has not taken the engine yet does not run; a running one stops at the next checkpoint:
before a window's encoder, between its encoder and its decoder, and between windows
(faster-whisper's segments are a lazy generator). The encoder pass and the decoder pass
themselves cannot be interrupted: CTranslate2's ``Whisper.generate`` has no callback, so
a decoder that started runs to the end of its window (then the text is dropped).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..audio import Samples
from ..errors import ConfigError, ProviderError, TranscriptionCancelled
from .base import STTCapabilities, STTProvider

REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
WHISPER_WINDOW_S = 30.0
FRAMES_PER_S = 100  # mel frames per second (hop of 160 samples at 16 kHz)


def window_seconds(audio_s: float, window_s: float, min_window_s: float) -> float:
    """The encoder window for ``audio_s`` seconds of audio: rounded up to a multiple of
    ``window_s``, at least ``min_window_s``, at most Whisper's 30 s."""
    if window_s >= WHISPER_WINDOW_S:
        return WHISPER_WINDOW_S
    rounded = math.ceil(round(audio_s / window_s, 6)) * window_s
    return min(WHISPER_WINDOW_S, max(min_window_s, rounded, window_s))


def _windowed_model_class() -> type:
    """WhisperModel whose encoder sees at most ``frames`` mel frames instead of the 3000
    faster-whisper pads every window to, and that stops before and after the encoder once
    ``cancel`` is set (both set per call, per thread, in ``window``)."""
    from faster_whisper import WhisperModel

    class WindowedWhisperModel(WhisperModel):  # type: ignore[misc]
        window = threading.local()

        def encode(self, features: npt.NDArray[np.float32]) -> Any:
            cancel: threading.Event | None = getattr(self.window, "cancel", None)
            if cancel is not None and cancel.is_set():
                raise TranscriptionCancelled("cancelled before the encoder", engine_ran=True)
            frames = getattr(self.window, "frames", None)
            if frames is not None and features.shape[-1] > frames:
                features = np.ascontiguousarray(features[..., :frames])
            encoded = super().encode(features)
            if cancel is not None and cancel.is_set():
                raise TranscriptionCancelled("cancelled before the decoder", engine_ran=True)
            return encoded

    return WindowedWhisperModel


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
        window_s: float = WHISPER_WINDOW_S,
        min_window_s: float = 0.0,
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
        self.window_s = window_s
        self.min_window_s = min_window_s
        self._model: Any = None

    def _load(self) -> None:
        try:
            whisper_model = _windowed_model_class()
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
            self._model = whisper_model(
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

    def window_frames(self, n_samples: int) -> int | None:
        """Mel frames the encoder sees for ``n_samples`` of 16 kHz audio (None: 3000)."""
        if self.window_s >= WHISPER_WINDOW_S:
            return None
        seconds = window_seconds(n_samples / 16_000, self.window_s, self.min_window_s)
        return 2 * math.ceil(seconds * FRAMES_PER_S / 2)  # the encoder halves it: even

    def _transcribe(
        self, samples: Samples, language: str, cancel: threading.Event | None = None
    ) -> str:
        model = self._model
        if language not in model.supported_languages:
            raise ProviderError(f"Whisper does not know language {language!r}", retryable=False)
        model.window.frames = self.window_frames(len(samples))
        model.window.cancel = cancel
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
        for seg in segments:  # a generator: decoding happens here, window by window
            if cancel is not None and cancel.is_set():
                raise TranscriptionCancelled("cancelled between windows", engine_ran=True)
            silent = (
                seg.no_speech_prob > self.no_speech_threshold
                and seg.avg_logprob < self.log_prob_threshold
            )
            looping = seg.compression_ratio > self.compression_ratio_threshold
            if not (silent or looping):
                parts.append(seg.text.strip())
        return " ".join(p for p in parts if p)
