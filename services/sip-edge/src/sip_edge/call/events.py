"""The events of one call's turn-taking: one vocabulary from the segmenter to the bridge.

The :class:`~sip_edge.call.segmenter.Segmenter` emits the speech events (:data:`SegmentEvent`);
:class:`~sip_edge.call.turns.Turns` passes them on as they are and adds its own two
(:class:`BargeIn`, :class:`NoAnswer`); the call session (:mod:`sip_edge.calls`) turns each
into what it publishes, in one ``match``:

========================  =================================================================
event                     what the session does
========================  =================================================================
SpeechStarted             ``audio.speech_start``
UtteranceReady            ``utterance``
SpeechEnded               ``audio.end``
TurnCheck                 runs the end-of-turn model, answers with ``Turns.on_turn_verdict``
ProvisionalUtterance      ``utterance`` with ``provisional: true``
ProvisionalCancelled      ``utterance.cancel`` (+ ``response.cancel`` of its responses)
ProvisionalConfirmed      ``utterance.confirm`` (held answer audio plays)
BargeIn                   ``response.cancel`` with reason ``barge_in``
NoAnswer                  ``response.cancel`` with reason ``no_audio``, the edge's apology
========================  =================================================================

Plain data (frozen dataclasses): no audio library, no clock, no I/O.
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "BargeIn",
    "Event",
    "NoAnswer",
    "ProvisionalCancelled",
    "ProvisionalConfirmed",
    "ProvisionalUtterance",
    "SegmentEvent",
    "SpeechEnded",
    "SpeechStarted",
    "TurnCheck",
    "UtteranceReady",
]


@dataclasses.dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech confirmed (it lasted min_speech_ms); ``onset_frame`` is where it began."""

    onset_frame: int


@dataclasses.dataclass(frozen=True, slots=True)
class UtteranceReady:
    """The turn ended: its audio (PCM16 at the call's rate), to transcribe."""

    audio: bytes
    duration_ms: int
    onset_frame: int
    silence_ms: int = 0
    """Time since the last voiced frame: the silence that closed the turn."""


@dataclasses.dataclass(frozen=True, slots=True)
class SpeechEnded:
    """The speech of the turn is over (after its :class:`UtteranceReady` or
    :class:`ProvisionalConfirmed`)."""

    duration_ms: int


@dataclasses.dataclass(frozen=True, slots=True)
class TurnCheck:
    """model mode: the caller paused; ask the end-of-turn model about ``audio`` (the
    utterance so far, its last ``TURN_CHECK_MAX_MS`` at most) and give its probability to
    ``Segmenter.verdict`` (``Turns.on_turn_verdict``) with this ``check_id``."""

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


@dataclasses.dataclass(frozen=True, slots=True)
class BargeIn:
    """The caller spoke over the agent: playback of ``response_id`` stopped at caller frame
    ``frame_index``."""

    response_id: str
    frame_index: int


@dataclasses.dataclass(frozen=True, slots=True)
class NoAnswer:
    """The caller heard ``silent_ms`` of silence while owed speech: ``cut`` are the open
    responses that were stopped (empty when nothing of the answer had arrived)."""

    cut: tuple[str, ...]
    silent_ms: int


SegmentEvent = (
    SpeechStarted
    | UtteranceReady
    | SpeechEnded
    | TurnCheck
    | ProvisionalUtterance
    | ProvisionalCancelled
    | ProvisionalConfirmed
)
"""What the segmenter says about the caller's speech."""

Event = SegmentEvent | BargeIn | NoAnswer
"""Everything the call's turn-taking asks the session to do."""
