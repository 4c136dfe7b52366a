"""Errors of the speech-to-text stage.

STTError                 (retryable: bool; a pipeline.engine.EngineError)
 ├── AudioFormatError    malformed input audio: never retried
 ├── ConfigError         bad settings or missing model files: never retried
 ├── TranscriptionCancelled  the utterance was cancelled (speculative start): not retried
 └── ProviderError       the engine failed; ``retryable`` says whether to try again
      └── ProviderTimeout  the engine did not answer in time (retryable)
"""

from __future__ import annotations

from pipeline.engine import EngineError


class STTError(EngineError):
    """Base of every error raised by the STT provider layer."""


class AudioFormatError(STTError, ValueError):
    """The audio handed to the provider cannot be decoded as PCM16 at a supported rate."""


class ConfigError(STTError):
    """Settings are invalid or the model files are missing."""


class TranscriptionCancelled(STTError):
    """The transcription was asked to stop (its provisional utterance was cancelled)
    before it took the engine (``engine_ran`` False), or between two of its windows."""

    def __init__(self, message: str, *, engine_ran: bool = False) -> None:
        super().__init__(message, retryable=False)
        self.engine_ran = engine_ran


class ProviderError(STTError):
    """The recognition engine failed."""


class ProviderTimeout(ProviderError):
    """The recognition engine did not finish within the configured timeout."""

    retryable = True
