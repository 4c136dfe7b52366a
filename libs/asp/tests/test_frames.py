"""Binary audio frames of the WebSocket transport."""

from __future__ import annotations

import hashlib

import pytest
from asp import AgentAudioFrame, ASPError, CallerAudioFrame, ErrorCode, decode_frame
from asp.audio import (
    AGENT_HEADER_SIZE,
    CALLER_HEADER_SIZE,
    SEED_HEADER_SIZE,
    SEED_TO_AGENT,
    SEED_TO_CALLER,
    seed_hash,
    seed_header,
)


def test_caller_frame_layout() -> None:
    frame = CallerAudioFrame(sequence=7, timestamp_us=140_000, payload=b"\x01\x02" * 160)
    data = frame.encode()
    assert CALLER_HEADER_SIZE == 14
    assert data[:2] == b"\x01\x00"
    assert data[2:6] == (7).to_bytes(4, "little")
    assert data[6:14] == (140_000).to_bytes(8, "little")
    assert decode_frame(data) == frame == CallerAudioFrame.decode(data)


def test_agent_frame_layout_and_flags() -> None:
    for final in (False, True):
        for barge in (False, True):
            frame = AgentAudioFrame(
                3, 60_000, b"\x00" * 320, is_final=final, is_barge_in_response=barge
            )
            data = frame.encode()
            assert AGENT_HEADER_SIZE == 15
            assert data[:2] == b"\x02\x00"
            assert data[14] == (1 if final else 0) | (2 if barge else 0)
            assert decode_frame(data) == frame == AgentAudioFrame.decode(data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ErrorCode.INVALID_MESSAGE_FORMAT),
        (b"\x01", ErrorCode.INVALID_MESSAGE_FORMAT),
        (b"\x01\x00\x00", ErrorCode.INVALID_MESSAGE_FORMAT),
        (b"\x02\x00" + b"\x00" * 12, ErrorCode.INVALID_MESSAGE_FORMAT),
        (b"\x03\x00" + b"\x00" * 20, ErrorCode.INVALID_MESSAGE_TYPE),
        (b"\x02\x00" + b"\x00" * 12 + b"\x80", ErrorCode.INVALID_MESSAGE_FORMAT),
    ],
)
def test_malformed_frames(data: bytes, code: ErrorCode) -> None:
    with pytest.raises(ASPError) as info:
        decode_frame(data)
    assert info.value.code == code


def test_wrong_kind_for_the_class() -> None:
    caller = CallerAudioFrame(1, 2, b"").encode()
    agent = AgentAudioFrame(1, 2, b"").encode()
    with pytest.raises(ASPError, match=r"frame type 0x01 is not agent audio \(0x02\)"):
        AgentAudioFrame.decode(caller + b"\x00")
    with pytest.raises(ASPError, match=r"frame type 0x02 is not caller audio \(0x01\)"):
        CallerAudioFrame.decode(agent)
    with pytest.raises(ASPError, match="caller frame of 3 bytes is shorter than its header"):
        CallerAudioFrame.decode(caller[:3])


def test_values_out_of_range_do_not_encode() -> None:
    with pytest.raises(ASPError):
        CallerAudioFrame(-1, 0, b"").encode()
    with pytest.raises(ASPError):
        AgentAudioFrame(2**32, 0, b"").encode()


def test_seed_header_layout() -> None:
    """The seed's 12 bytes: magic 0x01, direction, MD5(session_id)[:8], two zero bytes."""
    sid = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
    md5 = hashlib.md5(sid.encode(), usedforsecurity=False).digest()[:8]
    assert seed_hash(sid) == md5
    assert seed_header(sid, SEED_TO_AGENT) == b"\x01\x00" + md5 + b"\x00\x00"
    assert seed_header(sid, SEED_TO_CALLER) == b"\x01\x01" + md5 + b"\x00\x00"
    assert len(seed_header(sid, SEED_TO_AGENT)) == SEED_HEADER_SIZE == 12
