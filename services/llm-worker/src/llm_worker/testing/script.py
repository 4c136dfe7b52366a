"""What a fake server does with one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Text:
    """Answer with these text chunks, ``delay_s`` apart."""

    chunks: tuple[str, ...]
    delay_s: float = 0.0


@dataclass(frozen=True)
class ToolUse:
    """Optionally some text, then a call of tool ``name`` with ``arguments``; the
    arguments JSON is streamed in ``json_pieces`` pieces."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    text: tuple[str, ...] = ()
    json_pieces: int = 3


@dataclass(frozen=True)
class Fail:
    """Answer with an HTTP error (529 overloaded, 500, 429, 401...)."""

    status: int
    error_type: str = "api_error"
    message: str = "fake failure"


@dataclass(frozen=True)
class Hang:
    """Never answer (before any header when ``after_headers`` is False)."""

    after_headers: bool = False


@dataclass(frozen=True)
class Raw:
    """Send this body verbatim as an event stream (for malformed-input tests)."""

    body: str


@dataclass(frozen=True)
class Truncated:
    """Start a text answer and close the connection after ``chunks``, without the end."""

    chunks: tuple[str, ...]


Script = Text | ToolUse | Fail | Hang | Raw | Truncated
