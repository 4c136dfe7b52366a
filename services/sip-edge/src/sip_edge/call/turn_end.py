"""When the caller's silence ends the turn (pure: no audio, no model, no clock).

Two modes, chosen by ``SIP_EDGE_TURN_MODE``:

- ``silence``: the turn ends after ``silence_threshold_ms`` of silence (the session's ASP
  VAD value, 500 ms by default). The behaviour before the end-of-turn model.
- ``model``: after ``pause_ms`` of silence the segmenter asks an end-of-turn model whether
  the caller finished (:class:`~sip_edge.call.events.TurnCheck`, answered with
  :meth:`~sip_edge.call.segmenter.Segmenter.verdict`). A probability >= ``threshold`` ends
  the turn at once; a lower one keeps listening, and ``max_silence_ms`` of silence ends the
  turn anyway (also when the verdict is late or never comes). Speech before the verdict
  makes it stale.

::

    SPEECH --voiced--> SPEECH                                (a pending check goes stale)
    SPEECH --pause_ms unvoiced--> ASKED                      (one check per pause)
    ASKED  --verdict >= threshold--> end of turn
    ASKED  --verdict < threshold--> SPEECH (keeps listening)
    any    --max_silence_ms unvoiced--> end of turn

The model itself (sip_edge.smart_turn) runs off the event loop; nothing here imports it.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools

__all__ = ["TURN_MODES", "Decision", "TurnEnd", "TurnEndParams"]

TURN_MODES = ("silence", "model")


@dataclasses.dataclass(frozen=True, slots=True)
class TurnEndParams:
    mode: str = "silence"
    pause_ms: int = 200
    """model mode: silence after which the model is asked."""
    max_silence_ms: int = 1200
    """model mode: silence that ends the turn whatever the model said."""
    threshold: float = 0.5
    """model mode: a probability of 'complete' at or above this ends the turn."""
    speculative_pause_ms: int = 0
    """Either mode: silence after which the utterance so far is published as provisional
    (speculative start); 0: never. Only a pause shorter than the end of turn has effect."""

    def __post_init__(self) -> None:
        if self.mode not in TURN_MODES:
            raise ValueError(f"turn mode must be one of {', '.join(TURN_MODES)}: {self.mode!r}")
        if not 0 < self.pause_ms <= self.max_silence_ms:
            raise ValueError("0 < pause_ms <= max_silence_ms is required")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be within 0..1")
        if self.speculative_pause_ms < 0:
            raise ValueError("speculative_pause_ms must be >= 0 (0: off)")


class Decision(enum.Enum):
    WAIT = "wait"
    ASK = "ask"
    END = "end"


_CHECK_IDS = itertools.count(1)
"""Check ids are unique in the process: a verdict for a segmenter that was replaced (the
session's VAD parameters changed) can never match a check of its successor."""


class TurnEnd:
    """The end-of-turn decision for one utterance in progress; ``reset`` between utterances."""

    def __init__(self, params: TurnEndParams, silence_threshold_ms: int) -> None:
        self.params = params
        self.silence_threshold_ms = silence_threshold_ms
        self.pending: int | None = None
        """The id of the check whose verdict is awaited (None: none, or it went stale)."""
        self._asked_this_pause = False

    @property
    def uses_model(self) -> bool:
        return self.params.mode == "model"

    def on_frame(self, voiced: bool, silence_ms: int) -> Decision:
        """One frame of an utterance in progress; ``silence_ms``: the unvoiced run so far."""
        if voiced:
            self.pending = None
            self._asked_this_pause = False
            return Decision.WAIT
        if not self.uses_model:
            return Decision.END if silence_ms >= self.silence_threshold_ms else Decision.WAIT
        if silence_ms >= self.params.max_silence_ms:
            return Decision.END
        if silence_ms >= self.params.pause_ms and not self._asked_this_pause:
            self._asked_this_pause = True
            return Decision.ASK
        return Decision.WAIT

    def new_check(self) -> int:
        """The id of the check the caller is about to ask for (after ``Decision.ASK``)."""
        self.pending = next(_CHECK_IDS)
        return self.pending

    def on_verdict(self, check_id: int, probability: float) -> bool:
        """True when this verdict ends the turn: it answers the pending check and says
        'complete'. A stale or unknown check, or 'incomplete', changes nothing but clears
        the pending check it answers."""
        if self.pending is None or check_id != self.pending:
            return False
        self.pending = None
        return probability >= self.params.threshold  # False for NaN (a broken model)

    def reset(self) -> None:
        self.pending = None
        self._asked_this_pause = False
