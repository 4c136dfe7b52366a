"""Call-action tools offered to the model, and their mapping to a neutral CallAction.

The same two tools are described once and rendered for each protocol: Anthropic tool use
(``name``/``description``/``input_schema``), OpenAI function calling
(``{"type": "function", "function": {...}}``) and, for local models without native tool
support, a text protocol (``<tool_call>{json}</tool_call>``, the form Qwen2.5 was trained on).
The worker turns a :class:`CallAction` into ASP ``call.action``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from llm_worker.errors import ToolArgumentError
from llm_worker.events import ToolCall

TRANSFER_CALL = "transfer_call"
HANG_UP = "hang_up"

# Extensions are dial strings: digits, optionally * and #, short.
_EXTENSION = re.compile(r"^[0-9*#]{1,15}$")

_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "name": TRANSFER_CALL,
        "description": (
            "Transfere a ligação para outro ramal. Use quando a pessoa pedir para falar com "
            "alguém ou com um setor cujo ramal você conhece."
        ),
        "schema": {
            "type": "object",
            "properties": {
                "extension": {
                    "type": "string",
                    "description": "Número do ramal de destino, só dígitos (ex.: 1002).",
                }
            },
            "required": ["extension"],
            "additionalProperties": False,
        },
    },
    {
        "name": HANG_UP,
        "description": (
            "Encerra a ligação. Use depois de se despedir, quando a pessoa disser que não "
            "precisa de mais nada."
        ),
        "schema": {"type": "object", "properties": {}, "additionalProperties": False},
    },
)


@dataclass(frozen=True, slots=True)
class CallAction:
    """What the call should do: ``hangup`` or ``transfer`` (to ``target``)."""

    action: Literal["hangup", "transfer"]
    target: str | None = None


def anthropic_tools() -> list[dict[str, Any]]:
    """The tools in the Anthropic Messages API form."""
    return [
        {"name": t["name"], "description": t["description"], "input_schema": t["schema"]}
        for t in _TOOLS
    ]


def openai_tools() -> list[dict[str, Any]]:
    """The tools in the OpenAI chat.completions function-calling form."""
    return [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t["description"],
                "parameters": t["schema"],
            },
        }
        for t in _TOOLS
    ]


def text_protocol_prompt() -> str:
    """System-prompt addendum for models that call tools by writing tags in their text."""
    lines = [
        "Ferramentas: para executar uma ação da ligação, escreva exatamente uma linha",
        '<tool_call>{"name": NOME, "arguments": {...}}</tool_call> no fim da resposta.',
    ]
    for t in _TOOLS:
        args = ", ".join(t["schema"]["properties"]) or "sem argumentos"
        lines.append(f"- {t['name']} ({args}): {t['description']}")
    return "\n".join(lines)


def to_call_action(call: ToolCall) -> CallAction:
    """Validates a tool call and maps it to a CallAction; raises ToolArgumentError."""
    if call.name == HANG_UP:
        return CallAction(action="hangup")
    if call.name == TRANSFER_CALL:
        ext = call.arguments.get("extension")
        if isinstance(ext, int) and not isinstance(ext, bool):
            ext = str(ext)
        if not isinstance(ext, str) or not _EXTENSION.match(ext.strip()):
            raise ToolArgumentError(f"transfer_call: invalid extension {ext!r}")
        return CallAction(action="transfer", target=ext.strip())
    raise ToolArgumentError(f"unknown tool {call.name!r}")


def parse_arguments(raw: str, *, tool: str) -> dict[str, Any]:
    """Parses a tool's JSON arguments (empty means none); raises ValueError when malformed."""
    if not raw.strip():
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"{tool}: arguments are not a JSON object")
    return value


class ToolTagFilter:
    """Separates ``<tool_call>{...}</tool_call>`` tags from streamed text (sans-I/O).

    ``feed`` returns the text to speak and the tool calls found; text that might be the
    start of a tag is held back until it is decided. ``finish`` returns the rest; an
    unterminated or unparsable tag raises ValueError.
    """

    OPEN = "<tool_call>"
    CLOSE = "</tool_call>"

    def __init__(self) -> None:
        self._buf = ""
        self._in_tag = False

    def feed(self, text: str) -> tuple[str, list[ToolCall]]:
        self._buf += text
        spoken: list[str] = []
        calls: list[ToolCall] = []
        while True:
            if self._in_tag:
                end = self._buf.find(self.CLOSE)
                if end < 0:
                    break
                calls.append(self._parse(self._buf[:end]))
                self._buf = self._buf[end + len(self.CLOSE) :]
                self._in_tag = False
                continue
            start = self._buf.find(self.OPEN)
            if start >= 0:
                spoken.append(self._buf[:start])
                self._buf = self._buf[start + len(self.OPEN) :]
                self._in_tag = True
                continue
            keep = self._partial_open_len(self._buf)
            spoken.append(self._buf[: len(self._buf) - keep])
            self._buf = self._buf[len(self._buf) - keep :]
            break
        return "".join(spoken), calls

    def finish(self) -> str:
        if self._in_tag:
            raise ValueError("unterminated <tool_call> tag")
        rest, self._buf = self._buf, ""
        return rest

    def _partial_open_len(self, buf: str) -> int:
        for n in range(min(len(self.OPEN) - 1, len(buf)), 0, -1):
            if self.OPEN.startswith(buf[-n:]):
                return n
        return 0

    @staticmethod
    def _parse(body: str) -> ToolCall:
        obj = json.loads(body)
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            raise ValueError("<tool_call> without a name")
        args = obj.get("arguments", {})
        if isinstance(args, str):
            args = parse_arguments(args, tool=obj["name"])
        if not isinstance(args, dict):
            raise ValueError("<tool_call> arguments are not an object")
        return ToolCall(name=obj["name"], arguments=args)
