"""The pipeline's session lifecycle, pure: what a session.start opens (answer and state) and
the statistics of a session.ended, counted from the events the session published."""

from __future__ import annotations

from typing import Any

import pytest
from asp import (
    AudioConfig,
    ResponseCancel,
    SessionStart,
    SessionStats,
    SpeechStart,
    TurnTiming,
    open_session,
    parse_message,
)
from asp.messages import SessionEnded, SessionStatus, Statistics
from asp.session import STATE_ENCODING, STATE_LANGUAGE, STATE_SAMPLE_RATE
from asp.testing import SESSION_ID


def start(**kw: Any) -> SessionStart:
    return SessionStart(session_id=SESSION_ID, **kw)


def test_an_accepted_start_gives_the_state_the_stages_read() -> None:
    opening = open_session(
        start(audio=AudioConfig(sample_rate=16000), metadata={"language": "pt-BR"})
    )
    assert opening.accepted
    assert opening.started.status == SessionStatus.ACCEPTED
    assert opening.started.session_id == SESSION_ID
    assert opening.state == {
        STATE_SAMPLE_RATE: 16000,
        STATE_ENCODING: "pcm_s16le",
        STATE_LANGUAGE: "pt-BR",
    }


@pytest.mark.parametrize(
    "metadata",
    [None, {}, {"language": 7}, {"language": "pt BR; DROP"}, {"language": "x" * 40}],
)
def test_a_language_that_is_not_a_tag_is_left_to_each_stage(metadata: Any) -> None:
    opening = open_session(start(metadata=metadata))
    assert opening.accepted
    assert STATE_LANGUAGE not in opening.state
    assert opening.state[STATE_SAMPLE_RATE] == 8000  # the defaults, negotiated


def test_a_rejected_start_has_no_state() -> None:
    opening = open_session(start(audio=AudioConfig(sample_rate=11025)))
    assert not opening.accepted
    assert opening.started.status == SessionStatus.REJECTED
    assert opening.state == {}


def test_statistics_count_the_published_events() -> None:
    stats = SessionStats()
    for msg in (
        SpeechStart(session_id=SESSION_ID),
        ResponseCancel(session_id=SESSION_ID, response_id="r1", reason="barge_in"),
        ResponseCancel(session_id=SESSION_ID, response_id="r2", reason="no_audio"),
        SpeechStart(session_id=SESSION_ID),
        TurnTiming(session_id=SESSION_ID, stage="edge", end_of_turn_ms=400),
        TurnTiming(session_id=SESSION_ID, stage="edge", edge_e2e_ms=900),
        TurnTiming(session_id=SESSION_ID, stage="edge", edge_e2e_ms=1200),
    ):
        stats.observe(msg)
    ended = stats.ended(SESSION_ID, 12.34567, frames_received=600, frames_sent=250)
    assert ended == SessionEnded(
        session_id=SESSION_ID,
        duration_seconds=12.346,
        statistics=Statistics(
            audio_frames_received=600,
            audio_frames_sent=250,
            vad_speech_events=2,
            barge_in_count=1,
            average_response_latency_ms=1050.0,
        ),
        timestamp=ended.timestamp,
    )
    assert ended.timestamp
    assert parse_message(ended.serialize()) == ended  # valid on the wire


def test_a_session_without_events_ends_with_zeros_and_no_latency() -> None:
    ended = SessionStats().ended(SESSION_ID, -1.0, 0, 0)
    assert ended.duration_seconds == 0.0
    assert ended.statistics == Statistics(0, 0, 0, 0, None)
