"""Speech segmentation (pure): (frame, probability) pairs in, speech events out.

The :class:`Segmenter` knows nothing of audio libraries: a :class:`SpeechClassifier` (the
models live in :mod:`sip_edge.vad`, outside this package, and the call session gives their
probabilities) judges each frame, and the segmenter, with the ASP VAD parameters, says when
speech starts and what the utterance is, as the events of :mod:`sip_edge.call.events`::

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

What ends SPEECH is :mod:`sip_edge.call.turn_end`'s decision: ``silence_threshold_ms`` of
silence (``silence`` mode), or, in ``model`` mode, a :class:`TurnCheck` after a short pause
that the caller answers with :meth:`Segmenter.verdict` (the end-of-turn model's
probability), with a longer silence as the cap.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
from typing import Protocol

from asp import VADConfig

from . import events as ev
from .turn_end import Decision, TurnEnd, TurnEndParams

__all__ = [
    "TURN_CHECK_MAX_MS",
    "Segmenter",
    "SegmenterParams",
    "SpeechClassifier",
    "segmenter_params",
]


class SpeechClassifier(Protocol):
    """Speech probability (0..1) of each consecutive frame of one call's audio.

    ``deferred`` is True after a frame the classifier could not judge yet (Silero's 32 ms
    window was not complete): the next frame's probability is that frame's verdict too."""

    deferred: bool

    def probability(self, frame: bytes) -> float: ...

    def reset(self) -> None: ...


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


def segmenter_params(vad: VADConfig, max_utterance_ms: int = 0) -> SegmenterParams:
    """The segmenter's parameters from a session's negotiated VAD: every VADConfig field
    that is a :class:`SegmenterParams` field of the same name (20 ms frames)."""
    names = {f.name for f in dataclasses.fields(vad)}
    fields = dataclasses.fields(SegmenterParams)
    shared = {f.name: getattr(vad, f.name) for f in fields if f.name in names}
    return SegmenterParams(**shared, max_utterance_ms=max_utterance_ms)


TURN_CHECK_MAX_MS = 8000
"""The end-of-turn model looks at the last 8 s of the turn (Smart Turn's window)."""


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

    def verdict(self, check_id: int, probability: float) -> list[ev.SegmentEvent]:
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

    def push(self, frame: bytes, probability: float) -> list[ev.SegmentEvent]:
        p = self.params
        voiced = probability >= p.threshold
        self.frame_index += 1
        events: list[ev.SegmentEvent] = []
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

    def _after_frame(self, frame: bytes, voiced: bool) -> list[ev.SegmentEvent]:
        p = self.params
        events: list[ev.SegmentEvent] = []
        self._take(frame, voiced)
        if self._phase is _Phase.PENDING and self._voiced_frames * p.frame_ms >= p.min_speech_ms:
            self._phase = _Phase.SPEECH
            events.append(ev.SpeechStarted(self._onset))
        silence_ms = self._unvoiced_run * p.frame_ms
        if self._phase is _Phase.SPEECH:
            if voiced and self._provisional:
                self._provisional = False
                events.append(ev.ProvisionalCancelled())
            decision = self._turn.on_frame(voiced, silence_ms)
            if (
                decision is not Decision.END
                and not voiced
                and not self._provisional
                and 0 < self._speculative_ms <= silence_ms
            ):
                self._provisional = True
                audio, duration = self._utterance_audio()
                events.append(ev.ProvisionalUtterance(audio, duration, self._onset, silence_ms))
            if decision is Decision.ASK:
                recent = self._audio[-self._frames_of(TURN_CHECK_MAX_MS) :]
                events.append(ev.TurnCheck(self._turn.new_check(), b"".join(recent)))
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

    def _end_utterance(self) -> list[ev.SegmentEvent]:
        audio, duration = self._utterance_audio()
        silence = self._unvoiced_run * self.params.frame_ms
        if self._provisional:
            return [ev.ProvisionalConfirmed(duration, silence), ev.SpeechEnded(duration)]
        return [ev.UtteranceReady(audio, duration, self._onset, silence), ev.SpeechEnded(duration)]

    def _reset(self) -> None:
        self._turn.reset()
        self._provisional = False
        self._phase = _Phase.SILENCE
        self._audio = []
        self._recent.clear()
        self._voiced_frames = 0
        self._unvoiced_run = 0
        self._last_voiced_len = 0
