"""FakeSTT: a real STTProvider with scripted answers, for tests and benchmarks.

It goes through the same base class (validation, timeouts, retries, metrics) as the
real engines; only the recognition itself is replaced.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from pipeline.fake_engine import ScriptedEngine

from .audio import Samples
from .providers.base import STTCapabilities, STTProvider
from .settings import STTSettings

if TYPE_CHECKING:
    from .providers.faster_whisper import FasterWhisperSTT

# Test timeouts are generous: the machine may be shared, and a timeout would hide
# whether the answer was right.
TEST_TIMEOUT_S = 300.0


@functools.cache
def packaged_whisper() -> FasterWhisperSTT:
    """The default Whisper base (packaged weights, the default encoder window), loaded
    once per process.

    Test suites of several packages share it, so one pytest run loads it once.
    """
    from .providers.faster_whisper import FasterWhisperSTT

    defaults = STTSettings.from_env({})
    stt = FasterWhisperSTT(
        defaults.model_ref(),
        timeout_s=TEST_TIMEOUT_S,
        retries=0,
        beam_size=defaults.beam_size,
        window_s=defaults.window_s,
        min_window_s=defaults.min_window_s,
    )
    stt.load()
    return stt


@functools.cache
def judge_whisper() -> FasterWhisperSTT:
    """Whisper base as the tests' and benches' ear, for what a phone or client heard:
    Whisper's own 30 s window and beam 5, whatever the service's latency defaults. A
    recording is not an utterance: seconds of silence around a short announcement, which
    the service's 10 s windows with the no-speech check can drop whole (a transfer test
    heard '' where the announcement was). Loaded once per process."""
    from .providers.faster_whisper import WHISPER_WINDOW_S, FasterWhisperSTT

    stt = FasterWhisperSTT(
        STTSettings.from_env({}).model_ref(),
        timeout_s=TEST_TIMEOUT_S,
        retries=0,
        beam_size=5,
        window_s=WHISPER_WINDOW_S,
        min_window_s=0.0,
    )
    stt.load()
    return stt


class FakeSTT(ScriptedEngine[tuple[int, str]], STTProvider):
    """Answers each utterance with the next scripted transcript (or ``default``).

    ``failures`` raises that many retryable ProviderErrors before answering;
    ``delay_s`` makes each transcription take that long (to exercise timeouts);
    :attr:`calls` records (samples at 16 kHz, language).
    """

    capabilities: ClassVar[STTCapabilities] = STTCapabilities(max_concurrency=64)

    def __init__(self, transcripts: Iterable[str] = (), *, default: str = "", **kw: Any) -> None:
        super().__init__(**kw)
        self._script = deque(transcripts)
        self.default = default

    def _transcribe(
        self, samples: Samples, language: str, cancel: threading.Event | None = None
    ) -> str:
        return self.scripted.run((len(samples), language), self._next_transcript)

    def _next_transcript(self) -> str:
        return self._script.popleft() if self._script else self.default


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after lowercasing and dropping punctuation (jiwer, a test dependency)."""
    import unicodedata

    import jiwer

    def norm(text: str) -> str:
        text = unicodedata.normalize("NFC", text).lower()
        kept = "".join(c if c.isalnum() or c.isspace() else " " for c in text)
        return " ".join(kept.split())

    return float(jiwer.wer(norm(reference), norm(hypothesis)))
