"""The two binary audio framings an ASP WebSocket peer may speak (sans-I/O).

- ``spec`` (docs/ASP_SPECIFICATION.md, section 8): caller audio ``01 00`` + uint32 sequence +
  uint64 microseconds (14 bytes); agent audio ``02 00`` + uint32 + uint64 + flags (15 bytes).
- ``seed`` (the seed's media server): 12 bytes, ``0x01`` magic, direction (``0x00`` caller ->
  agent, ``0x01`` agent -> caller), the first 8 bytes of MD5(session_id), two zero bytes.

Both caller headers start with ``01 00``; agent audio starts with ``02 00`` (spec) or
``01 01`` (seed), so a client can read either whatever it sent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from asp import AgentAudioFrame, ASPError, CallerAudioFrame
from asp.audio import SEED_HEADER_SIZE, SEED_MAGIC, SEED_TO_AGENT, SEED_TO_CALLER, seed_header


class Framing(enum.StrEnum):
    SPEC = "spec"
    SEED = "seed"


class CallerFramer:
    """Wraps the client's PCM in the negotiated framing, numbering spec frames."""

    def __init__(self, framing: Framing, session_id: str) -> None:
        self.framing = framing
        self.session_id = session_id
        self._seed_header = seed_header(session_id, SEED_TO_AGENT)
        self._sequence = 0

    def frame(self, pcm: bytes, timestamp_us: int) -> bytes:
        if self.framing is Framing.SEED:
            return self._seed_header + pcm
        data = CallerAudioFrame(self._sequence, timestamp_us, pcm).encode()
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        return data


@dataclass(frozen=True, slots=True)
class AgentAudio:
    """One binary frame of agent audio, whatever its framing."""

    framing: Framing
    payload: bytes
    sequence: int | None = None
    timestamp_us: int | None = None
    is_final: bool = False
    session_hash: bytes | None = None


class FrameError(ValueError):
    """A binary frame that is neither spec nor seed agent audio."""


def decode_agent_frame(data: bytes) -> AgentAudio:
    """Reads a binary frame from the server: spec (``02 00``) or seed (``01 01``)."""
    if len(data) >= 2 and data[0] == 0x02 and data[1] == 0x00:
        try:
            f = AgentAudioFrame.decode(data)
        except ASPError as e:
            raise FrameError(str(e)) from e
        return AgentAudio(Framing.SPEC, f.payload, f.sequence, f.timestamp_us, f.is_final)
    if len(data) >= 2 and data[0] == SEED_MAGIC and data[1] == SEED_TO_CALLER:
        if len(data) < SEED_HEADER_SIZE:
            raise FrameError(f"seed frame of {len(data)} bytes is shorter than its 12-byte header")
        return AgentAudio(Framing.SEED, bytes(data[SEED_HEADER_SIZE:]), session_hash=data[2:10])
    head = data[:4].hex(" ") or "(empty)"
    raise FrameError(f"binary frame starting {head} is not agent audio (spec 02 00, seed 01 01)")
