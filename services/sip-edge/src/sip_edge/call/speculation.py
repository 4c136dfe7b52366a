"""What the pipeline answers to a provisional utterance, held back until it is resolved
(pure: ASP messages in, decisions out).

The llm-worker names the utterance a response answers (``response.start``'s
``utterance_id``). While that utterance is provisional the response's audio is held here,
not played; when the edge confirms it the held audio goes to the pacer at once, in order,
and the rest plays as it comes; when the edge cancels it the held audio is dropped, and so
is every later chunk of its responses (the caller never hears any of it).
"""

from __future__ import annotations

from asp import ResponseAudio

__all__ = ["SpeculativeTurn"]


class SpeculativeTurn:
    def __init__(self) -> None:
        self.utterance_id: str | None = None
        """The provisional utterance of the turn in progress (None: none)."""
        self.cancelled_in_turn = 0
        """Provisional utterances the turn in progress cancelled so far."""
        self._responses: list[str] = []  # responses that answer it, in order of start
        self._held: list[ResponseAudio] = []
        self._cancelled: set[str] = set()  # cancelled utterances (a late response.start)
        self._dropped: set[str] = set()  # responses to a cancelled utterance

    def start(self, utterance_id: str) -> None:
        """A provisional utterance was published."""
        self.utterance_id = utterance_id
        self._responses = []
        self._held = []

    def answers(self, response_id: str, utterance_id: str | None) -> bool:
        """``response.start``: the response answers ``utterance_id``. False when it answers
        a cancelled utterance (it will never be heard)."""
        if utterance_id is None:
            return True
        if utterance_id == self.utterance_id:
            self._responses.append(response_id)
        elif utterance_id in self._cancelled:
            self._dropped.add(response_id)
            return False
        return True

    def hold(self, msg: ResponseAudio) -> bool:
        """True when ``msg`` must not be played now: held (its utterance is provisional)
        or dropped (its utterance was cancelled)."""
        if msg.response_id in self._dropped:
            return True
        if msg.response_id in self._responses:
            self._held.append(msg)
            return True
        return False

    def confirm(self) -> list[ResponseAudio]:
        """The provisional utterance is the turn: the audio held for it, to play now."""
        held = self._held
        self.utterance_id = None
        self._responses = []
        self._held = []
        return held

    def cancel(self) -> list[str]:
        """The caller went on: the responses that answered the utterance (to cancel)."""
        if self.utterance_id is not None:
            self._cancelled.add(self.utterance_id)
        responses = self._responses
        self._dropped.update(responses)
        self.utterance_id = None
        self._responses = []
        self._held = []
        self.cancelled_in_turn += 1
        return responses

    def take_cancelled(self) -> int:
        """How many provisional utterances the turn that just ended cancelled (reset)."""
        count, self.cancelled_in_turn = self.cancelled_in_turn, 0
        return count
