"""The two codecs of ASP messages.

- msgpack: what goes on Redis; audio stays raw bytes.
- JSON: what a person reads and a WebSocket peer speaks; audio is base64 text.

Decoders accept any bytes and raise only ASPError (1001 malformed, 1003 unknown type).
"""

from __future__ import annotations

import json
from typing import Any

import msgpack

from .errors import ASPError, ErrorCode
from .messages import Message, parse_message

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest encoded message accepted (a minute of 48 kHz PCM16 is 5.8 MB)."""

_DECODE_ERRORS = (ValueError, TypeError, OverflowError, RecursionError, msgpack.UnpackException)


def _too_large(size: int) -> ASPError:
    return ASPError(
        ErrorCode.INVALID_MESSAGE_FORMAT,
        f"message of {size} bytes exceeds the limit of {MAX_MESSAGE_BYTES}",
    )


_ENCODE_ERRORS = (TypeError, ValueError, OverflowError, UnicodeEncodeError)


_PACKER = msgpack.Packer(use_bin_type=True)  # reused: building a Packer per call costs more


def encode_msgpack(msg: Message) -> bytes:
    try:
        return _PACKER.pack(msg.serialize())  # type: ignore[no-any-return]
    except _ENCODE_ERRORS as e:
        _PACKER.reset()  # a failed pack may leave a partial buffer behind
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"cannot encode {msg.TYPE}: {e}") from e


def unpack_msgpack(data: bytes) -> Any:
    """msgpack bytes -> plain values; ASPError 1001 on anything malformed."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise _too_large(len(data))
    try:
        # msgpack >= 1.0 defaults: raw=False, strict_map_key=True, timestamp=0 (plain ints)
        return msgpack.unpackb(data)
    except _DECODE_ERRORS as e:
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"invalid msgpack: {e}") from e


def decode_msgpack(data: bytes) -> Message:
    return parse_message(unpack_msgpack(data))


def encode_json(msg: Message, *, indent: int | None = None) -> str:
    try:
        return json.dumps(
            msg.serialize(base64_bytes=True), ensure_ascii=False, allow_nan=False, indent=indent
        )
    except _ENCODE_ERRORS as e:
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"cannot encode {msg.TYPE}: {e}") from e


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(data: str | bytes) -> Message:
    if len(data) > MAX_MESSAGE_BYTES:
        raise _too_large(len(data))
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except (*_DECODE_ERRORS, UnicodeDecodeError) as e:
        raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"invalid JSON: {e}") from e
    return parse_message(value, base64_bytes=True)
