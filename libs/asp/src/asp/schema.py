"""JSON Schema (2020-12) of the JSON form of every ASP message, built from the dataclasses.

The schema checks what a message must look like (required fields, JSON types, the enums
of ``status`` and error ``category``, id formats), not ranges or supported formats: those
are the negotiation's business. ``docs/asp.schema.json`` is this schema, written by
``scripts/gen-asp-schema.py``; a test keeps the two equal.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Annotated, Any, Union, get_args, get_origin

from .fields import Pattern
from .messages import PROTOCOL_VERSION, REGISTRY

SCHEMA_ID = "https://pabx.example/asp/asp.schema.json"


def _schema_for(hint: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(hint)
    if origin is Annotated:
        base, *extras = get_args(hint)
        for extra in extras:
            if isinstance(extra, Pattern):
                return {"type": "string", "pattern": f"^{extra.regex}$"}
        return _schema_for(base, defs)  # pragma: no cover - no other markers exist
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            inner = _schema_for(args[0], defs)
        else:
            inner = {"type": ["number", "boolean", "string"]}
        if len(args) < len(get_args(hint)):
            return {"anyOf": [inner, {"type": "null"}]}
        return inner
    if origin is tuple:
        return {"type": "array", "items": _schema_for(get_args(hint)[0], defs), "maxItems": 1024}
    if origin is dict:
        return {"type": "object"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    if dataclasses.is_dataclass(hint):
        name = typing.cast(type[Any], hint).__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            defs[name] = _object_schema(typing.cast(type[Any], hint), defs)
        return {"$ref": f"#/$defs/{name}"}
    simple: dict[Any, dict[str, Any]] = {
        str: {"type": "string"},
        int: {"type": "integer"},
        float: {"type": "number"},
        bool: {"type": "boolean"},
        bytes: {"type": "string", "contentEncoding": "base64"},
        Any: {},
    }
    return simple[hint]


def _object_schema(
    cls: type[Any], defs: dict[str, Any], extra_required: tuple[str, ...] = ()
) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        props[f.name] = _schema_for(hints[f.name], defs)
        if f.name in extra_required or (
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ):
            required.append(f.name)
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def build_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    branches = []
    for kind, cls in sorted(REGISTRY.items()):
        extra = ("timestamp",) if cls.SINCE != "1.0" else ()
        body = _object_schema(cls, defs, extra)
        body["properties"] = {"type": {"const": kind}, **body["properties"]}
        body["required"] = ["type", *body.get("required", [])]
        body["properties"]["timestamp"] = {"type": "string", "format": "date-time"}
        defs[kind] = body
        branches.append(
            {"if": {"properties": {"type": {"const": kind}}}, "then": {"$ref": f"#/$defs/{kind}"}}
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"ASP {PROTOCOL_VERSION} message",
        "description": "Any single ASP message in its JSON form, discriminated by `type`.",
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": sorted(REGISTRY)}},
        "allOf": branches,
        "$defs": dict(sorted(defs.items())),
    }
