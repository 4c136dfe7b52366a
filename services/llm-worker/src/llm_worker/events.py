"""What a provider stream yields: text deltas, tool calls, then one Done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the assistant's text, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call: its arguments already parsed from JSON."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str = ""


@dataclass(frozen=True, slots=True)
class Done:
    """End of the stream; ``stop_reason`` as the vendor said it (end_turn, tool_use, ...)."""

    stop_reason: str = ""


StreamEvent = TextDelta | ToolCall | Done


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation message in the neutral form the providers translate."""

    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything a provider needs for one reply."""

    system: str
    messages: tuple[Message, ...]
    tools: bool = True
    max_tokens: int = 300
    temperature: float = 0.3
    # The conversation this request continues (the session id), or "": a local provider
    # keeps that conversation's evaluated prompt as a cache so its next turn evaluates only
    # the new tokens. A hint: every provider answers the same without it.
    conversation_id: str = ""
    # The only extensions transfer_call may name (the facts' menu); None: not limited.
    transfer_targets: tuple[str, ...] | None = None
