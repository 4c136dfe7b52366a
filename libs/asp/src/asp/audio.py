"""Audio and VAD configuration (with their defaults and ranges) and binary audio frames.

The dataclasses only hold values: parsing checks JSON types, and ranges are the business
of :mod:`asp.negotiation` (an out-of-range VAD value is clamped and reported, not refused).
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass

from .errors import ASPError, ErrorCode


class Encoding(enum.StrEnum):
    PCM_S16LE = "pcm_s16le"
    MULAW = "mulaw"
    ALAW = "alaw"


SAMPLE_RATES: tuple[int, ...] = (8000, 16000, 24000, 48000)
ENCODINGS: tuple[str, ...] = tuple(e.value for e in Encoding)
FRAME_DURATIONS_MS: tuple[int, ...] = (10, 20, 30)
CHANNELS: tuple[int, ...] = (1,)


@dataclass(frozen=True, slots=True)
class AudioConfig:
    sample_rate: int = 8000
    encoding: str = Encoding.PCM_S16LE.value
    channels: int = 1
    frame_duration_ms: int = 20

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == Encoding.PCM_S16LE else 1

    @property
    def samples_per_frame(self) -> int:
        return self.sample_rate * self.frame_duration_ms // 1000

    @property
    def frame_bytes(self) -> int:
        """Size of one frame of payload, e.g. 320 bytes for 20 ms of 8 kHz PCM16."""
        return self.samples_per_frame * self.bytes_per_sample * self.channels


@dataclass(frozen=True, slots=True)
class VADConfig:
    enabled: bool = True
    silence_threshold_ms: int = 500
    min_speech_ms: int = 250
    threshold: float = 0.5
    ring_buffer_frames: int = 5
    speech_ratio: float = 0.4
    prefix_padding_ms: int = 300


@dataclass(frozen=True, slots=True)
class VADPatch:
    """The VAD values a ``session.update`` changes; a field left as None keeps its value."""

    enabled: bool | None = None
    silence_threshold_ms: int | None = None
    min_speech_ms: int | None = None
    threshold: float | None = None
    ring_buffer_frames: int | None = None
    speech_ratio: float | None = None
    prefix_padding_ms: int | None = None


# Inclusive (minimum, maximum) of every numeric VAD parameter.
VAD_RANGES: dict[str, tuple[float, float]] = {
    "silence_threshold_ms": (100, 2000),
    "min_speech_ms": (100, 1000),
    "threshold": (0.0, 1.0),
    "ring_buffer_frames": (3, 10),
    "speech_ratio": (0.2, 0.8),
    "prefix_padding_ms": (0, 500),
}


# --- binary frames (WebSocket transport) -------------------------------------------------

CALLER_FRAME = 0x01
AGENT_FRAME = 0x02
FLAG_FINAL = 0x01
FLAG_BARGE_IN_RESPONSE = 0x02

_CALLER_HEADER = struct.Struct("<HIQ")
_AGENT_HEADER = struct.Struct("<HIQB")
CALLER_HEADER_SIZE = _CALLER_HEADER.size  # 14
AGENT_HEADER_SIZE = _AGENT_HEADER.size  # 15


def _pack(header: struct.Struct, what: str, *fields: int) -> bytes:
    """``header`` packed, a value out of its field's range an ASP error."""
    try:
        return header.pack(*fields)
    except struct.error as e:
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"{what} frame: {e}") from e


def _unpack(header: struct.Struct, what: str, kind: int, data: bytes) -> tuple[int, ...]:
    """The fields of ``header`` at the start of ``data``, a frame of type ``kind``."""
    if len(data) < header.size:
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_FORMAT,
            f"{what} frame of {len(data)} bytes is shorter than its header",
        )
    fields: tuple[int, ...] = header.unpack_from(data)
    if fields[0] != kind:
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_TYPE,
            f"frame type 0x{fields[0]:02x} is not {what} audio (0x{kind:02x})",
        )
    return fields


@dataclass(frozen=True, slots=True)
class CallerAudioFrame:
    """Caller audio, edge -> AI: type 0x01 · uint32 seq · uint64 µs since session start · PCM."""

    sequence: int
    timestamp_us: int
    payload: bytes

    def encode(self) -> bytes:
        header = _pack(_CALLER_HEADER, "caller", CALLER_FRAME, self.sequence, self.timestamp_us)
        return header + self.payload

    @classmethod
    def decode(cls, data: bytes) -> CallerAudioFrame:
        _kind, seq, ts = _unpack(_CALLER_HEADER, "caller", CALLER_FRAME, data)
        return cls(seq, ts, bytes(data[CALLER_HEADER_SIZE:]))


@dataclass(frozen=True, slots=True)
class AgentAudioFrame:
    """Agent audio, AI -> edge: type 0x02 · uint32 seq · uint64 µs · flags · PCM."""

    sequence: int
    timestamp_us: int
    payload: bytes
    is_final: bool = False
    is_barge_in_response: bool = False

    def encode(self) -> bytes:
        flags = (FLAG_FINAL if self.is_final else 0) | (
            FLAG_BARGE_IN_RESPONSE if self.is_barge_in_response else 0
        )
        header = _pack(_AGENT_HEADER, "agent", AGENT_FRAME, self.sequence, self.timestamp_us, flags)
        return header + self.payload

    @classmethod
    def decode(cls, data: bytes) -> AgentAudioFrame:
        _kind, seq, ts, flags = _unpack(_AGENT_HEADER, "agent", AGENT_FRAME, data)
        if flags & ~(FLAG_FINAL | FLAG_BARGE_IN_RESPONSE):
            raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"unknown frame flags 0x{flags:02x}")
        return cls(
            seq,
            ts,
            bytes(data[AGENT_HEADER_SIZE:]),
            is_final=bool(flags & FLAG_FINAL),
            is_barge_in_response=bool(flags & FLAG_BARGE_IN_RESPONSE),
        )


# --- the seed's framing (its media server and agent), which ASP peers may speak instead --
# 12 bytes: magic 0x01, direction, the first 8 bytes of MD5(session_id), two zero bytes.

SEED_MAGIC = 0x01
SEED_TO_AGENT = 0x00
"""Direction byte of caller audio (caller -> agent)."""
SEED_TO_CALLER = 0x01
"""Direction byte of agent audio (agent -> caller)."""
SEED_HEADER_SIZE = 12


def seed_hash(session_id: str) -> bytes:
    """The 8 bytes that name a session in a seed frame: MD5(session_id)[:8]."""
    return hashlib.md5(session_id.encode(), usedforsecurity=False).digest()[:8]


def seed_header(session_id: str, direction: int) -> bytes:
    """The header of a seed frame of ``session_id`` going in ``direction``."""
    return bytes((SEED_MAGIC, direction)) + seed_hash(session_id) + b"\x00\x00"


def decode_frame(data: bytes) -> CallerAudioFrame | AgentAudioFrame:
    """Decodes either kind of binary frame by its type."""
    if len(data) < 2:
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "binary frame shorter than its type")
    kind = int.from_bytes(data[:2], "little")
    if kind == CALLER_FRAME:
        return CallerAudioFrame.decode(data)
    if kind == AGENT_FRAME:
        return AgentAudioFrame.decode(data)
    raise ASPError(ErrorCode.INVALID_MESSAGE_TYPE, f"unknown binary frame type 0x{kind:04x}")
