"""Errors of the text-to-speech stage.

The engine errors (AudioFormatError, ConfigError, ProviderError, ProviderTimeout) are the
ones every stage shares, from :mod:`pipeline.engine`; catch ``EngineError`` for all of them.
``TTSError`` is what the TTS layer raises itself (empty or too long text, bad language
code, unknown Kokoro voice).
"""

from __future__ import annotations

from pipeline.engine import AudioFormatError as AudioFormatError
from pipeline.engine import ConfigError as ConfigError
from pipeline.engine import EngineError as EngineError
from pipeline.engine import ProviderError as ProviderError
from pipeline.engine import ProviderTimeout as ProviderTimeout


class TTSError(EngineError):
    """An error the TTS layer raises itself (not the engine's)."""
