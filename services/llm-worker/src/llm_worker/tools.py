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
from collections.abc import Sequence
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


def _tools(extensions: Sequence[str] | None) -> list[dict[str, Any]]:
    """The tool definitions; with ``extensions`` the transfer's target is an enum of them
    (the facts' menu), and with none at all there is no transfer tool."""
    if extensions is None:
        return list(_TOOLS)
    tools = []
    for t in _TOOLS:
        if t["name"] == TRANSFER_CALL:
            if not extensions:
                continue
            ext = {
                "type": "string",
                "enum": list(extensions),
                "description": "Ramal de um setor da lista de setores dos fatos.",
            }
            t = {**t, "schema": {**t["schema"], "properties": {"extension": ext}}}
        tools.append(t)
    return tools


def anthropic_tools(extensions: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The tools in the Anthropic Messages API form (see :func:`_tools` for ``extensions``)."""
    return [
        {"name": t["name"], "description": t["description"], "input_schema": t["schema"]}
        for t in _tools(extensions)
    ]


def openai_tools(extensions: Sequence[str] | None = None) -> list[dict[str, Any]]:
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
        for t in _tools(extensions)
    ]


def text_protocol_prompt() -> str:
    """System-prompt addendum for models that call tools by writing tags in their text."""
    lines = [
        "Ferramentas: para agir na ligação, escreva a chamada no fim da resposta, numa linha:",
        '<tool_call>{"name": "transfer_call", "arguments": {"extension": "RAMAL"}}</tool_call>',
        '<tool_call>{"name": "hang_up", "arguments": {}}</tool_call>',
    ]
    for t in _TOOLS:
        lines.append(f"- {t['name']}: {t['description']}")
    lines += [
        'Exemplo de resposta a "Quero falar com um atendente":',
        "Vou transferir sua ligação, um momento.",
        '<tool_call>{"name": "transfer_call", "arguments": {"extension": "1002"}}</tool_call>',
        "Sem a linha <tool_call> nada acontece na ligação.",
    ]
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
    """Separates tool calls from streamed text (sans-I/O).

    Recognizes ``<tool_call>{...}</tool_call>`` and, because small models often drop the
    tags, a bare JSON object that starts a line and names a known tool
    (``{"name": "hang_up", "arguments": {}}``). ``feed`` returns the text to speak and the
    tool calls found; text that might start a call is held back until it is decided.
    ``finish`` returns the rest; an unterminated or unparsable tag raises ValueError (a bare
    object that is not a tool call is just text).
    """

    OPEN = "<tool_call>"
    CLOSE = "</tool_call>"
    MAX_BARE = 2000

    def __init__(self) -> None:
        self._buf = ""
        self._in_tag = False
        self._in_bare = False
        self._line_start = True

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
            if self._in_bare:
                end = _json_end(self._buf)
                if end < 0 and len(self._buf) <= self.MAX_BARE:
                    break
                body = self._buf if end < 0 else self._buf[:end]
                self._buf = self._buf[len(body) :]
                self._in_bare = False
                call = _bare_call(body)
                if call is None:
                    self._say(body, spoken)
                else:
                    calls.append(call)
                continue
            tag = self._buf.find(self.OPEN)
            bare = _bare_start(self._buf, self._line_start)
            if tag >= 0 and (bare < 0 or tag < bare):
                self._say(self._buf[:tag], spoken)
                self._buf = self._buf[tag + len(self.OPEN) :]
                self._in_tag = True
                continue
            if bare >= 0:
                self._say(self._buf[:bare], spoken)
                self._buf = self._buf[bare:]
                self._in_bare = True
                continue
            keep = self._partial_open_len(self._buf)
            self._say(self._buf[: len(self._buf) - keep], spoken)
            self._buf = self._buf[len(self._buf) - keep :]
            break
        return "".join(spoken), calls

    def finish(self) -> str:
        if self._in_tag:
            raise ValueError("unterminated <tool_call> tag")
        rest, self._buf = self._buf, ""
        if self._in_bare:
            self._in_bare = False
            call = _bare_call(rest)
            return "" if call is not None else rest
        return rest

    def _say(self, text: str, spoken: list[str]) -> None:
        if not text:
            return
        spoken.append(text)
        if text.strip(" \t"):
            self._line_start = text.rstrip(" \t").endswith("\n")

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


def _bare_start(buf: str, line_start: bool) -> int:
    """Index of a ``{`` that begins a line (after optional blanks), or -1."""
    at_start = line_start
    for i, ch in enumerate(buf):
        if ch == "{" and at_start:
            return i
        if ch == "\n":
            at_start = True
        elif ch not in " \t":
            at_start = False
    return -1


def _json_end(buf: str) -> int:
    """Index just after the JSON object that starts ``buf``, or -1 if not closed yet."""
    depth = 0
    in_str = esc = False
    for i, ch in enumerate(buf):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _bare_call(body: str) -> ToolCall | None:
    """A bare JSON object naming a known tool, as a ToolCall; None for anything else."""
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("name") not in (TRANSFER_CALL, HANG_UP):
        return None
    args = obj.get("arguments", {})
    if isinstance(args, str):
        try:
            args = parse_arguments(args, tool=obj["name"])
        except ValueError:
            return None
    if not isinstance(args, dict):
        return None
    return ToolCall(name=obj["name"], arguments=args)
