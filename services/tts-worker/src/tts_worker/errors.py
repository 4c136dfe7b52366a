"""Errors of the text-to-speech stage.

TTSError                 (retryable: bool; a pipeline.engine.EngineError)
 ├── AudioFormatError    bad rate, chunk size or PCM buffer: never retried
 ├── ConfigError         bad settings, missing model files, unknown voice: never retried
 └── ProviderError       the engine failed; ``retryable`` says whether to try again
      └── ProviderTimeout  the engine did not answer in time (retryable)
"""

from __future__ import annotations

from pipeline.engine import EngineError


class TTSError(EngineError):
    """Base of every error raised by the TTS provider layer."""


class AudioFormatError(TTSError, ValueError):
    """A rate, chunk size or PCM buffer that the audio functions cannot handle."""


class ConfigError(TTSError):
    """Settings are invalid, the model files are missing or the voice is unknown."""


class ProviderError(TTSError):
    """The synthesis engine failed."""


class ProviderTimeout(ProviderError):
    """The synthesis engine did not finish within the configured timeout."""

    retryable = True
