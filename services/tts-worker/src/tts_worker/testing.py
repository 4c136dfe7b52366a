"""FakeTTS: a real TTSProvider that synthesizes a tone, for tests and benchmarks.

It goes through the same base class (timeouts, retries, metrics) as the real engines;
only the synthesis itself is replaced. Each character gives ``ms_per_char`` of a
440 Hz tone at ``native_rate``, so lengths are predictable.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pipeline.fake_engine import ScriptedEngine

from .audio import Samples
from .providers.base import TTSCapabilities, TTSProvider
from .settings import TTSSettings

if TYPE_CHECKING:
    from .providers.kokoro import KokoroTTS
    from .providers.piper import PiperTTS

# Test timeouts are generous: the machine may be shared, and a timeout would hide
# whether the answer was right.
TEST_TIMEOUT_S = 300.0


@functools.cache
def packaged_kokoro() -> KokoroTTS:
    """The default Kokoro (packaged weights, voice pm_alex), loaded once per process.

    Test suites of several packages share it, so one pytest run loads it once.
    """
    from .providers.kokoro import KokoroTTS

    s = TTSSettings.from_env({})
    tts = KokoroTTS(s.kokoro_model, s.kokoro_voices, timeout_s=TEST_TIMEOUT_S, retries=0)
    tts.load()
    return tts


@functools.cache
def packaged_piper() -> PiperTTS:
    """The default Piper voice (en_US-joe-medium), loaded once per process."""
    from .providers.piper import PiperTTS

    tts = PiperTTS(TTSSettings.from_env({}).piper_model, timeout_s=TEST_TIMEOUT_S, retries=0)
    tts.load()
    return tts


class FakeTTS(ScriptedEngine[tuple[str, str, str]], TTSProvider):
    """Answers each sentence with a 440 Hz tone, ``ms_per_char`` per character at
    ``native_rate``; :attr:`calls` records (text, voice, language)."""

    capabilities: ClassVar[TTSCapabilities] = TTSCapabilities(max_concurrency=64)

    def __init__(self, *, native_rate: int = 24_000, ms_per_char: float = 50.0, **kw: Any) -> None:
        super().__init__(**kw)
        self.native_rate = native_rate
        self.ms_per_char = ms_per_char

    def _synthesize(self, text: str, voice: str, language: str) -> tuple[Samples, int]:
        return self.scripted.run((text, voice, language), lambda: self._tone(len(text)))

    def _tone(self, chars: int) -> tuple[Samples, int]:
        n = max(1, int(chars * self.ms_per_char * self.native_rate / 1000))
        t = np.arange(n, dtype=np.float32) / self.native_rate
        return (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), self.native_rate
