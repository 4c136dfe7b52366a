"""Every ASP message as a frozen dataclass with ``parse`` and ``serialize``.

ASP 1.0 (the published protocol), the pipeline events this design adds as ASP 1.1
(additive: a 1.0 peer never receives them) and speculative turns as ASP 1.2 (additive:
optional fields, and two events that only follow a provisional utterance).
``serialize()`` gives plain values ready for
a codec (``type`` included, None fields left out); ``parse()`` checks every field's JSON
type, requires the fields the protocol requires and ignores unknown ones (forward
compatibility). Ranges are checked by :mod:`asp.negotiation`, not here.

With ``base64_bytes=True`` audio travels as base64 text (JSON); otherwise as raw bytes
(msgpack, Redis).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from .audio import AudioConfig, VADConfig, VADPatch
from .errors import ASPError, ErrorCategory, ErrorCode, ProtocolError
from .fields import (
    Ident,
    SessionId,
    compile_parser,
    compile_serializer,
    fail,
    parse_fields,
    parser_for,
    serializer_for,
)

PROTOCOL_VERSION = "1.2.0"
"""The version this library speaks: 1.0.0 plus the additive pipeline events (1.1) and
speculative turns (1.2)."""

DTMF_DIGITS = frozenset("0123456789*#ABCD")


def now_iso() -> str:
    """The current UTC time as ISO 8601 with microseconds, e.g. 2026-11-25T10:00:00.123456Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(ts: str) -> datetime:
    """An ISO 8601 timestamp as an aware datetime; ASPError 1001 when it is not one."""
    try:
        dt = datetime.fromisoformat(ts)
    except (TypeError, ValueError) as e:
        raise fail("timestamp", "expected ISO 8601") from e
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class Message:
    """Base of every message. Subclasses are frozen dataclasses registered by ``@message``."""

    __slots__ = ()
    TYPE: ClassVar[str]
    SINCE: ClassVar[str] = "1.0"

    def serialize(self, *, base64_bytes: bool = False) -> dict[str, Any]:
        return _SERIALIZE[self.TYPE](self, {"type": self.TYPE}, base64_bytes)

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, base64_bytes: bool = False) -> Self:
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "a message must be an object")
        kind = data.get("type")
        if kind != cls.TYPE:
            raise ASPError(
                ErrorCode.INVALID_MESSAGE_TYPE,
                f"expected a {cls.TYPE} message, got {kind!r}",
                {"type": str(kind)[:64]},
            )
        return parse_fields(cls, data, cls.TYPE, base64_bytes)  # type: ignore[no-any-return]


REGISTRY: dict[str, type[Message]] = {}
# The generated parser and serializer of each type (hot path: one dict lookup each).
_PARSE: dict[str, Callable[[Mapping[str, Any], bool, str], Any]] = {}
_SERIALIZE: dict[str, Callable[[Any, dict[str, Any], bool], dict[str, Any]]] = {}
M = TypeVar("M", bound=type[Message])


def message(type_: str, since: str = "1.0") -> Callable[[M], M]:
    def register(cls: M) -> M:
        cls.TYPE = type_
        cls.SINCE = since
        # ASP 1.1 events must carry their timestamp on the wire (stage latencies).
        compile_parser(cls, frozenset({"timestamp"}) if since != "1.0" else frozenset())
        compile_serializer(cls)
        REGISTRY[type_] = cls
        _PARSE[type_] = parser_for(cls)
        _SERIALIZE[type_] = serializer_for(cls)
        return cls

    return register


def parse_message(data: Mapping[str, Any], *, base64_bytes: bool = False) -> Message:
    """Parses any ASP message by its ``type``: ASPError 1001 or 1003 on bad input."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "a message must be an object")
    kind = data.get("type")
    if type(kind) is not str:
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "the message has no string 'type'")
    parse = _PARSE.get(kind)
    if parse is None:
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_TYPE,
            f"unknown message type {kind[:64]!r}",
            {"type": kind[:64]},
        )
    return parse(data, base64_bytes, kind)  # type: ignore[no-any-return]


# --- value objects ------------------------------------------------------------------------


class SessionStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    ACCEPTED_WITH_CHANGES = "accepted_with_changes"
    REJECTED = "rejected"


class CallActionKind(enum.StrEnum):
    HANGUP = "hangup"
    TRANSFER = "transfer"
    DTMF = "dtmf"


@dataclasses.dataclass(frozen=True, slots=True)
class Capabilities:
    version: str
    supported_sample_rates: tuple[int, ...]
    supported_encodings: tuple[str, ...]
    vad_configurable: bool
    supported_frame_durations: tuple[int, ...] | None = None
    vad_parameters: tuple[str, ...] | None = None
    max_session_duration_seconds: int | None = None
    features: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Adjustment:
    field: str
    requested: int | float | bool | str
    applied: int | float | bool | str
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Negotiated:
    audio: AudioConfig
    vad: VADConfig
    adjustments: tuple[Adjustment, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Statistics:
    audio_frames_received: int | None = None
    audio_frames_sent: int | None = None
    vad_speech_events: int | None = None
    barge_in_count: int | None = None
    average_response_latency_ms: float | None = None


# --- ASP 1.0 ----------------------------------------------------------------------------


@message("protocol.capabilities")
@dataclasses.dataclass(frozen=True, slots=True)
class ProtocolCapabilities(Message):
    version: str
    capabilities: Capabilities
    server_id: str | None = None
    timestamp: str | None = None


@message("session.start")
@dataclasses.dataclass(frozen=True, slots=True)
class SessionStart(Message):
    """Edge -> AI. ``version`` (additive, optional) is the ASP version the edge speaks."""

    session_id: SessionId
    call_id: str | None = None
    audio: AudioConfig | None = None
    vad: VADConfig | None = None
    metadata: dict[str, Any] | None = None
    version: str | None = None
    timestamp: str | None = None


def _check_session_result(msg: SessionStarted | SessionUpdated) -> None:
    if msg.status == SessionStatus.REJECTED:
        if not msg.errors:
            raise fail(f"{msg.TYPE}.errors", "a rejected session must say why (errors)")
    elif msg.negotiated is None:
        raise fail(f"{msg.TYPE}.negotiated", "an accepted session must carry negotiated")


@message("session.started")
@dataclasses.dataclass(frozen=True, slots=True)
class SessionStarted(Message):
    session_id: SessionId
    status: SessionStatus
    negotiated: Negotiated | None = None
    errors: tuple[ProtocolError, ...] | None = None
    timestamp: str | None = None

    def __post_init__(self) -> None:
        _check_session_result(self)


@message("session.update")
@dataclasses.dataclass(frozen=True, slots=True)
class SessionUpdate(Message):
    """Edge -> AI: only VAD may change mid-session (audio needs a new session)."""

    session_id: SessionId
    vad: VADPatch
    timestamp: str | None = None


@message("session.updated")
@dataclasses.dataclass(frozen=True, slots=True)
class SessionUpdated(Message):
    session_id: SessionId
    status: SessionStatus
    negotiated: Negotiated | None = None
    errors: tuple[ProtocolError, ...] | None = None
    timestamp: str | None = None

    def __post_init__(self) -> None:
        _check_session_result(self)


@message("session.end")
@dataclasses.dataclass(frozen=True, slots=True)
class SessionEnd(Message):
    session_id: SessionId
    reason: str | None = None
    timestamp: str | None = None


@message("session.ended")
@dataclasses.dataclass(frozen=True, slots=True)
class SessionEnded(Message):
    session_id: SessionId
    duration_seconds: float | None = None
    statistics: Statistics | None = None
    timestamp: str | None = None


@message("audio.speech_start")
@dataclasses.dataclass(frozen=True, slots=True)
class SpeechStart(Message):
    session_id: SessionId
    timestamp: str | None = None


@message("audio.speech_end")
@dataclasses.dataclass(frozen=True, slots=True)
class SpeechEnd(Message):
    session_id: SessionId
    duration_ms: int | None = None
    timestamp: str | None = None


@message("audio.end")
@dataclasses.dataclass(frozen=True, slots=True)
class AudioEnd(Message):
    """Edge -> AI: the caller's turn ended (VAD)."""

    session_id: SessionId
    duration_ms: int | None = None
    timestamp: str | None = None


@message("response.start")
@dataclasses.dataclass(frozen=True, slots=True)
class ResponseStart(Message):
    """``utterance_id`` (1.2, optional): the caller's utterance this response answers; the
    edge holds the audio of a response to a provisional utterance until it is confirmed."""

    session_id: SessionId
    response_id: Ident
    timestamp: str | None = None
    utterance_id: Ident | None = None


@message("response.end")
@dataclasses.dataclass(frozen=True, slots=True)
class ResponseEnd(Message):
    session_id: SessionId
    response_id: Ident
    interrupted: bool
    timestamp: str | None = None


@message("protocol.error")
@dataclasses.dataclass(frozen=True, slots=True)
class ProtocolErrorMessage(Message):
    error: ProtocolError
    session_id: SessionId | None = None
    timestamp: str | None = None

    @classmethod
    def from_exception(cls, exc: ASPError, session_id: str | None = None) -> ProtocolErrorMessage:
        return cls(error=exc.error, session_id=session_id, timestamp=now_iso())


# --- ASP 1.1: pipeline events (timestamp required on the wire) ----------------------------


@message("utterance", since="1.1")
@dataclasses.dataclass(frozen=True, slots=True)
class Utterance(Message):
    """VAD-segmented caller speech, prefix padding included.

    ``provisional`` (1.2): the caller only paused; the turn may go on. The stages work on it
    at once, but nothing of it may be heard or recorded before an ``utterance.confirm``;
    an ``utterance.cancel`` throws it away (see :mod:`asp.provisional`)."""

    session_id: SessionId
    utterance_id: Ident
    sample_rate: int
    encoding: str
    duration_ms: int
    audio: bytes
    timestamp: str = dataclasses.field(default_factory=now_iso)
    provisional: bool | None = None


@message("transcript", since="1.1")
@dataclasses.dataclass(frozen=True, slots=True)
class Transcript(Message):
    """``provisional`` (1.2): the transcript of a provisional utterance (its reply waits for
    the confirmation before it is recorded or any call action is taken)."""

    session_id: SessionId
    utterance_id: Ident
    text: str
    language: str
    confidence: float
    timestamp: str = dataclasses.field(default_factory=now_iso)
    provisional: bool | None = None


@message("response.text", since="1.1")
@dataclasses.dataclass(frozen=True, slots=True)
class ResponseText(Message):
    session_id: SessionId
    response_id: Ident
    seq: int
    text: str
    is_final: bool
    timestamp: str = dataclasses.field(default_factory=now_iso)


@message("response.audio", since="1.1")
@dataclasses.dataclass(frozen=True, slots=True)
class ResponseAudio(Message):
    session_id: SessionId
    response_id: Ident
    seq: int
    audio: bytes
    is_final: bool
    timestamp: str = dataclasses.field(default_factory=now_iso)


@message("response.cancel", since="1.1")
@dataclasses.dataclass(frozen=True, slots=True)
class ResponseCancel(Message):
    session_id: SessionId
    response_id: Ident
    reason: str
    timestamp: str = dataclasses.field(default_factory=now_iso)


@message("call.dtmf", since="1.1")
@dataclasses.dataclass(frozen=True, slots=True)
class CallDtmf(Message):
    session_id: SessionId
    digit: str
    timestamp: str = dataclasses.field(default_factory=now_iso)

    def __post_init__(self) -> None:
        if self.digit not in DTMF_DIGITS or len(self.digit) != 1:
            raise fail("call.dtmf.digit", "must be one of 0-9 * # A-D")


@message("call.action", since="1.1")
@dataclasses.dataclass(frozen=True, slots=True)
class CallAction(Message):
    """hangup; transfer (blind, to ``target``); dtmf (send ``digits``)."""

    session_id: SessionId
    action: CallActionKind
    target: str | None = None
    digits: str | None = None
    timestamp: str = dataclasses.field(default_factory=now_iso)

    def __post_init__(self) -> None:
        if self.action == CallActionKind.TRANSFER and not (
            self.target and self.target.isascii() and self.target.isalnum()
        ):
            raise fail("call.action.target", "a transfer needs a target extension (digits)")
        if self.action == CallActionKind.DTMF and not (
            self.digits and all(d in DTMF_DIGITS for d in self.digits)
        ):
            raise fail("call.action.digits", "dtmf needs digits among 0-9 * # A-D")


@message("utterance.confirm", since="1.2")
@dataclasses.dataclass(frozen=True, slots=True)
class UtteranceConfirm(Message):
    """Edge -> pipeline: the caller said nothing more; the provisional utterance is the
    whole turn (its reply may be heard and recorded)."""

    session_id: SessionId
    utterance_id: Ident
    timestamp: str = dataclasses.field(default_factory=now_iso)


@message("utterance.cancel", since="1.2")
@dataclasses.dataclass(frozen=True, slots=True)
class UtteranceCancel(Message):
    """Edge -> pipeline: the caller went on speaking; nothing of the provisional utterance
    may be heard or recorded (a later utterance covers the whole turn)."""

    session_id: SessionId
    utterance_id: Ident
    reason: str
    timestamp: str = dataclasses.field(default_factory=now_iso)


TIMING_STEPS = (
    "end_of_turn_ms",
    "stt_ms",
    "llm_first_token_ms",
    "llm_first_clause_ms",
    "tts_first_audio_ms",
    "edge_e2e_ms",
    "wasted_ms",
)
"""The steps of a turn that ``turn.timing`` can carry, in the order they happen."""


@message("turn.timing", since="1.1")
@dataclasses.dataclass(frozen=True, slots=True)
class TurnTiming(Message):
    """Where a turn's time went: each stage appends the steps it measured, in ms.

    sip-edge: ``end_of_turn_ms`` (the caller's last voiced frame -> utterance published) and
    ``edge_e2e_ms`` (last voiced frame -> first frame of the answer played); stt-worker:
    ``stt_ms``; llm-worker: ``llm_first_token_ms`` and ``llm_first_clause_ms``; tts-worker:
    ``tts_first_audio_ms`` (first sentence of a response -> its first audio published).
    Written to the session log only: no stage consumes it.

    Speculative turns (1.2): ``wasted_ms``, the time a stage spent on a provisional
    utterance that was cancelled; ``provisional_cancelled`` (sip-edge, with
    ``end_of_turn_ms``), how many provisional utterances this turn cancelled before it ended.
    """

    session_id: SessionId
    stage: Ident
    utterance_id: Ident | None = None
    response_id: Ident | None = None
    end_of_turn_ms: int | None = None
    stt_ms: int | None = None
    llm_first_token_ms: int | None = None
    llm_first_clause_ms: int | None = None
    tts_first_audio_ms: int | None = None
    edge_e2e_ms: int | None = None
    timestamp: str = dataclasses.field(default_factory=now_iso)
    wasted_ms: int | None = None
    provisional_cancelled: int | None = None

    def __post_init__(self) -> None:
        steps = self.steps_ms()
        if not steps:
            raise fail("turn.timing", "carries no step (end_of_turn_ms, stt_ms, ...)")
        for name, value in steps.items():
            if value < 0:
                raise fail(f"turn.timing.{name}", "must be >= 0")
        if self.provisional_cancelled is not None and self.provisional_cancelled < 0:
            raise fail("turn.timing.provisional_cancelled", "must be >= 0")

    def steps_ms(self) -> dict[str, int]:
        """The steps this event carries: name -> milliseconds."""
        out: dict[str, int] = {}
        for name in TIMING_STEPS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


__all__ = [
    "DTMF_DIGITS",
    "PROTOCOL_VERSION",
    "REGISTRY",
    "TIMING_STEPS",
    "Adjustment",
    "AudioEnd",
    "CallAction",
    "CallActionKind",
    "CallDtmf",
    "Capabilities",
    "ErrorCategory",
    "Message",
    "Negotiated",
    "ProtocolCapabilities",
    "ProtocolErrorMessage",
    "ResponseAudio",
    "ResponseCancel",
    "ResponseEnd",
    "ResponseStart",
    "ResponseText",
    "SessionEnd",
    "SessionEnded",
    "SessionStart",
    "SessionStarted",
    "SessionStatus",
    "SessionUpdate",
    "SessionUpdated",
    "SpeechEnd",
    "SpeechStart",
    "Statistics",
    "Transcript",
    "TurnTiming",
    "Utterance",
    "UtteranceCancel",
    "UtteranceConfirm",
    "now_iso",
    "parse_message",
    "parse_timestamp",
]
