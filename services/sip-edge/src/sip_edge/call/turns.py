"""Turn-taking for one call (pure): caller frames in, agent frames out, events for the session.

Full duplex: every caller frame goes through the VAD segmenter, also while the agent
speaks. When the caller has spoken for ``barge_in_min_ms`` of voiced audio during playback
within one burst of speech (pauses under 60 ms do not split a burst; this is the guard
against line echo and short noises), playback stops at once, what is queued is
flushed, later chunks of the cut response are dropped, and a :class:`BargeIn` event asks
the session to publish ``response.cancel(response_id, "barge_in")``. The interrupting speech is
already inside the segmenter, so it becomes the start of the next utterance.

Hold (``barge_in_hold_ms``, 0: off): once the caller's burst has ``barge_in_hold_ms`` of
voiced audio (its soft onset counted the same way), playback pauses where it is
(:meth:`Pacer.hold`): the caller hears the agent stop at once, before the guard is sure.
When the burst reaches ``barge_in_min_ms`` it is the barge-in above; when it ends before
(a cough, a click, "hum") or is taken for echo, the answer resumes from the same sample
and nothing of it is lost. A held frame is silence, so the echo guard hears no echo of it.

Soft onset: a spoken word starts softly, and the speech model (Silero) needs 20-80 ms of it
before it says speech; the cheaper gate (webrtcvad) already hears it. The frames right
before a burst's first voiced frame that the classifier did not call silence (probability
at least ``SOFT_PROBABILITY``, or a frame whose verdict was deferred) count towards the
guard too, ``barge_in_onset_ms`` of them at most: the guard runs from where the word began,
not from where the model became sure. A burst still needs a voiced frame to count at all,
and the echo guard judges it as before.

Echo guard (a Geigel double-talk detector): while the agent speaks, and for
``ECHO_TAIL_FRAMES`` after, a burst of caller speech whose loudest frame stays below the
loudest agent frame just played minus ``echo_guard_db`` is taken as echo of the agent's own
voice and counts as silence, for barge-in and for the segmenter alike. The default 6 dB is
the echo return loss G.168 assumes of a line; 0 turns the guard off. docs/perf/sip-edge.md
has the measurement.

The line's own echo (``echo_learn``): a line that returns no echo (a VoIP leg through
Asterisk to a softphone with its own canceller) makes a caller's soft first syllable, quieter
than the agent's peak minus 6 dB, wait for a louder one ("Espera" waited for "pe": 330 ms
instead of 110). So the guard watches what comes back while the agent speaks: the loudest
caller frame relative to the agent's audio of its time, over the last
``ECHO_LEARN_FRAMES`` frames heard during playback that were taken for echo or called
silence well after any sound (the caller's speech, its soft onsets and consonants
included, left out). Once
``ECHO_LEARN_MIN_FRAMES`` were seen, the threshold is that loudest return plus
``echo_guard_db`` (never above the fixed threshold, never below ``ECHO_FLOOR_DB`` under
the agent): echo as loud as anything the line returned lately is still echo, and a line
that returns nothing lets a soft onset count at once.

End of turn: the segmenter decides (sip_edge.call.turn_end). In ``model`` mode it asks, after a
short pause, whether the caller finished: a :class:`TurnCheck` event, which the call runs
on the end-of-turn model off the event loop and answers with :meth:`Turns.on_turn_verdict`.

Speculative start: at the caller's first pause the segmenter gives the utterance so far as
provisional (:class:`ProvisionalUtterance`); speech after it cancels it
(:class:`ProvisionalCancelled`), an end of turn with no speech since confirms it
(:class:`ProvisionalConfirmed`). :mod:`sip_edge.call.speculation` holds back what the
pipeline answers to it until then.

No-answer watchdog (``no_answer_ms``, 0: off): once a turn ends (an utterance, or the
confirmation of a provisional one) the caller is owed speech, and so is anyone listening
to an answer that has started and not finished. The media clock counts the silent frames
the caller hears while owed speech; when they reach ``no_answer_ms`` a :class:`NoAnswer`
event cuts every open response (a dead stage will never finish it) so the session can
play its own apology. Audio reaching the caller resets the count (the clock is about the
FIRST audio of an answer and gaps inside one, never an answer's length); speech from the
caller clears the debt (a barge-in, the caller going on, a provisional turn still open).
An answer the pipeline closes before its end (``superseded``, ``failed``: the replica voicing
it died) leaves the debt in place once what arrived of it has played (``Pacer.owes_speech``):
the silence until the retried answer's first audio is counted from the cut answer's last.

One vocabulary (:mod:`sip_edge.call.events`): the segmenter's events come out of
:meth:`Turns.on_caller_frame` and :meth:`Turns.on_turn_verdict` as they are, with the two
this module adds (:class:`BargeIn`, :class:`NoAnswer`) in their place.

The media clock thread calls :meth:`Turns.next_playout_frame`; the event loop calls the rest.
One lock keeps the pacer consistent between the two.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from .events import (
    BargeIn,
    Event,
    NoAnswer,
    ProvisionalConfirmed,
    SpeechStarted,
    UtteranceReady,
)
from .playback import Pacer
from .segmenter import Segmenter

__all__ = ["Turns"]


ECHO_TAIL_FRAMES = 15
"""Frames (300 ms) of agent audio the echo guard remembers: the echo path's delay and tail."""

BURST_GAP_MS = 60
"""A pause this long ends a burst: the barge-in guard counts voiced time within one burst."""

ECHO_LEARN_FRAMES = 100
"""Frames (2 s) of playback over which the guard remembers the loudest return of the line."""
ECHO_LEARN_MIN_FRAMES = 25
"""Frames (500 ms) of playback heard before the learnt threshold replaces the fixed one."""
ECHO_LEARN_QUIET_FRAMES = 15
"""A frame called silence counts as the line's return only this many frames (300 ms) after
the last sound the VAD heard: the caller's own fricatives and closures are left out."""
ECHO_FLOOR_DB = 30.0
"""The learnt threshold stays at least this far under the agent's peak (a caller this much
quieter than the agent is not a barge-in, even on a line with no echo)."""

SOFT_PROBABILITY = 0.05
"""A frame at or above this probability is not silence: the gate (webrtcvad) heard it, and
Silero's score rose from its silence floor (0.01). Such frames just before a burst's first
voiced frame are its soft onset."""


class Turns:
    def __init__(
        self,
        segmenter: Segmenter,
        pacer: Pacer,
        barge_in_min_ms: int = 120,
        echo_guard_db: float = 6.0,
        barge_in_onset_ms: int = 60,
        echo_learn: bool = True,
        no_answer_ms: int = 0,
        barge_in_hold_ms: int = 0,
    ) -> None:
        self.segmenter = segmenter
        self.pacer = pacer
        self.barge_in_min_ms = barge_in_min_ms
        self.barge_in_hold_ms = min(barge_in_hold_ms, barge_in_min_ms)
        self.holds = 0
        """Times playback paused for a possible barge-in."""
        self.holds_resumed = 0
        """Of those, the ones that were not a barge-in (the answer went on)."""
        self._onset_frames = barge_in_onset_ms // segmenter.params.frame_ms
        self.echo_ratio = 10 ** (-echo_guard_db / 20) if echo_guard_db > 0 else 0.0
        self.barge_ins = 0
        self.echo_frames = 0
        """Caller frames the echo guard took for echo."""
        self._echo_learn = echo_learn and self.echo_ratio > 0
        self._returns: collections.deque[float] = collections.deque(maxlen=ECHO_LEARN_FRAMES)
        self._echo_floor = 10 ** (-ECHO_FLOOR_DB / 20)
        self._quiet_run = 0
        self._far_peaks: collections.deque[int] = collections.deque(
            [0] * ECHO_TAIL_FRAMES, maxlen=ECHO_TAIL_FRAMES
        )
        self._lock = threading.Lock()
        self._burst_frames = 0  # voiced frames of the current burst of speech
        self._burst_peak = 0  # the loudest sample of the burst's voiced frames
        self._burst_far = 0  # the loudest agent sample played during the burst (+ tail)
        self._gap_frames = 0
        self._held = 0  # frames waiting for the classifier's verdict
        frame_ms = segmenter.params.frame_ms
        self.no_answer_frames = -(-no_answer_ms // frame_ms) if no_answer_ms > 0 else 0
        self.no_answers = 0
        self._owed = False  # a turn ended and no audio reached the caller since
        self._silent_frames = 0  # silent frames played while speech is owed (media clock)
        self._soft = 0  # frames not called silence, not voiced, just before this one

    # --- event loop side -----------------------------------------------------------------

    def on_caller_frame(
        self, frame: bytes, probability: float, deferred: bool = False
    ) -> list[Event]:
        """``deferred``: the classifier could not judge this frame yet; the next frame's
        probability is its verdict too (it then counts towards the barge-in guard)."""
        frame_ms = self.segmenter.params.frame_ms
        voiced = probability >= self.segmenter.params.threshold
        held, self._held = self._held, (1 if deferred else 0)
        if voiced:
            if not self._burst_frames:  # the burst's soft onset counts (capped)
                held = max(held, min(self._soft, self._onset_frames))
            self._burst_frames += 1 + held
            self._gap_frames = 0
            self._burst_peak = max(self._burst_peak, _peak(frame))
            self._soft = 0
        else:
            self._soft = self._soft + 1 if deferred or probability >= SOFT_PROBABILITY else 0
            self._gap_frames += 1
            if self._gap_frames * frame_ms >= BURST_GAP_MS:
                self._burst_frames = 0
                self._burst_peak = 0
                self._burst_far = 0
        echo = False
        far_now = 0
        if self.echo_ratio:
            with self._lock:
                far_now = max(self._far_peaks)
        if self.echo_ratio and self._burst_frames:
            self._burst_far = max(self._burst_far, far_now)
            # The whole burst is judged by its loudest frame against the loudest agent audio
            # of its time: consonants quieter than the threshold do not split a caller's
            # word, and echo never gets that loud.
            far = self._burst_far
            echo = bool(far) and self._burst_peak < far * self.echo_threshold()
        # What the line returns: frames taken for echo, and frames the VAD called silence
        # ``ECHO_LEARN_QUIET_FRAMES`` after any sound (a soft onset, a frame awaiting its
        # verdict, the caller's unvoiced consonants between syllables are the caller's).
        quiet = not voiced and not deferred and probability < SOFT_PROBABILITY
        self._quiet_run = self._quiet_run + 1 if quiet else 0
        if self._echo_learn and far_now and (echo or self._quiet_run > ECHO_LEARN_QUIET_FRAMES):
            self._returns.append(_peak(frame) / far_now)
        if voiced and echo:
            probability = 0.0
            self.echo_frames += 1
        speech = self.segmenter.push(frame, probability)
        events: list[Event] = []
        voiced_ms = 0 if echo else self._burst_frames * frame_ms
        if voiced_ms >= self.barge_in_min_ms:
            with self._lock:
                cut = self.pacer.cancel() if self.pacer.playing else []
            if cut:
                self.barge_ins += 1
                events.extend(BargeIn(rid, self.segmenter.frame_index) for rid in cut)
        elif self.barge_in_hold_ms:
            with self._lock:
                if voiced_ms >= self.barge_in_hold_ms:
                    self.holds += self.pacer.hold()
                elif self.pacer.held:  # the burst ended short of a barge-in, or was echo
                    self.pacer.resume()
                    self.holds_resumed += 1
        events.extend(speech)
        self._track_turn(events)
        return events

    def echo_threshold(self) -> float:
        """The caller's loudest frame must reach this share of the agent's to be no echo:
        the fixed guard, or what the line was heard to return (``echo_learn``)."""
        if not self._echo_learn or len(self._returns) < ECHO_LEARN_MIN_FRAMES:
            return self.echo_ratio
        learnt = max(self._returns) / self.echo_ratio  # the loudest return + echo_guard_db
        return min(self.echo_ratio, max(self._echo_floor, learnt))

    def on_turn_verdict(self, check_id: int, probability: float) -> list[Event]:
        """The end-of-turn model's probability that the caller finished, for a
        :class:`TurnCheck`: the end of the utterance when it is 'complete' and still
        current, else nothing."""
        events: list[Event] = [*self.segmenter.verdict(check_id, probability)]
        self._track_turn(events)
        return events

    def _track_turn(self, events: list[Event]) -> None:
        """The watchdog's view of the turn: owed speech from its end, not while the caller
        speaks; and the :class:`NoAnswer` once the silence reached the bound."""
        if not self.no_answer_frames:
            return
        with self._lock:
            for event in events:
                if isinstance(event, SpeechStarted | BargeIn):
                    self._owed = False
                    self.pacer.owes_speech = False
                    self._silent_frames = 0
                elif isinstance(event, UtteranceReady | ProvisionalConfirmed):
                    self._owed = True
                    self._silent_frames = 0
            if self.segmenter.in_speech or self._silent_frames < self.no_answer_frames:
                return
            silent_ms = self._silent_frames * self.segmenter.params.frame_ms
            cut = tuple(self.pacer.cancel())
            self._owed = False
            self._silent_frames = 0
        self.no_answers += 1
        events.append(NoAnswer(cut, silent_ms))

    def forgive(self) -> None:
        """The turn needs no answer (the pipeline heard nothing in it): not owed any more."""
        with self._lock:
            self._owed = False
            self.pacer.owes_speech = False
            if not self.pacer.playing:
                self._silent_frames = 0

    @property
    def owed(self) -> bool:
        """True while a turn ended and no audio reached the caller since (watchdog armed)."""
        with self._lock:
            return self._owed

    def awaiting(self, check_id: int) -> bool:
        """True while the verdict of ``check_id`` could still matter (any thread)."""
        return self.segmenter.awaiting(check_id)

    def push_audio(self, response_id: str, seq: int, audio: bytes, is_final: bool) -> bool:
        with self._lock:
            return self.pacer.push(response_id, seq, audio, is_final)

    def cancel(self, response_id: str | None = None) -> list[str]:
        """A cancel from the pipeline (response.cancel it published itself)."""
        with self._lock:
            return self.pacer.cancel(response_id)

    def audio_ready(self) -> bool:
        with self._lock:
            return self.pacer.audio_ready()

    def close(self, response_id: str) -> bool:
        """The pipeline closed ``response_id`` (no more chunks): what arrived plays."""
        with self._lock:
            return self.pacer.close(response_id)

    def wants_more(self) -> bool:
        with self._lock:
            return self.pacer.wants_more()

    @property
    def playing(self) -> bool:
        with self._lock:
            return self.pacer.playing

    def take_started(self) -> list[str]:
        """The responses whose first frame was played since the last call."""
        with self._lock:
            return self.pacer.take_started()

    # --- media clock side ----------------------------------------------------------------

    def next_playout_frame(self) -> bytes:
        with self._lock:
            frame = self.pacer.next_frame()
            if self.echo_ratio:
                self._far_peaks.append(_peak(frame))
            if self.pacer.audible:
                self._owed = False
                self._silent_frames = 0
            elif self._owed or self.pacer.playing or self.pacer.owes_speech:
                # owes_speech: an answer cut short (its replica died, the pipeline closed
                # it) played what it had; the silence since its last audio goes on counting
                self._silent_frames += 1
            else:
                self._silent_frames = 0
            return frame


def _peak(frame: bytes) -> int:
    if not frame:
        return 0
    samples = np.frombuffer(frame, dtype="<i2")
    return int(np.max(np.abs(samples.astype(np.int32))))
