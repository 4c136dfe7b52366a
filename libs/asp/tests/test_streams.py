"""The Redis layout: names and entries (no Redis needed: the module does no I/O)."""

from __future__ import annotations

import msgpack
import pytest
from asp import ASPError, ErrorCode, Stage, from_entry, to_entry
from asp import streams as s
from asp.messages import ProtocolErrorMessage
from asp.testing import SAMPLES, SESSION_ID


def test_names() -> None:
    tag = "{" + SESSION_ID + "}"
    assert s.session_tag(SESSION_ID) == tag
    assert s.session_stream(SESSION_ID) == f"asp:session:{tag}"
    assert s.history_key(SESSION_ID) == f"asp:history:{tag}"
    assert s.session_state_key(SESSION_ID) == f"asp:state:{tag}"
    assert s.processed_key(Stage.TTS, SESSION_ID) == f"asp:done:tts:{tag}"
    assert s.work_stream(Stage.STT) == "asp:work:stt"
    assert s.consumer_group(Stage.LLM) == "llm-workers"
    assert s.dead_letter_stream(Stage.TTS) == "asp:dead:tts"
    assert s.cache_key("tts", "ab") == "asp:cache:tts:ab"
    assert s.work_lock_key(Stage.STT, SESSION_ID, "u-1") == f"asp:lock:stt:{tag}:u-1"
    assert s.summary_key(SESSION_ID) == f"asp:summary:{tag}"
    assert s.cancelled_key(SESSION_ID) == f"asp:cancelled:{tag}"
    assert s.turn_key(SESSION_ID, "r-1") == f"asp:turn:{tag}:r-1"
    assert s.provisional_key(SESSION_ID) == f"asp:provisional:{tag}"
    assert s.tts_priority_key(SESSION_ID) == f"asp:ttsprio:{tag}"
    assert s.live_turn_member(SESSION_ID, "r-1") == f"{SESSION_ID}:r-1"  # a member, not a key
    assert set(s.STAGE_INPUT) == set(Stage)
    assert s.session_stream(SESSION_ID) in s.session_keys(SESSION_ID)
    assert len(set(s.session_keys(SESSION_ID))) == 5 + len(Stage)


def test_routing() -> None:
    assert s.stages_for("utterance") == (Stage.STT,)
    assert s.stages_for("response.cancel") == (Stage.LLM, Stage.TTS)
    assert s.stages_for("response.audio") == ()


@pytest.mark.parametrize("bad", ["*", "x:y", "", "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f\n"])
def test_keys_refuse_what_is_not_a_session_id(bad: str) -> None:
    with pytest.raises(ASPError):
        s.session_stream(bad)


def test_entry_fields_are_readable_and_audio_is_raw() -> None:
    entry = to_entry(SAMPLES["response.audio"])
    assert entry["type"] == "response.audio"
    assert entry["session_id"] == SESSION_ID
    assert entry["response_id"] == "r-1"
    assert entry["seq"] == 0
    assert entry["ts"] == SAMPLES["response.audio"].timestamp  # type: ignore[attr-defined]
    assert entry["audio"] == SAMPLES["response.audio"].audio  # type: ignore[attr-defined]
    assert "audio" not in msgpack.unpackb(entry["data"])


def test_entry_as_redis_returns_it() -> None:
    for msg in SAMPLES.values():
        raw = {
            k.encode(): v if isinstance(v, bytes) else str(v).encode()
            for k, v in to_entry(msg).items()
        }
        assert from_entry(raw) == msg


def test_session_start_audio_config_stays_in_data() -> None:
    entry = to_entry(SAMPLES["session.start"])
    assert "audio" not in entry
    assert from_entry(entry) == SAMPLES["session.start"]


def test_protocol_error_without_session_has_no_session_field() -> None:
    msg = SAMPLES["protocol.error"]
    assert isinstance(msg, ProtocolErrorMessage)
    entry = to_entry(ProtocolErrorMessage(error=msg.error))
    assert "session_id" not in entry
    assert entry["ts"]


@pytest.mark.parametrize(
    "entry",
    [
        {},
        {"type": "response.audio"},
        {"type": "response.audio", "data": b"\xc1"},
        {"type": "response.audio", "data": msgpack.packb([1, 2])},
        {"type": b"\xff", "data": msgpack.packb({})},
        {b"\xff": b"x", "data": msgpack.packb({})},
        {"type": 3, "data": msgpack.packb({})},
        {"type": "nope", "data": msgpack.packb({})},
        "not a mapping",
    ],
)
def test_malformed_entries(entry: object) -> None:
    with pytest.raises(ASPError) as info:
        from_entry(entry)  # type: ignore[arg-type]
    assert info.value.code in (ErrorCode.INVALID_MESSAGE_FORMAT, ErrorCode.INVALID_MESSAGE_TYPE)


def test_entry_with_mismatched_session_or_audio() -> None:
    entry = to_entry(SAMPLES["response.audio"])
    with pytest.raises(ASPError):
        from_entry({**entry, "session_id": "00000000-0000-4000-8000-000000000000"})
    with pytest.raises(ASPError):
        from_entry({**entry, "audio": 5})


def test_turn_timing_entry_shows_its_steps_as_plain_fields() -> None:
    msg = SAMPLES["turn.timing"]
    entry = to_entry(msg)
    assert entry["type"] == "turn.timing"
    assert entry["stage"] == "llm"
    assert entry["utterance_id"] == "u-1"
    assert entry["response_id"] == "r-u-1"
    assert entry["llm_first_token_ms"] == 331
    assert entry["llm_first_clause_ms"] == 837
    assert "stt_ms" not in entry  # steps it does not carry stay out
    assert from_entry(entry) == msg
    # The plain copies are for people: the event is read from ``data``.
    assert from_entry({**entry, "llm_first_token_ms": "9999"}) == msg
