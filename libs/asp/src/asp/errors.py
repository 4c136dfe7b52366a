"""ASP error codes and the library's one exception.

Hierarchy::

    Exception
    └── ASPError            every failure the library reports; carries a ProtocolError
                            (code, category, message, details, recoverable) that a peer
                            can send back as-is in a ``protocol.error`` message.

Decoders raise ``ASPError`` with 1001 (invalid_message_format) or 1003
(invalid_message_type) and nothing else, whatever bytes they are given.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ErrorCategory(enum.StrEnum):
    PROTOCOL = "protocol"
    AUDIO = "audio"
    VAD = "vad"
    SESSION = "session"


class ErrorCode(enum.IntEnum):
    INVALID_MESSAGE_FORMAT = 1001
    HANDSHAKE_TIMEOUT = 1002
    INVALID_MESSAGE_TYPE = 1003
    VERSION_MISMATCH = 1004
    SESSION_ALREADY_ACTIVE = 1005
    UNSUPPORTED_SAMPLE_RATE = 2001
    UNSUPPORTED_ENCODING = 2002
    INVALID_FRAME_DURATION = 2003
    AUDIO_PROCESSING_ERROR = 2004
    INVALID_VAD_PARAMETER = 3001
    VAD_NOT_CONFIGURABLE = 3002
    VAD_INITIALIZATION_ERROR = 3003
    SESSION_NOT_FOUND = 4001
    SESSION_EXPIRED = 4002
    SESSION_LIMIT_REACHED = 4003
    SESSION_UPDATE_NOT_ALLOWED = 4004

    @property
    def category(self) -> ErrorCategory:
        return _CATEGORY_BY_THOUSAND[self.value // 1000]


_CATEGORY_BY_THOUSAND = {
    1: ErrorCategory.PROTOCOL,
    2: ErrorCategory.AUDIO,
    3: ErrorCategory.VAD,
    4: ErrorCategory.SESSION,
}

# Errors after which the same peer may simply try again (corrected).
_RECOVERABLE = frozenset(
    {
        ErrorCode.INVALID_MESSAGE_FORMAT,
        ErrorCode.INVALID_MESSAGE_TYPE,
        ErrorCode.SESSION_ALREADY_ACTIVE,
        ErrorCode.UNSUPPORTED_SAMPLE_RATE,
        ErrorCode.UNSUPPORTED_ENCODING,
        ErrorCode.INVALID_FRAME_DURATION,
        ErrorCode.AUDIO_PROCESSING_ERROR,
        ErrorCode.INVALID_VAD_PARAMETER,
        ErrorCode.VAD_NOT_CONFIGURABLE,
        ErrorCode.SESSION_LIMIT_REACHED,
        ErrorCode.SESSION_UPDATE_NOT_ALLOWED,
    }
)


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The wire form of an error (``error`` of protocol.error, ``errors`` of session.started)."""

    code: int
    category: ErrorCategory
    message: str
    details: dict[str, Any] | None = None
    recoverable: bool | None = None


class ASPError(Exception):
    """Raised by every part of the library; ``.error`` is ready to send to the peer."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        recoverable: bool | None = None,
    ) -> None:
        super().__init__(f"{code.value} {code.name.lower()}: {message}")
        self.code = code
        self.error = ProtocolError(
            code=code.value,
            category=code.category,
            message=message,
            details=details,
            recoverable=code in _RECOVERABLE if recoverable is None else recoverable,
        )


def make_error(
    code: ErrorCode, message: str, details: dict[str, Any] | None = None
) -> ProtocolError:
    """A ProtocolError for ``code`` with the standard category and recoverability."""
    return ASPError(code, message, details).error
