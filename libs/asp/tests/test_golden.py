"""Golden fixtures: every message's JSON and msgpack wire form is pinned in tests/golden/.

Regenerate after a deliberate wire change with: UPDATE_GOLDEN=1 pytest libs/asp/tests/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from asp import decode_json, decode_msgpack, encode_json, encode_msgpack, from_entry, to_entry
from asp.messages import REGISTRY
from asp.testing import SAMPLES

GOLDEN = Path(__file__).parent / "golden"
TYPES = sorted(SAMPLES)


def test_every_message_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(REGISTRY)


@pytest.mark.parametrize("kind", TYPES)
def test_json_golden(kind: str) -> None:
    path = GOLDEN / f"{kind}.json"
    text = encode_json(SAMPLES[kind], indent=2) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    golden = path.read_text(encoding="utf-8")
    assert json.loads(golden)["type"] == kind
    assert decode_json(golden) == SAMPLES[kind]
    assert text == golden


@pytest.mark.parametrize("kind", TYPES)
def test_msgpack_golden(kind: str) -> None:
    path = GOLDEN / f"{kind}.msgpack"
    data = encode_msgpack(SAMPLES[kind])
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(data)
    golden = path.read_bytes()
    assert decode_msgpack(golden) == SAMPLES[kind]
    assert data == golden


@pytest.mark.parametrize("kind", TYPES)
def test_round_trips(kind: str) -> None:
    msg = SAMPLES[kind]
    assert decode_json(encode_json(msg)) == msg
    assert decode_json(encode_json(msg).encode()) == msg
    assert decode_msgpack(encode_msgpack(msg)) == msg
    assert from_entry(to_entry(msg)) == msg
