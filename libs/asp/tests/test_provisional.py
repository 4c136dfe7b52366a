"""Speculative turns (ASP 1.2): the new events and fields on the wire, and the states of a
provisional utterance (which confirm/cancel is legal, and the error when it is not)."""

from __future__ import annotations

import dataclasses

import pytest
from asp import (
    ASPError,
    ErrorCode,
    ResponseStart,
    TurnTiming,
    Utterance,
    UtteranceCancel,
    UtteranceConfirm,
    decode_json,
    encode_json,
    from_entry,
    parse_message,
    to_entry,
)
from asp import provisional as states
from asp import streams as layout
from asp.testing import SESSION_ID, transcript_of, utterance

CONFIRM = UtteranceConfirm(session_id=SESSION_ID, utterance_id="u3")
CANCEL = UtteranceCancel(session_id=SESSION_ID, utterance_id="u3", reason="caller_resumed")


def provisional_utterance() -> Utterance:
    return dataclasses.replace(utterance(SESSION_ID, "u3", bytes(320), ms=20), provisional=True)


def test_a_provisional_utterance_round_trips_and_shows_the_flag_in_the_stream() -> None:
    msg = provisional_utterance()
    entry = to_entry(msg)
    assert entry["provisional"] == "true"
    assert from_entry(entry) == msg
    assert decode_json(encode_json(msg)) == msg


def test_a_final_utterance_has_no_flag_in_the_stream() -> None:
    msg = dataclasses.replace(utterance(SESSION_ID, "u4", bytes(320), ms=20), provisional=False)
    assert "provisional" not in to_entry(msg)


def test_the_new_optional_fields_parse_and_a_1_1_event_has_none() -> None:
    start = ResponseStart(session_id=SESSION_ID, response_id="r-u3", utterance_id="u3")
    assert parse_message(start.serialize()) == start
    text = dataclasses.replace(transcript_of(provisional_utterance(), "oi"), provisional=True)
    assert parse_message(text.serialize()).provisional is True  # type: ignore[attr-defined]
    old = {"type": "response.start", "session_id": SESSION_ID, "response_id": "r-1"}
    assert parse_message(old) == ResponseStart(session_id=SESSION_ID, response_id="r-1")


@pytest.mark.parametrize("msg", [CONFIRM, CANCEL])
def test_confirm_and_cancel_round_trip_through_redis_entries(
    msg: UtteranceConfirm | UtteranceCancel,
) -> None:
    assert from_entry(to_entry(msg)) == msg


def test_a_confirm_without_its_utterance_id_is_malformed() -> None:
    data = CONFIRM.serialize()
    del data["utterance_id"]
    with pytest.raises(ASPError) as err:
        parse_message(data)
    assert err.value.code is ErrorCode.INVALID_MESSAGE_FORMAT
    assert "utterance_id" in err.value.error.message


def test_the_cancel_needs_a_reason() -> None:
    data = CANCEL.serialize()
    data["reason"] = 7
    with pytest.raises(ASPError, match="reason"):
        parse_message(data)


def test_confirm_and_cancel_go_to_the_stages_that_act_on_them() -> None:
    assert layout.stages_for("utterance.confirm") == (layout.Stage.LLM,)
    assert layout.stages_for("utterance.cancel") == (layout.Stage.STT, layout.Stage.LLM)
    assert layout.provisional_key(SESSION_ID) in layout.session_keys(SESSION_ID)


def test_only_a_provisional_utterance_can_be_resolved() -> None:
    assert states.target_state(CONFIRM) == states.CONFIRMED
    assert states.target_state(CANCEL) == states.CANCELLED
    assert states.resolution_error(CONFIRM, states.PROVISIONAL) is None
    assert states.resolution_error(CANCEL, states.PROVISIONAL) is None
    for before in (None, states.CONFIRMED, states.CANCELLED, states.RECORDED):
        for msg in (CONFIRM, CANCEL):
            error = states.resolution_error(msg, before)
            assert error is not None
            assert error.code is ErrorCode.INVALID_MESSAGE_TYPE
            assert msg.TYPE in error.error.message
            assert "'u3'" in error.error.message


def test_the_stale_confirm_error_says_what_the_utterance_is() -> None:
    error = states.resolution_error(CONFIRM, states.CANCELLED)
    assert error is not None
    assert error.error.message == "utterance.confirm rejected: utterance 'u3' is already cancelled"
    unknown = states.resolution_error(CANCEL, None)
    assert unknown is not None
    assert "is not a provisional utterance" in unknown.error.message


def test_a_stage_accepts_a_delivered_event_only_in_the_state_it_moved_to() -> None:
    assert states.delivery_error(CONFIRM, states.CONFIRMED) is None
    assert states.delivery_error(CONFIRM, states.RECORDED) is None
    assert states.delivery_error(CANCEL, states.CANCELLED) is None
    for now in (None, states.PROVISIONAL, states.CANCELLED):
        error = states.delivery_error(CONFIRM, now)
        assert error is not None
        assert error.code is ErrorCode.INVALID_MESSAGE_TYPE
    for now in (None, states.PROVISIONAL, states.CONFIRMED, states.RECORDED):
        assert states.delivery_error(CANCEL, now) is not None


def test_wasted_time_and_cancelled_count_in_turn_timing() -> None:
    timing = TurnTiming(session_id=SESSION_ID, stage="stt", utterance_id="u3", wasted_ms=0)
    assert timing.steps_ms() == {"wasted_ms": 0}
    edge = TurnTiming(
        session_id=SESSION_ID, stage="edge", end_of_turn_ms=120, provisional_cancelled=2
    )
    assert to_entry(edge)["provisional_cancelled"] == 2
    with pytest.raises(ASPError, match="provisional_cancelled"):
        TurnTiming(session_id=SESSION_ID, stage="edge", end_of_turn_ms=1, provisional_cancelled=-1)
    with pytest.raises(ASPError, match="carries no step"):
        TurnTiming(session_id=SESSION_ID, stage="edge", provisional_cancelled=1)
