"""Settings of the stt-worker, read once from the environment (see .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from pipeline.engine import EngineOptions
from pipeline.envparse import EnvReader, cache_dir
from pipeline.language import language_tag

from .errors import ConfigError

# Models that scripts/assemble-models.sh builds from PyPI packages, by STT_MODEL.
PACKAGED_MODELS = {"base": "whisper-base-1.0.0"}
PROVIDER_ALIASES = {"whisper_local": "faster_whisper", "whisper": "faster_whisper"}


@dataclass(frozen=True)
class STTSettings:
    provider: str = "faster_whisper"  # STT_PROVIDER: faster_whisper (alias whisper_local) | fake
    model: str = "base"  # STT_MODEL: packaged model name, or a faster-whisper model name
    model_path: Path | None = None  # STT_MODEL_PATH: a CTranslate2 Whisper directory
    device: str = "cpu"  # STT_DEVICE: cpu | cuda | auto
    compute_type: str = "int8"  # STT_COMPUTE_TYPE: int8 | int8_float16 | float16 | float32
    cpu_threads: int = 2  # STT_CPU_THREADS
    beam_size: int = 5  # STT_BEAM_SIZE (docs/perf/speech.md: 5 with the 10 s window)
    language: str = "pt"  # STT_LANGUAGE: default when the session does not say
    timeout_s: float = 20.0  # STT_TIMEOUT_S
    retries: int = 1  # STT_RETRIES
    max_audio_s: float = 30.0  # STT_MAX_AUDIO_S
    window_s: float = 10.0  # STT_WINDOW_S: encoder window step, 30 = Whisper's own window
    min_window_s: float = 10.0  # STT_MIN_WINDOW_S: the shortest encoder window
    min_rms_dbfs: float = -60.0  # STT_MIN_RMS_DBFS: quieter utterances give "" at once
    cache: Path = Path()  # PABX_CACHE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> STTSettings:
        try:
            values = EnvReader(env).fields(cls, "STT_", skip=("cache",))
            provider = values["provider"].lower()
            values["provider"] = PROVIDER_ALIASES.get(provider, provider)
            settings = cls(**values, cache=cache_dir(env))
        except ValueError as e:
            raise ConfigError(f"invalid STT setting: {e}") from e
        settings.validate()
        return settings

    def validate(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("cpu_threads", "beam_size", "timeout_s", "max_audio_s") and value <= 0:
                raise ConfigError(f"STT_{f.name.upper()} must be positive, got {value}")
        if self.retries < 0:
            raise ConfigError("STT_RETRIES must be >= 0")
        if not 0 < self.window_s <= 30:
            raise ConfigError(
                f"STT_WINDOW_S must be more than 0 and at most 30 (Whisper's window), "
                f"got {self.window_s}"
            )
        if not 0 <= self.min_window_s <= 30:
            raise ConfigError(f"STT_MIN_WINDOW_S must be between 0 and 30, got {self.min_window_s}")
        if language_tag(self.language) is None:
            raise ConfigError(f"STT_LANGUAGE must be a code like pt or pt-BR: {self.language!r}")

    def engine_options(self) -> EngineOptions:
        """What every STT provider takes from these settings."""
        return {"language": self.language, "timeout_s": self.timeout_s, "retries": self.retries}

    def model_ref(self) -> Path | str:
        """The model directory (or faster-whisper model name) to load."""
        if self.model_path is not None:
            return self.model_path
        if self.model in PACKAGED_MODELS:
            return self.cache / "models" / PACKAGED_MODELS[self.model]
        if "/" in self.model:
            return Path(self.model)
        # Another size name ("small", "large-v3"): faster-whisper looks it up in the
        # local Hugging Face cache only (local_files_only), never downloads it.
        return self.model
