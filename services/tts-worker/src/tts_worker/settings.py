"""Settings of the tts-worker, read once from the environment (see .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.engine import EngineOptions
from pipeline.envparse import EnvReader, cache_dir, known
from pipeline.language import language_tag

from .audio import FRAME_MS, SESSION_RATES
from .errors import ConfigError

# Directories that scripts/assemble-models.sh fills from PyPI and npm packages.
KOKORO_MODEL = Path("kokoro-82m-int8-0.1.0/kokoro-v1.0.int8.onnx")
KOKORO_VOICES = Path("kokoro-voices-ptbr-ja-1.2.1/voices_ptbr_ja.npz")
PIPER_MODEL = Path("piper-en_US-joe-medium-1.0.0/en_US-joe-medium.onnx")

PROVIDERS = ("auto", "kokoro", "piper", "espeak", "fake")
DEFAULT_CACHE_PHRASES = ("Claro.", "Certo.", "Um momento.")
MAX_PHRASE_CHARS = 300  # the same bound as pipeline.bus.MAX_PHRASE_CHARS
ONLINE_ONLY = {"gtts": "gTTS needs Google's servers; the offline default is kokoro"}


@dataclass(frozen=True)
class TTSSettings:
    provider: str = "auto"  # TTS_PROVIDER: auto | kokoro | piper | espeak | fake
    lang: str = "pt"  # TTS_LANG: default language when the session does not say
    voice: str = "pm_alex"  # TTS_VOICE: Kokoro voice name (pt-BR male; jm_kumo kept)
    model_path: Path | None = None  # TTS_MODEL_PATH: Kokoro .onnx
    voices_path: Path | None = None  # TTS_VOICES_PATH: Kokoro voices (.npz / voices-v1.0.bin)
    piper_model_path: Path | None = None  # TTS_PIPER_MODEL_PATH: Piper .onnx (+ .onnx.json)
    fallback: str = "espeak"  # TTS_FALLBACK: espeak | none
    speed: float = 1.0  # TTS_SPEED: Kokoro speed 0.5..2.0
    sample_rate: int = 8000  # TTS_SAMPLE_RATE: session rate when the session does not say
    chunk_ms: int = 5 * FRAME_MS  # TTS_CHUNK_MS: multiple of 20 (100 ms: 10 events/s per call)
    threads: int = 2  # TTS_THREADS: ONNX Runtime threads per engine
    timeout_s: float = 15.0  # TTS_TIMEOUT_S: per sentence
    retries: int = 1  # TTS_RETRIES
    # TTS_CACHE_PHRASES: "|"-separated phrases kept synthesized (besides the ones the
    # llm-worker registers: greeting, apology, goodbye, the facts' fixed answers); "-" for none
    cache_phrases: tuple[str, ...] = DEFAULT_CACHE_PHRASES
    # TTS_CACHE_MAX_PHRASES: 0 turns the phrase cache off. The shipped facts file's fixed
    # answers, the persona's and the menu's phrases and the defaults above are 53 phrases.
    cache_max_phrases: int = 128
    cache_ttl_s: int = 7 * 86400  # TTS_CACHE_TTL_S: renewed on each use and each refresh
    cache_refresh_s: float = 60.0  # TTS_CACHE_REFRESH_S: how often missing phrases are filled
    # TTS_FIRST_CLAUSE_PRIORITY_MS: lifetime of the flag held while a reply's first clause
    # is synthesized (a local LLM waits for it); 0 disables
    first_clause_priority_ms: int = 2000
    cache: Path = Path()  # PABX_CACHE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TTSSettings:
        r = EnvReader(env)
        try:
            values = r.fields(cls, "TTS_", skip=("cache_phrases", "cache"))
            for name in ("provider", "fallback"):
                values[name] = values[name].lower()
            settings = cls(
                **values, cache_phrases=_phrases(r.text("TTS_CACHE_PHRASES")), cache=cache_dir(env)
            )
        except ValueError as e:
            raise ConfigError(f"invalid TTS setting: {e}") from e
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.provider in ONLINE_ONLY:
            raise ConfigError(f"TTS_PROVIDER={self.provider}: {ONLINE_ONLY[self.provider]}")
        known(self.provider, PROVIDERS, "TTS_PROVIDER", ConfigError)
        if self.fallback not in ("espeak", "none"):
            raise ConfigError(f"TTS_FALLBACK must be espeak or none, got {self.fallback!r}")
        if self.sample_rate not in SESSION_RATES:
            raise ConfigError(f"TTS_SAMPLE_RATE must be one of {SESSION_RATES}")
        if self.chunk_ms <= 0 or self.chunk_ms % FRAME_MS:
            raise ConfigError(f"TTS_CHUNK_MS must be a positive multiple of {FRAME_MS}")
        if not 0.5 <= self.speed <= 2.0:
            raise ConfigError("TTS_SPEED must be within 0.5..2.0")
        if language_tag(self.lang) is None:
            raise ConfigError(f"TTS_LANG must be a language code like pt or pt-BR: {self.lang!r}")
        if not 0 <= self.first_clause_priority_ms <= 60_000:
            raise ConfigError("TTS_FIRST_CLAUSE_PRIORITY_MS must be within 0..60000")
        if self.threads <= 0 or self.timeout_s <= 0 or self.retries < 0:
            raise ConfigError("TTS_THREADS and TTS_TIMEOUT_S must be positive, TTS_RETRIES >= 0")
        if not 0 <= self.cache_max_phrases <= 256:
            raise ConfigError("TTS_CACHE_MAX_PHRASES must be within 0..256")
        if self.cache_ttl_s < 3600:
            raise ConfigError("TTS_CACHE_TTL_S must be at least 3600 (it is renewed on use)")
        if not 1 <= self.cache_refresh_s <= 86400:
            raise ConfigError("TTS_CACHE_REFRESH_S must be within 1..86400")
        if any(len(p) > MAX_PHRASE_CHARS for p in self.cache_phrases):
            raise ConfigError(f"TTS_CACHE_PHRASES: a phrase exceeds {MAX_PHRASE_CHARS} chars")

    def engine_options(self) -> EngineOptions:
        """What the TTS providers take from these settings."""
        return {"language": self.lang, "timeout_s": self.timeout_s, "retries": self.retries}

    @property
    def kokoro_model(self) -> Path:
        return self.model_path or self.cache / "models" / KOKORO_MODEL

    @property
    def kokoro_voices(self) -> Path:
        return self.voices_path or self.cache / "models" / KOKORO_VOICES

    @property
    def piper_model(self) -> Path:
        return self.piper_model_path or self.cache / "models" / PIPER_MODEL


def _phrases(raw: str) -> tuple[str, ...]:
    """TTS_CACHE_PHRASES: unset -> the defaults, "-" -> none, else "|"-separated phrases."""
    if not raw:
        return DEFAULT_CACHE_PHRASES
    if raw == "-":
        return ()
    seen: dict[str, None] = {}
    for part in raw.split("|"):
        phrase = " ".join(part.split())
        if phrase:
            seen.setdefault(phrase, None)
    return tuple(seen)
