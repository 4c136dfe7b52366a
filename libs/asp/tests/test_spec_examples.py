"""Every JSON example of docs/ASP_SPECIFICATION.md validates against docs/asp.schema.json
and parses with the library; the committed schema is the one the library generates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from asp import encode_json, parse_message
from asp.schema import build_schema
from asp.testing import SAMPLES

DOCS = Path(__file__).resolve().parents[3] / "docs"
SPEC = (DOCS / "ASP_SPECIFICATION.md").read_text(encoding="utf-8")
SCHEMA = json.loads((DOCS / "asp.schema.json").read_text(encoding="utf-8"))
EXAMPLES = re.findall(r"```json\n(.*?)```", SPEC, flags=re.DOTALL)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_committed_schema_is_current() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert build_schema() == SCHEMA, "run scripts/gen-asp-schema.py"


def test_the_spec_has_examples_of_every_pipeline_step() -> None:
    kinds = {json.loads(e)["type"] for e in EXAMPLES}
    assert len(EXAMPLES) >= 15
    assert {
        "session.start",
        "session.started",
        "utterance",
        "transcript",
        "response.text",
        "response.audio",
        "response.cancel",
        "session.end",
        "session.ended",
    } <= kinds


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: json.loads(e)["type"])
def test_example_validates_and_parses(example: str) -> None:
    data = json.loads(example)
    VALIDATOR.validate(data)
    parse_message(data, base64_bytes=True)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_samples_validate(kind: str) -> None:
    VALIDATOR.validate(json.loads(encode_json(SAMPLES[kind])))


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "session.start"},
        {
            "type": "session.started",
            "session_id": "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f",
            "status": "maybe",
        },
        {"type": "protocol.error", "error": {"code": 1001, "category": "network", "message": "x"}},
        {
            "type": "transcript",
            "session_id": "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f",
            "utterance_id": "u",
            "text": "x",
            "language": "pt",
            "confidence": 1,
        },
        {
            "type": "response.end",
            "session_id": "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f",
            "response_id": "r",
            "interrupted": "no",
        },
        {"type": "no.such.type"},
        {"session_id": "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"},
    ],
)
def test_schema_rejects(bad: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(bad)


def test_schema_leaves_ranges_to_negotiation() -> None:
    out_of_range = {
        "type": "session.start",
        "session_id": "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f",
        "audio": {"sample_rate": 11025},
        "vad": {"silence_threshold_ms": 99999},
    }
    assert VALIDATOR.is_valid(out_of_range)
