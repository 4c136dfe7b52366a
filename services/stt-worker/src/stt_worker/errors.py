"""Errors of the speech-to-text stage.

The engine errors (AudioFormatError, ConfigError, ProviderError, ProviderTimeout) are the
ones every stage shares, from :mod:`pipeline.engine`; catch ``EngineError`` for all of them.

STTError                 what the STT layer raises itself (an invalid language code...)
 └── TranscriptionCancelled  the utterance was cancelled (speculative start): not retried
"""

from __future__ import annotations

from pipeline.engine import AudioFormatError as AudioFormatError
from pipeline.engine import ConfigError as ConfigError
from pipeline.engine import EngineError as EngineError
from pipeline.engine import ProviderError as ProviderError
from pipeline.engine import ProviderTimeout as ProviderTimeout


class STTError(EngineError):
    """An error the STT layer raises itself (not the engine's)."""


class TranscriptionCancelled(STTError):
    """The transcription was asked to stop (its provisional utterance was cancelled)
    before it took the engine (``engine_ran`` False), or between two of its windows."""

    def __init__(self, message: str, *, engine_ran: bool = False) -> None:
        super().__init__(message, retryable=False)
        self.engine_ran = engine_ran
