"""Codec limits and encoding errors."""

from __future__ import annotations

import msgpack
import pytest
from asp import (
    ASPError,
    ErrorCode,
    Transcript,
    decode_json,
    decode_msgpack,
    encode_json,
    encode_msgpack,
)
from asp.codec import MAX_MESSAGE_BYTES
from asp.testing import SESSION_ID


def test_oversized_input_is_refused_before_parsing() -> None:
    big = b" " * (MAX_MESSAGE_BYTES + 1)
    for decode in (decode_json, decode_msgpack):
        with pytest.raises(ASPError) as info:
            decode(big)
        assert info.value.code == ErrorCode.INVALID_MESSAGE_FORMAT
        assert "limit" in info.value.error.message


def test_unencodable_values_raise_protocol_errors() -> None:
    lone_surrogate = Transcript(
        session_id=SESSION_ID, utterance_id="u", text="\ud800", language="pt", confidence=1.0
    )
    with pytest.raises(ASPError):
        encode_msgpack(lone_surrogate)
    nan = Transcript(
        session_id=SESSION_ID, utterance_id="u", text="x", language="pt", confidence=float("nan")
    )
    with pytest.raises(ASPError):
        encode_json(nan)


def test_msgpack_that_is_not_a_message() -> None:
    for data in (msgpack.packb([1]), msgpack.packb({1: 2}), b"\x92\x01", msgpack.packb(1) * 2):
        with pytest.raises(ASPError) as info:
            decode_msgpack(data)
        assert info.value.code == ErrorCode.INVALID_MESSAGE_FORMAT


def test_msgpack_extension_types_are_refused() -> None:
    data = msgpack.packb({"type": "session.end", "session_id": msgpack.ExtType(5, b"x")})
    with pytest.raises(ASPError):
        decode_msgpack(data)
