"""The end-of-turn decision alone (sip_edge.call.turn_end): silence in ms in, decisions out."""

from __future__ import annotations

import math

import pytest
from sip_edge.call.turn_end import Decision, TurnEnd, TurnEndParams

MODEL = TurnEndParams("model", pause_ms=200, max_silence_ms=1200, threshold=0.5)


def silence(t: TurnEnd, up_to_ms: int, step: int = 20) -> dict[int, Decision]:
    """Unvoiced frames from step to up_to_ms; the decisions other than WAIT, by time."""
    out: dict[int, Decision] = {}
    for ms in range(step, up_to_ms + 1, step):
        d = t.on_frame(False, ms)
        if d is not Decision.WAIT:
            out[ms] = d
    return out


def test_silence_mode_ends_at_the_session_threshold_and_never_asks() -> None:
    t = TurnEnd(TurnEndParams(), silence_threshold_ms=500)
    assert silence(t, 480) == {}
    assert t.on_frame(False, 500) is Decision.END
    assert not t.uses_model


def test_model_mode_asks_once_per_pause_then_caps() -> None:
    t = TurnEnd(MODEL, silence_threshold_ms=500)
    assert silence(t, 1180) == {200: Decision.ASK}  # once, not at every later frame
    assert t.on_frame(False, 1200) is Decision.END


def test_speech_after_a_pause_makes_the_check_stale_and_rearms_the_question() -> None:
    t = TurnEnd(MODEL, silence_threshold_ms=500)
    assert silence(t, 300) == {200: Decision.ASK}
    first = t.new_check()
    assert t.on_frame(True, 0) is Decision.WAIT
    assert t.pending is None
    assert not t.on_verdict(first, 0.99)  # too late: the caller went on speaking
    assert silence(t, 200) == {200: Decision.ASK}
    second = t.new_check()
    assert second != first
    assert t.on_verdict(second, 0.99)


@pytest.mark.parametrize(
    ("probability", "ends"),
    [(0.5, True), (0.97, True), (0.49, False), (0.0, False), (math.nan, False)],
)
def test_verdict_against_the_threshold(probability: float, ends: bool) -> None:
    t = TurnEnd(MODEL, silence_threshold_ms=500)
    silence(t, 200)
    check = t.new_check()
    assert t.on_verdict(check, probability) is ends
    assert t.pending is None  # answered either way
    assert not t.on_verdict(check, 1.0)  # a second answer to the same check is ignored


def test_unknown_check_or_no_pending_check_changes_nothing() -> None:
    t = TurnEnd(MODEL, silence_threshold_ms=500)
    assert not t.on_verdict(12345, 1.0)
    silence(t, 200)
    check = t.new_check()
    assert not t.on_verdict(check + 1, 1.0)
    assert t.pending == check
    t.reset()
    assert not t.on_verdict(check, 1.0)


def test_an_incomplete_verdict_keeps_listening_until_the_cap() -> None:
    t = TurnEnd(MODEL, silence_threshold_ms=500)
    assert silence(t, 200) == {200: Decision.ASK}
    assert not t.on_verdict(t.new_check(), 0.1)
    assert t.on_frame(False, 1180) is Decision.WAIT
    assert t.on_frame(False, 1200) is Decision.END


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "smart"}, "turn mode"),
        ({"mode": "model", "pause_ms": 0}, "pause_ms"),
        ({"mode": "model", "pause_ms": 900, "max_silence_ms": 800}, "max_silence_ms"),
        ({"mode": "model", "threshold": 1.5}, "threshold"),
        ({"mode": "model", "threshold": -0.1}, "threshold"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TurnEndParams(**kwargs)  # type: ignore[arg-type]
