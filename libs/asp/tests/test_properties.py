"""Property tests and fuzzing.

- decode(encode(m)) == m for generated messages of every type, in both codecs and as a
  Redis entry;
- every decoder, given random or mutated bytes and JSON, raises only ASPError (1001 or
  1003), never another exception.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import random
import types
import typing
from typing import Annotated, Any, Union, get_args, get_origin

import msgpack
from asp import (
    ASPError,
    ErrorCode,
    decode_frame,
    decode_json,
    decode_msgpack,
    encode_json,
    encode_msgpack,
    from_entry,
    parse_message,
    to_entry,
)
from asp.fields import Pattern
from asp.messages import REGISTRY, Message
from asp.testing import SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | TEXT
    | st.floats(allow_nan=False, allow_infinity=False)
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    origin = get_origin(hint)
    if origin is Annotated:
        base, *extras = get_args(hint)
        for extra in extras:
            if isinstance(extra, Pattern):
                return st.from_regex(extra.regex, fullmatch=True)
        return strategy_for(base)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        inner = st.one_of(*(strategy_for(a) for a in args))
        return st.none() | inner if len(args) < len(get_args(hint)) else inner
    if origin is tuple:
        return st.lists(strategy_for(get_args(hint)[0]), max_size=4).map(tuple)
    if origin is dict:
        return st.dictionaries(TEXT, JSON_VALUE, max_size=4)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if dataclasses.is_dataclass(hint):
        return builds(typing.cast(type[Any], hint))
    return {
        str: TEXT,
        int: st.integers(-(2**53), 2**53),
        float: st.floats(allow_nan=False, allow_infinity=False),
        bool: st.booleans(),
        bytes: st.binary(max_size=640),
        Any: JSON_VALUE,
    }[hint]


def builds(cls: type[Any]) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    kwargs = {f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)}

    def make(values: dict[str, Any]) -> Any:
        try:
            return cls(**values)
        except ASPError:  # the few messages that check consistency in __post_init__
            return None

    return st.fixed_dictionaries(kwargs).map(make).filter(lambda m: m is not None)


MESSAGES = st.one_of(*(builds(cls) for cls in REGISTRY.values()))
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(MESSAGES)
def test_round_trip_msgpack(msg: Message) -> None:
    assert decode_msgpack(encode_msgpack(msg)) == msg


@FUZZ
@given(MESSAGES)
def test_round_trip_json(msg: Message) -> None:
    assert decode_json(encode_json(msg)) == msg


@FUZZ
@given(MESSAGES)
def test_round_trip_entry(msg: Message) -> None:
    assert from_entry(to_entry(msg)) == msg


PROTOCOL_CODES = (ErrorCode.INVALID_MESSAGE_FORMAT, ErrorCode.INVALID_MESSAGE_TYPE)


def only_protocol_errors(decode: Any, data: Any) -> None:
    """Decoding either succeeds or raises ASPError 1001/1003; anything else fails the test."""
    code = None
    try:
        decode(data)
    except ASPError as e:
        code = e.code
    assert code is None or code in PROTOCOL_CODES


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    for decode in (decode_msgpack, decode_json, decode_frame):
        only_protocol_errors(decode, data)
    only_protocol_errors(from_entry, {"type": "response.audio", "data": data, "audio": data})


@FUZZ
@given(JSON_VALUE)
def test_random_json_values(value: Any) -> None:
    only_protocol_errors(parse_message, value)
    only_protocol_errors(decode_json, json.dumps(value))
    only_protocol_errors(decode_msgpack, msgpack.packb(value))


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_samples_with_fields_replaced_by_random_values(kind: str, data: st.DataObject) -> None:
    wire = SAMPLES[kind].serialize(base64_bytes=True)
    key = data.draw(st.sampled_from(sorted(wire)))
    wire[key] = data.draw(JSON_VALUE)
    only_protocol_errors(decode_json, json.dumps(wire))
    only_protocol_errors(decode_msgpack, msgpack.packb(wire))


def mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.4 and b:
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            elif op < 0.6 and b:
                del b[rng.randrange(len(b)) :]
            elif op < 0.8:
                b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
            elif b:
                i = rng.randrange(len(b))
                b[i : i + 1] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
        out.append(bytes(b))
    return out


def test_mutated_encodings_of_every_message() -> None:
    rng = random.Random(20261125)
    for msg in SAMPLES.values():
        for data in mutations(encode_msgpack(msg), rng, 150):
            only_protocol_errors(decode_msgpack, data)
        for data in mutations(encode_json(msg).encode(), rng, 150):
            only_protocol_errors(decode_json, data)
        entry = to_entry(msg)
        for data in mutations(entry["data"], rng, 50):
            only_protocol_errors(from_entry, {**entry, "data": data})
