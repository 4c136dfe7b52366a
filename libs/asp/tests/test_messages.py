"""Parsing rules: required fields, JSON types, ids, 1.1 timestamps, field validation."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
from asp import (
    ASPError,
    CallAction,
    CallDtmf,
    ErrorCode,
    ResponseAudio,
    SessionStart,
    SessionStarted,
    Transcript,
    TurnTiming,
    decode_json,
    parse_message,
)
from asp.messages import TIMING_STEPS, CallActionKind, SessionStatus, now_iso, parse_timestamp
from asp.streams import stages_for
from asp.testing import SAMPLES, SESSION_ID


def wire(kind: str, **changes: Any) -> dict[str, Any]:
    data = SAMPLES[kind].serialize()
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def code_of(data: Any, *, b64: bool = False) -> int:
    with pytest.raises(ASPError) as info:
        parse_message(data, base64_bytes=b64)
    return info.value.code


def test_unknown_type_is_1003() -> None:
    assert code_of({"type": "session.explode"}) == ErrorCode.INVALID_MESSAGE_TYPE


@pytest.mark.parametrize("data", [[], "x", 1, None, {"no": "type"}, {"type": 7}])
def test_not_a_message_is_1001(data: Any) -> None:
    assert code_of(data) == ErrorCode.INVALID_MESSAGE_FORMAT


def test_parse_on_the_wrong_class_is_1003() -> None:
    with pytest.raises(ASPError) as info:
        SessionStart.parse(wire("session.end"))
    assert info.value.code == ErrorCode.INVALID_MESSAGE_TYPE
    with pytest.raises(ASPError) as info:
        SessionStart.parse("nope")  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.INVALID_MESSAGE_FORMAT


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_required_field_is_required(kind: str) -> None:
    msg = SAMPLES[kind]
    required = [
        f.name
        for f in dataclasses.fields(msg)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if msg.SINCE != "1.0":
        required.append("timestamp")
    assert required, kind
    for name in required:
        with pytest.raises(ASPError) as info:
            parse_message(wire(kind, **{name: ...}))
        assert info.value.code == ErrorCode.INVALID_MESSAGE_FORMAT
        assert name in info.value.error.message


def test_optional_fields_may_be_absent_or_null() -> None:
    msg = parse_message({"type": "session.start", "session_id": SESSION_ID, "call_id": None})
    assert msg == SessionStart(session_id=SESSION_ID)


def test_unknown_fields_are_ignored() -> None:
    assert parse_message(wire("session.end", future_field=[1, 2])) == SAMPLES["session.end"]


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("session.start", "session_id", "not-a-uuid"),
        ("session.start", "session_id", 12),
        ("session.start", "audio", "8000"),
        ("session.start", "audio", {"sample_rate": "8000"}),
        ("session.start", "audio", {"sample_rate": True}),
        ("session.start", "vad", {"threshold": "high"}),
        ("session.start", "vad", {"enabled": 1}),
        ("session.start", "metadata", ["a"]),
        ("session.start", "metadata", {"a": {1, 2}}),
        ("session.started", "status", "maybe"),
        ("session.ended", "duration_seconds", "1s"),
        ("response.start", "response_id", "has space"),
        ("response.start", "response_id", ""),
        ("response.end", "interrupted", "false"),
        ("response.audio", "seq", 1.5),
        ("response.audio", "audio", "AAAA"),
        ("response.audio", "audio", 12),
        ("transcript", "confidence", "high"),
        ("protocol.error", "error", {"code": 1001}),
        ("protocol.capabilities", "capabilities", {"version": "1"}),
        ("protocol.capabilities", "capabilities", None),
        ("utterance", "sample_rate", None),
        ("session.started", "negotiated", {"audio": {}, "vad": {}, "adjustments": 3}),
        ("session.started", "negotiated", {"audio": {}, "vad": {}, "adjustments": [{}]}),
    ],
)
def test_wrong_types_are_1001_and_name_the_field(kind: str, field: str, value: Any) -> None:
    with pytest.raises(ASPError) as info:
        parse_message(wire(kind, **{field: value}))
    assert info.value.code == ErrorCode.INVALID_MESSAGE_FORMAT
    assert field in info.value.error.message
    assert info.value.error.recoverable is True


def test_integers_are_accepted_for_floats_and_converted() -> None:
    msg = parse_message(wire("transcript", confidence=1))
    assert isinstance(msg, Transcript)
    assert msg.confidence == 1.0
    assert isinstance(msg.confidence, float)


def test_non_finite_floats_are_rejected() -> None:
    assert code_of(wire("transcript", confidence=float("nan"))) == 1001
    assert code_of(wire("session.start", metadata={"x": float("inf")})) == 1001


def test_deep_metadata_is_rejected() -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    assert code_of(wire("session.start", metadata=deep)) == 1001
    assert code_of(wire("session.start", metadata={"k": [bytearray(b"x")]})) == 1001
    assert code_of(wire("session.start", metadata={"k": {3: "x"}})) == 1001


def test_long_arrays_are_rejected() -> None:
    caps = wire("protocol.capabilities")
    caps["capabilities"] = dict(caps["capabilities"], supported_sample_rates=[8000] * 2000)
    assert code_of(caps) == 1001


def test_bytes_like_audio_is_accepted_in_binary_mode() -> None:
    msg = parse_message(wire("response.audio", audio=bytearray(b"\x01\x02")))
    assert isinstance(msg, ResponseAudio)
    assert msg.audio == b"\x01\x02"


def test_base64_audio_in_json_mode() -> None:
    data = SAMPLES["response.audio"].serialize(base64_bytes=True)
    assert base64.b64decode(data["audio"]) == SAMPLES["response.audio"].audio  # type: ignore[attr-defined]
    assert parse_message(data, base64_bytes=True) == SAMPLES["response.audio"]
    data["audio"] = "!!not base64!!"
    assert code_of(data, b64=True) == 1001


def test_pipeline_events_get_a_timestamp_when_built() -> None:
    msg = ResponseAudio(session_id=SESSION_ID, response_id="r", seq=0, audio=b"", is_final=True)
    assert parse_timestamp(msg.timestamp).year >= 2026


def test_timestamps() -> None:
    assert parse_timestamp("2026-11-25T13:00:00").tzinfo is not None
    assert parse_timestamp(now_iso()).tzinfo is not None
    with pytest.raises(ASPError):
        parse_timestamp("yesterday")


@pytest.mark.parametrize("digit", ["", "12", "x", "é"])
def test_dtmf_digit_is_checked(digit: str) -> None:
    with pytest.raises(ASPError) as info:
        CallDtmf(session_id=SESSION_ID, digit=digit)
    assert info.value.code == ErrorCode.INVALID_MESSAGE_FORMAT
    assert code_of(wire("call.dtmf", digit=digit)) == 1001


@pytest.mark.parametrize(
    ("action", "target", "digits"),
    [
        (CallActionKind.TRANSFER, None, None),
        (CallActionKind.TRANSFER, "10 02", None),
        (CallActionKind.TRANSFER, "1002;drop", None),
        (CallActionKind.DTMF, None, None),
        (CallActionKind.DTMF, None, "12z"),
    ],
)
def test_call_action_needs_its_argument(
    action: CallActionKind, target: str | None, digits: str | None
) -> None:
    with pytest.raises(ASPError):
        CallAction(session_id=SESSION_ID, action=action, target=target, digits=digits)


def test_call_actions_that_are_valid() -> None:
    for msg in (
        CallAction(session_id=SESSION_ID, action=CallActionKind.HANGUP),
        CallAction(session_id=SESSION_ID, action=CallActionKind.DTMF, digits="12#"),
        CallAction(session_id=SESSION_ID, action=CallActionKind.TRANSFER, target="1002"),
    ):
        assert parse_message(msg.serialize()) == msg


def test_session_result_must_be_consistent() -> None:
    with pytest.raises(ASPError):
        SessionStarted(session_id=SESSION_ID, status=SessionStatus.REJECTED)
    with pytest.raises(ASPError):
        SessionStarted(session_id=SESSION_ID, status=SessionStatus.ACCEPTED)
    assert code_of(wire("session.started", negotiated=...)) == 1001


def test_json_decoder_rejects_what_json_cannot_say() -> None:
    texts: list[str | bytes] = ["NaN", '{"type": "session.end", "session_id": NaN}', "[1,", "\xff"]
    for text in [*texts, b"\xff\xfe"]:
        with pytest.raises(ASPError) as info:
            decode_json(text)
        assert info.value.code == ErrorCode.INVALID_MESSAGE_FORMAT


def test_turn_timing_carries_its_steps_in_order() -> None:
    msg = TurnTiming(
        session_id=SESSION_ID, stage="edge", utterance_id="u1", edge_e2e_ms=900, end_of_turn_ms=0
    )
    assert msg.steps_ms() == {"end_of_turn_ms": 0, "edge_e2e_ms": 900}
    assert list(msg.steps_ms()) == [s for s in TIMING_STEPS if s in msg.steps_ms()]
    assert parse_message(msg.serialize()) == msg
    assert stages_for("turn.timing") == ()  # the session log only: no stage consumes it


@pytest.mark.parametrize(
    "changes",
    [
        {"stt_ms": -1},
        {"llm_first_token_ms": None, "llm_first_clause_ms": None},
        {"tts_first_audio_ms": 1.5},
        {"edge_e2e_ms": "900"},
        {"stt_ms": True},
        {"stage": "no spaces allowed"},
        {"stage": ...},
        {"utterance_id": ""},
    ],
)
def test_turn_timing_rejects_bad_steps(changes: dict[str, Any]) -> None:
    assert code_of(wire("turn.timing", **changes)) == ErrorCode.INVALID_MESSAGE_FORMAT


def test_turn_timing_needs_a_step_and_no_negative_one() -> None:
    with pytest.raises(ASPError) as info:
        TurnTiming(session_id=SESSION_ID, stage="stt", utterance_id="u1")
    assert "no step" in info.value.error.message
    with pytest.raises(ASPError) as info:
        TurnTiming(session_id=SESSION_ID, stage="stt", stt_ms=-5)
    assert "turn.timing.stt_ms" in info.value.error.message
