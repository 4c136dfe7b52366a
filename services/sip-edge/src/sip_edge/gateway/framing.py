"""The two binary audio framings a gateway client may speak (pure).

- ``asp``: docs/ASP_SPECIFICATION.md section 8 (libs/asp ``CallerAudioFrame`` and
  ``AgentAudioFrame``): caller ``01 00`` + uint32 seq + uint64 µs + PCM; agent ``02 00`` +
  uint32 seq + uint64 µs + flags + PCM. No session id: one session per connection.
- ``seed``: the 12-byte header the seed's media server and agent send: byte 0 magic
  ``0x01``, byte 1 direction (``0x00`` caller -> agent, ``0x01`` agent -> caller), bytes
  2-9 the first 8 bytes of MD5(session_id), bytes 10-11 zero, then PCM16 LE. Several
  sessions on one connection.

Both caller frames start with ``01 00``: a frame whose bytes 2-9 are the hash of a live
session of the connection and whose bytes 10-11 are zero is ``seed``; anything else that
starts with ``01 00`` is ``asp``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from asp import AgentAudioFrame, ASPError, CallerAudioFrame, ErrorCode
from asp.audio import (
    SEED_HEADER_SIZE,
    SEED_MAGIC,
    SEED_TO_AGENT,
    SEED_TO_CALLER,
    seed_hash,
    seed_header,
)

__all__ = [
    "SEED_HEADER_SIZE",
    "Framing",
    "IncomingAudio",
    "encode_agent_audio",
    "parse_caller_audio",
    "seed_hash",
]


class Framing(enum.StrEnum):
    ASP = "asp"
    SEED = "seed"


@dataclass(frozen=True, slots=True)
class IncomingAudio:
    framing: Framing
    session_hash: bytes | None
    """The seed frame's session hash; None for an ``asp`` frame (the connection's session)."""
    payload: bytes


def parse_caller_audio(data: bytes, live_hashes: Mapping[bytes, str]) -> IncomingAudio:
    """A caller audio frame in either framing; ASPError 1001 or 1003 when it is neither,
    4001 when it is a seed frame whose session is not live on the connection."""
    if len(data) < 2:
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "binary frame shorter than its type")
    if data[0] != SEED_MAGIC:
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_TYPE,
            f"binary frame type 0x{data[0]:02x} is not caller audio (0x01)",
        )
    if data[1] == SEED_TO_CALLER:  # 01 01: a seed frame in the agent's direction
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_TYPE, "binary frame with direction 0x01 (agent -> caller)"
        )
    if data[1] != SEED_TO_AGENT:
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_TYPE,
            f"unknown binary frame type 0x{data[1]:02x}{data[0]:02x}",
        )
    head = bytes(data[2:10])
    if len(data) >= SEED_HEADER_SIZE and data[10:12] == b"\x00\x00" and head in live_hashes:
        return IncomingAudio(Framing.SEED, head, bytes(data[SEED_HEADER_SIZE:]))
    if len(data) < 14:
        raise ASPError(
            ErrorCode.INVALID_MESSAGE_FORMAT,
            f"binary frame of {len(data)} bytes is shorter than a header",
        )
    frame = CallerAudioFrame.decode(bytes(data))
    return IncomingAudio(Framing.ASP, None, frame.payload)


def unknown_seed_session(data: bytes) -> bool:
    """A frame that looks like seed framing (bytes 10-11 zero) but names no live session:
    the caller is told 4001 rather than 1001 when the connection speaks seed framing."""
    return len(data) >= SEED_HEADER_SIZE and data[:2] == b"\x01\x00" and data[10:12] == b"\x00\x00"


def encode_agent_audio(
    framing: Framing,
    session_id: str,
    payload: bytes,
    *,
    sequence: int = 0,
    timestamp_us: int = 0,
    is_final: bool = False,
    is_barge_in_response: bool = False,
) -> bytes:
    """One frame of the agent's audio in the client's framing."""
    if framing is Framing.SEED:
        return seed_header(session_id, SEED_TO_CALLER) + payload
    return AgentAudioFrame(
        sequence & 0xFFFFFFFF,
        timestamp_us,
        payload,
        is_final=is_final,
        is_barge_in_response=is_barge_in_response,
    ).encode()
