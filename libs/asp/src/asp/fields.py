"""Field converters compiled from type hints: the one place where wire values are checked.

Every message dataclass is turned, once, into a list of (name, required, converter) by
:func:`compile_parser`; parsing a message then runs plain function calls, which keeps the
codec fast enough for 50 audio events per second per call on thousands of calls.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from .errors import ASPError, ErrorCode

Converter = Callable[[Any, str, bool], Any]
"""(value, path, base64_bytes) -> checked value; raises ASPError(1001)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Pattern:
    """Annotated marker: the string must match this regular expression entirely."""

    regex: str
    description: str


UUID_PATTERN = Pattern(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "a UUID"
)
ID_PATTERN = Pattern(
    r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", "an id of 1-128 letters, digits, . _ : -"
)

SessionId = Annotated[str, UUID_PATTERN]
Ident = Annotated[str, ID_PATTERN]


def fail(path: str, message: str) -> ASPError:
    return ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"{path}: {message}", {"field": path})


def _kind(value: Any) -> str:
    return type(value).__name__


def _exactly(t: type, expected: str) -> Converter:
    """The converter of a JSON scalar that must be of type ``t`` itself (a bool is no int)."""

    def convert(v: Any, path: str, b64: bool) -> Any:
        if type(v) is t:
            return v
        raise fail(path, f"expected {expected}, got {_kind(v)}")

    return convert


_str = _exactly(str, "a string")
_int = _exactly(int, "an integer")
_bool = _exactly(bool, "a boolean")


def _float(v: Any, path: str, b64: bool) -> float:
    t = type(v)
    if t is float:
        if math.isfinite(v):
            return float(v)
        raise fail(path, "expected a finite number")
    if t is int:
        return float(v)
    raise fail(path, f"expected a number, got {_kind(v)}")


def _bytes(v: Any, path: str, b64: bool) -> bytes:
    t = type(v)
    if t is bytes:
        return v  # type: ignore[no-any-return]
    if t is bytearray or t is memoryview:
        return bytes(v)
    if b64 and t is str:
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as e:
            raise fail(path, "expected base64 audio") from e
    raise fail(path, f"expected {'base64 text' if b64 else 'bytes'}, got {_kind(v)}")


def _json_value(v: Any, path: str, depth: int = 0) -> Any:
    """Any JSON-like value (for metadata and details); bounded depth, finite numbers."""
    if depth > 16:
        raise fail(path, "nested too deeply")
    t = type(v)
    if v is None or t in (str, int, bool):
        return v
    if t is float:
        if not math.isfinite(v):
            raise fail(path, "expected a finite number")
        return v
    if t is list or t is tuple:
        return [_json_value(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v)]
    if t is dict:
        out = {}
        for k, x in v.items():
            if type(k) is not str:
                raise fail(path, "object keys must be strings")
            out[k] = _json_value(x, f"{path}.{k}", depth + 1)
        return out
    raise fail(path, f"unsupported value of type {_kind(v)}")


def _any(v: Any, path: str, b64: bool) -> Any:
    return _json_value(v, path)


def _object(v: Any, path: str, b64: bool) -> dict[str, Any]:
    if type(v) is not dict:
        raise fail(path, f"expected an object, got {_kind(v)}")
    return typing.cast(dict[str, Any], _json_value(v, path))


def _pattern(p: Pattern) -> Converter:
    rx = re.compile(p.regex)

    def conv(v: Any, path: str, b64: bool) -> str:
        if type(v) is not str:
            raise fail(path, f"expected a string, got {_kind(v)}")
        if rx.fullmatch(v) is None:
            raise fail(path, f"must be {p.description}")
        return v

    return conv


def _enum(e: type[enum.Enum]) -> Converter:
    values = {m.value: m for m in e}
    allowed = ", ".join(str(m.value) for m in e)

    def conv(v: Any, path: str, b64: bool) -> enum.Enum:
        try:
            return values[v]
        except (KeyError, TypeError):
            raise fail(path, f"must be one of: {allowed}") from None

    return conv


def _optional(inner: Converter) -> Converter:
    def conv(v: Any, path: str, b64: bool) -> Any:
        return None if v is None else inner(v, path, b64)

    return conv


def _scalar_union(v: Any, path: str, b64: bool) -> Any:
    t = type(v)
    if t in (str, int, bool):
        return v
    if t is float:
        return _float(v, path, b64)
    raise fail(path, f"expected a number, boolean or string, got {_kind(v)}")


def _tuple(inner: Converter) -> Converter:
    def conv(v: Any, path: str, b64: bool) -> tuple[Any, ...]:
        if type(v) is not list and type(v) is not tuple:
            raise fail(path, f"expected an array, got {_kind(v)}")
        if len(v) > 1024:
            raise fail(path, "array longer than 1024 items")
        return tuple(inner(x, f"{path}[{i}]", b64) for i, x in enumerate(v))

    return conv


def _nested(cls: type[Any]) -> Converter:
    def conv(v: Any, path: str, b64: bool) -> Any:
        if type(v) is not dict:
            raise fail(path, f"expected an object, got {_kind(v)}")
        return parse_fields(cls, v, path, b64)

    return conv


_SIMPLE: dict[Any, Converter] = {
    str: _str,
    int: _int,
    float: _float,
    bool: _bool,
    bytes: _bytes,
    Any: _any,
}


def converter_for(hint: Any) -> Converter:
    origin = get_origin(hint)
    if origin is Annotated:
        base, *extras = get_args(hint)
        for extra in extras:
            if isinstance(extra, Pattern):
                return _pattern(extra)
        return converter_for(base)  # pragma: no cover - no other markers exist
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        optional = len(args) < len(get_args(hint))
        inner = converter_for(args[0]) if len(args) == 1 else _scalar_union
        return _optional(inner) if optional else inner
    if origin is tuple:
        return _tuple(converter_for(get_args(hint)[0]))
    if origin is dict:
        return _object
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum(hint)
    if dataclasses.is_dataclass(hint):
        return _nested(typing.cast(type[Any], hint))
    if hint in _SIMPLE:
        return _SIMPLE[hint]
    raise TypeError(f"no converter for {hint!r}")  # pragma: no cover - programming error


_Parser = Callable[[Mapping[str, Any], bool, str], Any]
_PARSERS: dict[type[Any], _Parser] = {}
_MISSING = object()


def _fast_check(hint: Any, name: str, env: dict[str, Any]) -> str | None:
    """A Python expression on ``v`` that is true when the value needs no conversion."""
    if get_origin(hint) is Annotated:
        for extra in get_args(hint)[1:]:
            if isinstance(extra, Pattern):
                env[f"rx_{name}"] = re.compile(extra.regex).fullmatch
                return f"type(v) is str and rx_{name}(v) is not None"
    simple = {str: "str", int: "int", bool: "bool"}
    if hint in simple:
        return f"type(v) is {simple[hint]}"
    if hint is bytes:
        return "type(v) is bytes and not b64"
    if hint is float:
        return "type(v) is float and isfinite(v)"
    return None


def compile_parser(cls: type[Any], always_required: frozenset[str] = frozenset()) -> None:
    """Generates ``parse(data, b64, path)`` for a dataclass: inline checks for plain values,
    the converters for the rest and for every value that fails its quick check."""
    hints = typing.get_type_hints(cls, include_extras=True)
    env: dict[str, Any] = {"cls": cls, "MISSING": _MISSING, "isfinite": math.isfinite}
    env["missing"] = lambda path: fail(path, "required field is missing")
    lines = ["def parse(d, b64, path):", "    get = d.get"]
    names = []
    for i, f in enumerate(dataclasses.fields(cls)):
        hint = hints[f.name]
        env[f"conv_{i}"] = converter_for(hint)
        check = _fast_check(hint, f.name, env)
        slow = f"conv_{i}(v, path + {'.' + f.name!r}, b64)"
        value = f"v if {check} else {slow}" if check else slow
        lines.append(f"    v = get({f.name!r}, MISSING)")
        if f.name in always_required or (
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ):
            lines.append(f"    if v is MISSING: raise missing(path + {'.' + f.name!r})")
            lines.append(f"    a_{i} = {value}")
        else:
            if f.default is not dataclasses.MISSING:
                env[f"default_{i}"] = f.default
                lines.append(f"    if v is MISSING: a_{i} = default_{i}")
            else:
                env[f"factory_{i}"] = f.default_factory
                lines.append(f"    if v is MISSING: a_{i} = factory_{i}()")
            lines.append(f"    else: a_{i} = {value}")
        names.append(f"a_{i}")
    lines.append(f"    return cls({', '.join(names)})")
    ns: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<asp parser {cls.__name__}>", "exec"), env, ns)  # noqa: S102
    _PARSERS[cls] = ns["parse"]


def parser_for(cls: type[Any]) -> _Parser:
    if cls not in _PARSERS:
        compile_parser(cls)
    return _PARSERS[cls]


def serializer_for(cls: type[Any]) -> _Serializer:
    if cls not in _SERIALIZERS:
        compile_serializer(cls)
    return _SERIALIZERS[cls]


def parse_fields(cls: type[Any], data: Mapping[str, Any], path: str, b64: bool) -> Any:
    parser = _PARSERS.get(cls)
    if parser is None:
        compile_parser(cls)
        parser = _PARSERS[cls]
    return parser(data, b64, path)


def to_wire(value: Any, b64: bool) -> Any:
    """A dataclass, enum, tuple or bytes as plain JSON/msgpack values; None fields omitted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is not None:
                out[f.name] = to_wire(v, b64)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_wire(v, b64) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v, b64) for k, v in value.items()}
    if b64 and isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value


_Serializer = Callable[[Any, dict[str, Any], bool], dict[str, Any]]
_SERIALIZERS: dict[type[Any], _Serializer] = {}


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def compile_serializer(cls: type[Any]) -> None:
    """Generates ``ser(obj, out, b64)``: plain values copied, None fields left out."""
    hints = typing.get_type_hints(cls)
    env: dict[str, Any] = {"to_wire": to_wire, "b64enc": _b64}
    lines = ["def ser(o, out, b64):"]
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        all_args = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
        args = [a for a in all_args if a is not type(None)]
        optional = len(args) < len(all_args)
        base = args[0] if len(args) == 1 else object
        if base in (str, int, float, bool):
            value = "v"
        elif base is bytes:
            value = "(b64enc(v) if b64 else v)"
        else:
            value = "to_wire(v, b64)"
        if optional or value != "v":
            lines.append(f"    v = o.{f.name}")
            lines.append(f"    if v is not None: out[{f.name!r}] = {value}")
        else:
            lines.append(f"    out[{f.name!r}] = o.{f.name}")
    lines.append("    return out")
    ns: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<asp serializer {cls.__name__}>", "exec"), env, ns)  # noqa: S102
    _SERIALIZERS[cls] = ns["ser"]
