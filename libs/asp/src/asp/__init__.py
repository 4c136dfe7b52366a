"""ASP, the Audio Session Protocol: messages, negotiation, codecs and Redis layout.

Sans-I/O: nothing here touches a socket, Redis or an event loop.
"""

from .audio import (
    AgentAudioFrame,
    AudioConfig,
    CallerAudioFrame,
    Encoding,
    VADConfig,
    VADPatch,
    decode_frame,
)
from .codec import decode_json, decode_msgpack, encode_json, encode_msgpack
from .errors import ASPError, ErrorCategory, ErrorCode, ProtocolError
from .messages import *  # noqa: F403 - the message classes are the package's API
from .messages import __all__ as _messages_all
from .negotiation import check_version, default_capabilities, negotiate, negotiate_update
from .session import (
    Opening,
    SessionMachine,
    SessionState,
    SessionStats,
    SessionTable,
    open_session,
)
from .streams import Stage, from_entry, to_entry

__all__ = [
    *_messages_all,
    "ASPError",
    "AgentAudioFrame",
    "AudioConfig",
    "CallerAudioFrame",
    "Encoding",
    "ErrorCategory",
    "ErrorCode",
    "ProtocolError",
    "Opening",
    "SessionMachine",
    "SessionState",
    "SessionStats",
    "SessionTable",
    "Stage",
    "VADConfig",
    "VADPatch",
    "check_version",
    "decode_frame",
    "decode_json",
    "decode_msgpack",
    "default_capabilities",
    "encode_json",
    "encode_msgpack",
    "from_entry",
    "negotiate",
    "negotiate_update",
    "open_session",
    "to_entry",
]
