"""The session state machine and the AI side's session table."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asp import (
    ASPError,
    AudioConfig,
    ErrorCode,
    SessionMachine,
    SessionStart,
    SessionState,
    SessionTable,
    SessionUpdate,
    VADPatch,
    default_capabilities,
)
from asp.messages import SessionEnd, SessionStatus, Statistics
from asp.session import TRANSITIONS, Event
from asp.testing import SESSION_ID

S, E = SessionState, Event
HAPPY = [E.CONNECT, E.CAPABILITIES, E.START, E.ACCEPTED, E.UPDATE, E.UPDATED, E.END, E.ENDED]


def test_happy_path() -> None:
    m = SessionMachine(SESSION_ID)
    states = [m.handle(e) for e in HAPPY]
    assert states == [
        S.CONNECTED,
        S.CAPS_RECEIVED,
        S.NEGOTIATING,
        S.ACTIVE,
        S.UPDATING,
        S.ACTIVE,
        S.ENDING,
        S.CLOSED,
    ]


def test_rejected_negotiation_may_be_retried() -> None:
    m = SessionMachine(SESSION_ID, S.CAPS_RECEIVED)
    m.handle(E.START)
    assert m.handle(E.REJECTED) is S.CAPS_RECEIVED
    m.handle(E.START)
    assert m.handle(E.ACCEPTED) is S.ACTIVE
    assert m.active


@pytest.mark.parametrize("state", list(SessionState))
@pytest.mark.parametrize("event", [e for e in Event if e is not E.CLOSE])
def test_every_illegal_move_raises_the_right_code(state: SessionState, event: Event) -> None:
    m = SessionMachine(SESSION_ID, state)
    if (state, event) in TRANSITIONS:
        assert m.handle(event) is TRANSITIONS[(state, event)]
        return
    with pytest.raises(ASPError) as info:
        m.handle(event)
    assert m.state is state
    if state is S.CLOSED:
        expected = ErrorCode.SESSION_NOT_FOUND
    elif event is E.START and state in (S.NEGOTIATING, S.ACTIVE, S.UPDATING):
        expected = ErrorCode.SESSION_ALREADY_ACTIVE
    elif event is E.UPDATE:
        expected = ErrorCode.SESSION_UPDATE_NOT_ALLOWED
    else:
        expected = ErrorCode.INVALID_MESSAGE_TYPE
    assert info.value.code == expected


def test_close_from_anywhere() -> None:
    for state in SessionState:
        assert SessionMachine(None, state).handle(E.CLOSE) is S.CLOSED


def table(max_sessions: int = 10) -> SessionTable:
    return SessionTable(default_capabilities(), max_sessions=max_sessions)


def test_table_start_update_end() -> None:
    t = table()
    answer = t.start(SessionStart(session_id=SESSION_ID))
    assert answer.status == SessionStatus.ACCEPTED
    assert SESSION_ID in t
    assert len(t) == 1
    updated = t.update(SessionUpdate(session_id=SESSION_ID, vad=VADPatch(min_speech_ms=300)))
    assert updated.status == SessionStatus.ACCEPTED
    assert t.get(SESSION_ID).vad.min_speech_ms == 300
    ended = t.end(SessionEnd(session_id=SESSION_ID), Statistics(barge_in_count=2))
    assert ended.statistics == Statistics(barge_in_count=2)
    assert SESSION_ID not in t


def test_duplicate_start_is_1005() -> None:
    t = table()
    t.start(SessionStart(session_id=SESSION_ID))
    with pytest.raises(ASPError) as info:
        t.start(SessionStart(session_id=SESSION_ID))
    assert info.value.code == ErrorCode.SESSION_ALREADY_ACTIVE


@pytest.mark.parametrize("op", ["update", "end", "get"])
def test_unknown_session_is_4001(op: str) -> None:
    t = table()
    calls: dict[str, Callable[[], object]] = {
        "update": lambda: t.update(SessionUpdate(session_id=SESSION_ID, vad=VADPatch())),
        "end": lambda: t.end(SessionEnd(session_id=SESSION_ID)),
        "get": lambda: t.get(SESSION_ID),
    }
    with pytest.raises(ASPError) as info:
        calls[op]()
    assert info.value.code == ErrorCode.SESSION_NOT_FOUND


def test_limit_is_4003() -> None:
    t = table(max_sessions=1)
    t.start(SessionStart(session_id=SESSION_ID))
    with pytest.raises(ASPError) as info:
        t.start(SessionStart(session_id="00000000-0000-4000-8000-000000000000"))
    assert info.value.code == ErrorCode.SESSION_LIMIT_REACHED


def test_rejected_start_leaves_no_session_and_may_be_retried() -> None:
    t = table()
    bad = t.start(SessionStart(session_id=SESSION_ID, audio=AudioConfig(sample_rate=11025)))
    assert bad.status == SessionStatus.REJECTED
    assert SESSION_ID not in t
    good = t.start(SessionStart(session_id=SESSION_ID))
    assert good.status == SessionStatus.ACCEPTED
