"""Errors of the text-to-speech stage.

    TTSError                 (retryable: bool)
     ├── AudioFormatError    bad rate, chunk size or PCM buffer: never retried
     ├── ConfigError         bad settings, missing model files, unknown voice: never retried
     └── ProviderError       the engine failed; ``retryable`` says whether to try again
          └── ProviderTimeout  the engine did not answer in time (retryable)
"""

from __future__ import annotations


class TTSError(Exception):
    """Base of every error raised by the TTS provider layer."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class AudioFormatError(TTSError, ValueError):
    """A rate, chunk size or PCM buffer that the audio functions cannot handle."""


class ConfigError(TTSError):
    """Settings are invalid, the model files are missing or the voice is unknown."""


class ProviderError(TTSError):
    """The synthesis engine failed."""


class ProviderTimeout(ProviderError):
    """The synthesis engine did not finish within the configured timeout."""

    retryable = True
