"""Speculative start in the segmenter, frame by frame (20 ms of virtual time each): the
first pause gives the utterance so far as provisional; speech cancels it; an end of turn
with no speech since confirms it instead of giving a new utterance."""

from __future__ import annotations

import pytest
from sip_edge.call import Segmenter, SegmenterParams, TurnEndParams
from sip_edge.call import events as ev

FRAME = 320


def frame(tag: int) -> bytes:
    return bytes([tag % 256]) * FRAME


def run(seg: Segmenter, pattern: list[tuple[float, int]]) -> list[object]:
    events: list[object] = []
    i = 0
    for prob, n in pattern:
        for _ in range(n):
            events.extend(seg.push(frame(i), prob))
            i += 1
    return events


def speculative(pause_ms: int = 200, mode: str = "silence") -> Segmenter:
    return Segmenter(SegmenterParams(), TurnEndParams(mode=mode, speculative_pause_ms=pause_ms))


def test_off_by_default_nothing_provisional() -> None:
    events = run(Segmenter(SegmenterParams()), [(0.0, 20), (0.9, 30), (0.0, 30)])
    assert [type(e) for e in events] == [ev.SpeechStarted, ev.UtteranceReady, ev.SpeechEnded]


def test_a_pause_then_silence_is_one_provisional_utterance_confirmed() -> None:
    seg = speculative()
    events = run(seg, [(0.0, 20), (0.9, 30), (0.0, 9)])
    assert [type(e) for e in events] == [ev.SpeechStarted]  # 180 ms: not yet
    events = run(seg, [(0.0, 1)])  # 200 ms of silence
    assert [type(e) for e in events] == [ev.ProvisionalUtterance]
    provisional = events[0]
    assert isinstance(provisional, ev.ProvisionalUtterance)
    assert provisional.silence_ms == 200
    assert provisional.onset_frame == 20
    # 300 ms of prefix, 600 ms of speech, the 200 ms of silence so far
    assert provisional.duration_ms == 300 + 600 + 200
    assert len(provisional.audio) == provisional.duration_ms // 20 * FRAME
    events = run(seg, [(0.0, 15)])  # 500 ms: the end of the turn
    assert [type(e) for e in events] == [ev.ProvisionalConfirmed, ev.SpeechEnded]
    confirmed = events[0]
    assert isinstance(confirmed, ev.ProvisionalConfirmed)
    assert confirmed.silence_ms == 500


def test_speech_after_the_pause_cancels_and_the_final_utterance_covers_the_whole_turn() -> None:
    seg = speculative()
    events = run(seg, [(0.0, 20), (0.9, 30), (0.0, 15)])  # a 300 ms pause mid-sentence
    assert [type(e) for e in events] == [ev.SpeechStarted, ev.ProvisionalUtterance]
    first = events[1]
    assert isinstance(first, ev.ProvisionalUtterance)
    events = run(seg, [(0.9, 1)])
    assert [type(e) for e in events] == [ev.ProvisionalCancelled]
    events = run(seg, [(0.9, 29), (0.0, 10)])  # the second half, then a pause again
    assert [type(e) for e in events] == [ev.ProvisionalUtterance]
    events = run(seg, [(0.0, 15)])
    assert [type(e) for e in events] == [ev.ProvisionalConfirmed, ev.SpeechEnded]
    # The provisional utterance that was confirmed starts where the turn did.
    whole = run(speculative(), [(0.0, 20), (0.9, 30), (0.0, 15), (0.9, 30), (0.0, 10)])
    last = [e for e in whole if isinstance(e, ev.ProvisionalUtterance)][-1]
    assert last.onset_frame == first.onset_frame == 20
    assert last.audio.startswith(first.audio[: 45 * FRAME])  # prefix + first half + pause
    assert last.duration_ms == 300 + 600 + 300 + 600 + 200


def test_a_pause_as_long_as_the_end_of_turn_is_no_speculation() -> None:
    seg = speculative(pause_ms=500)
    events = run(seg, [(0.0, 20), (0.9, 30), (0.0, 25)])
    assert [type(e) for e in events] == [ev.SpeechStarted, ev.UtteranceReady, ev.SpeechEnded]


def test_model_mode_the_provisional_goes_with_the_turn_check_and_the_verdict_confirms() -> None:
    seg = speculative(pause_ms=200, mode="model")
    events = run(seg, [(0.0, 20), (0.9, 30), (0.0, 10)])
    kinds = [type(e) for e in events]
    assert kinds == [ev.SpeechStarted, ev.ProvisionalUtterance, ev.TurnCheck]
    check = events[2]
    assert isinstance(check, ev.TurnCheck)
    assert [type(e) for e in seg.verdict(check.check_id, 0.9)] == [
        ev.ProvisionalConfirmed,
        ev.SpeechEnded,
    ]
    assert not seg.in_speech


def test_negative_pause_is_refused() -> None:
    with pytest.raises(ValueError, match="speculative_pause_ms"):
        TurnEndParams(speculative_pause_ms=-1)
