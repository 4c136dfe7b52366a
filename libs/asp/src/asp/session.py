"""Session state machine and the AI side's session table, both sans-I/O.

States (one per session, from the point of view of either peer)::

    IDLE --connect--> CONNECTED --capabilities--> CAPS_RECEIVED --start--> NEGOTIATING
                                                        ^                     |
                                                        +----rejected---------+
                                                                              | accepted
                        +--update--> UPDATING --updated/rejected--+           v
                        |                                         +------> ACTIVE
                        +-------------------------------------------------- ACTIVE
    ACTIVE --end--> ENDING --ended--> CLOSED          (any state --close--> CLOSED)

An illegal move raises ASPError with the code a peer should hear: 1005 for a second
start, 4004 for an update outside ACTIVE, 4001 for anything on a closed session, 1003
for any other message that is not valid in the current state.

The pipeline's session lifecycle (one owner, see docs/ARCHITECTURE.md) is also here, pure:
:func:`open_session` is what a ``session.start`` published on Redis becomes (the
``session.started`` answer and the state the stages read, written with it in one
transaction by ``pipeline.bus``), and :class:`SessionStats` counts, from the events a
session publishes, the statistics of its ``session.ended``.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass, field

from .errors import ASPError, ErrorCode
from .messages import (
    Message,
    Negotiated,
    ProtocolCapabilities,
    ResponseCancel,
    SessionEnd,
    SessionEnded,
    SessionStart,
    SessionStarted,
    SessionStatus,
    SessionUpdate,
    SessionUpdated,
    SpeechStart,
    Statistics,
    TurnTiming,
    now_iso,
)
from .negotiation import default_capabilities, negotiate, negotiate_update

log = logging.getLogger(__name__)


class SessionState(enum.Enum):
    IDLE = "idle"
    CONNECTED = "connected"
    CAPS_RECEIVED = "caps_received"
    NEGOTIATING = "negotiating"
    ACTIVE = "active"
    UPDATING = "updating"
    ENDING = "ending"
    CLOSED = "closed"


class Event(enum.Enum):
    CONNECT = "connect"
    CAPABILITIES = "protocol.capabilities"
    START = "session.start"
    ACCEPTED = "session.started(accepted)"
    REJECTED = "session.started(rejected)"
    UPDATE = "session.update"
    UPDATED = "session.updated"
    END = "session.end"
    ENDED = "session.ended"
    CLOSE = "close"


S, E = SessionState, Event
TRANSITIONS: dict[tuple[SessionState, Event], SessionState] = {
    (S.IDLE, E.CONNECT): S.CONNECTED,
    (S.CONNECTED, E.CAPABILITIES): S.CAPS_RECEIVED,
    (S.CAPS_RECEIVED, E.START): S.NEGOTIATING,
    (S.NEGOTIATING, E.ACCEPTED): S.ACTIVE,
    (S.NEGOTIATING, E.REJECTED): S.CAPS_RECEIVED,
    (S.ACTIVE, E.UPDATE): S.UPDATING,
    (S.UPDATING, E.UPDATED): S.ACTIVE,
    (S.ACTIVE, E.END): S.ENDING,
    (S.UPDATING, E.END): S.ENDING,
    (S.ENDING, E.ENDED): S.CLOSED,
}


class SessionMachine:
    """The state of one session; ``handle(event)`` moves it or raises ASPError."""

    def __init__(self, session_id: str | None = None, state: SessionState = S.IDLE) -> None:
        self.session_id = session_id
        self.state = state

    def handle(self, event: Event) -> SessionState:
        if event is E.CLOSE:
            return self._transition(S.CLOSED)
        new = TRANSITIONS.get((self.state, event))
        if new is None:
            raise self._illegal(event)
        return self._transition(new)

    @property
    def active(self) -> bool:
        return self.state in (S.ACTIVE, S.UPDATING)

    def _illegal(self, event: Event) -> ASPError:
        where = f"{event.value} is not allowed in state {self.state.value}"
        details = {"state": self.state.value, "event": event.value}
        if self.state is S.CLOSED:
            return ASPError(ErrorCode.SESSION_NOT_FOUND, f"session is closed: {where}", details)
        if event is E.START and self.state in (S.NEGOTIATING, S.ACTIVE, S.UPDATING):
            return ASPError(ErrorCode.SESSION_ALREADY_ACTIVE, where, details)
        if event is E.UPDATE:
            return ASPError(ErrorCode.SESSION_UPDATE_NOT_ALLOWED, where, details)
        return ASPError(ErrorCode.INVALID_MESSAGE_TYPE, where, details)

    def _transition(self, new: SessionState) -> SessionState:
        old, self.state = self.state, new
        log.debug("session %s: %s -> %s", self.session_id, old.value, new.value)
        return new


@dataclass
class _Entry:
    machine: SessionMachine
    negotiated: Negotiated | None = None
    started_at: str = field(default_factory=now_iso)


class SessionTable:
    """The AI side's view of its sessions: start, update and end with the protocol's errors.

    Pure bookkeeping (no clock, no I/O): a service keeps one per peer or rebuilds it from
    Redis; every method returns the message to send back or raises ASPError.
    """

    def __init__(self, capabilities: ProtocolCapabilities, max_sessions: int = 10_000) -> None:
        self.capabilities = capabilities
        self.max_sessions = max_sessions
        self._sessions: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def start(self, request: SessionStart) -> SessionStarted:
        entry = self._sessions.get(request.session_id)
        if entry is not None:
            entry.machine.handle(E.START)  # raises 1005 for a live session
        elif len(self._sessions) >= self.max_sessions:
            raise ASPError(
                ErrorCode.SESSION_LIMIT_REACHED, f"at most {self.max_sessions} sessions at once"
            )
        else:
            machine = SessionMachine(request.session_id, S.CAPS_RECEIVED)
            machine.handle(E.START)
            entry = _Entry(machine)
        answer = negotiate(self.capabilities, request)
        if answer.status == SessionStatus.REJECTED:
            entry.machine.handle(E.REJECTED)
            self._sessions.pop(request.session_id, None)
        else:
            entry.machine.handle(E.ACCEPTED)
            entry.negotiated = answer.negotiated
            self._sessions[request.session_id] = entry
        return answer

    def get(self, session_id: str) -> Negotiated:
        """The negotiated settings of a live session; 4001 when there is none."""
        entry = self._entry(session_id)
        assert entry.negotiated is not None
        return entry.negotiated

    def update(self, request: SessionUpdate) -> SessionUpdated:
        entry = self._entry(request.session_id)
        entry.machine.handle(E.UPDATE)  # 4004 unless ACTIVE
        assert entry.negotiated is not None
        answer = negotiate_update(self.capabilities, entry.negotiated, request)
        if answer.negotiated is not None:
            entry.negotiated = answer.negotiated
        entry.machine.handle(E.UPDATED)
        return answer

    def end(self, request: SessionEnd, statistics: Statistics | None = None) -> SessionEnded:
        entry = self._entry(request.session_id)
        entry.machine.handle(E.END)
        entry.machine.handle(E.ENDED)
        del self._sessions[request.session_id]
        return SessionEnded(
            session_id=request.session_id, statistics=statistics, timestamp=now_iso()
        )

    def _entry(self, session_id: str) -> _Entry:
        entry = self._sessions.get(session_id)
        if entry is None:
            raise ASPError(
                ErrorCode.SESSION_NOT_FOUND, "no such session", {"session_id": session_id}
            )
        return entry


# --- the pipeline's session lifecycle -------------------------------------------------------

STATE_LANGUAGE = "language"
STATE_SAMPLE_RATE = "sample_rate"
STATE_ENCODING = "encoding"
"""Fields of a session's state hash (``asp.streams.session_state_key``) written when the
session opens; the stages read them (a stage's own default where one is absent)."""
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?")
"""A language tag the state accepts from ``session.start`` metadata (never trusted)."""
BARGE_IN_REASON = "barge_in"
"""The ``response.cancel`` reason of a response the caller cut by speaking."""


@dataclass(frozen=True)
class Opening:
    """What a ``session.start`` becomes: the answer and, when accepted, the session's state
    (empty when rejected: a rejected session has no state, no stage works on it)."""

    started: SessionStarted
    state: dict[str, str | int]

    @property
    def accepted(self) -> bool:
        return self.started.status != SessionStatus.REJECTED


def open_session(
    request: SessionStart, capabilities: ProtocolCapabilities | None = None
) -> Opening:
    """Negotiates ``request`` (libs/asp's default capabilities unless given) and derives the
    state the stages read: the negotiated rate and encoding, and the metadata's language
    when it is a language tag."""
    answer = negotiate(capabilities or default_capabilities(), request)
    if answer.status == SessionStatus.REJECTED or answer.negotiated is None:
        return Opening(answer, {})
    audio = answer.negotiated.audio
    state: dict[str, str | int] = {
        STATE_SAMPLE_RATE: audio.sample_rate,
        STATE_ENCODING: audio.encoding,
    }
    language = (request.metadata or {}).get("language")
    if isinstance(language, str) and LANGUAGE_TAG.fullmatch(language):
        state[STATE_LANGUAGE] = language
    return Opening(answer, state)


@dataclass
class SessionStats:
    """The statistics of a session's ``session.ended``, counted from the events the session
    publishes (:meth:`observe` each one): ``audio.speech_start`` events, responses cut by a
    barge-in, and the edge's ``turn.timing`` ``edge_e2e_ms`` (the caller's last voiced frame
    to the first frame of the answer). The audio frames are the ingress's own count, given
    at the end."""

    speech_events: int = 0
    barge_ins: int = 0
    latencies_ms: list[int] = field(default_factory=list)

    def observe(self, msg: Message) -> None:
        if isinstance(msg, SpeechStart):
            self.speech_events += 1
        elif isinstance(msg, ResponseCancel) and msg.reason == BARGE_IN_REASON:
            self.barge_ins += 1
        elif isinstance(msg, TurnTiming) and msg.edge_e2e_ms is not None:
            self.latencies_ms.append(msg.edge_e2e_ms)

    def statistics(self, frames_received: int, frames_sent: int) -> Statistics:
        latency = (
            round(sum(self.latencies_ms) / len(self.latencies_ms), 1) if self.latencies_ms else None
        )
        return Statistics(
            audio_frames_received=frames_received,
            audio_frames_sent=frames_sent,
            vad_speech_events=self.speech_events,
            barge_in_count=self.barge_ins,
            average_response_latency_ms=latency,
        )

    def ended(
        self, session_id: str, duration_seconds: float, frames_received: int, frames_sent: int
    ) -> SessionEnded:
        """The session's ``session.ended``."""
        return SessionEnded(
            session_id=session_id,
            duration_seconds=round(max(0.0, duration_seconds), 3),
            statistics=self.statistics(frames_received, frames_sent),
            timestamp=now_iso(),
        )
