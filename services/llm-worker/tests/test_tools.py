"""Call-action tools: protocol renderings, CallAction mapping, the text tag protocol."""

from __future__ import annotations

import pytest
from llm_worker.errors import ToolArgumentError
from llm_worker.events import ToolCall
from llm_worker.tools import (
    CallAction,
    ToolTagFilter,
    anthropic_tools,
    openai_tools,
    parse_arguments,
    text_protocol_prompt,
    to_call_action,
)


def test_anthropic_and_openai_forms_describe_the_same_tools() -> None:
    a = {t["name"]: t for t in anthropic_tools()}
    o = {t["function"]["name"]: t["function"] for t in openai_tools()}
    assert set(a) == set(o) == {"transfer_call", "hang_up"}
    assert a["transfer_call"]["input_schema"]["required"] == ["extension"]
    assert o["transfer_call"]["parameters"] == a["transfer_call"]["input_schema"]
    assert all(t["type"] == "function" for t in openai_tools())
    assert "transfer_call" in text_protocol_prompt()


@pytest.mark.parametrize(
    ("call", "action"),
    [
        (ToolCall("transfer_call", {"extension": "1002"}), CallAction("transfer", "1002")),
        (ToolCall("transfer_call", {"extension": 1002}), CallAction("transfer", "1002")),
        (ToolCall("transfer_call", {"extension": " *99# "}), CallAction("transfer", "*99#")),
        (ToolCall("hang_up"), CallAction("hangup")),
        (ToolCall("hang_up", {"reason": "bye"}), CallAction("hangup")),
    ],
)
def test_mapping(call: ToolCall, action: CallAction) -> None:
    assert to_call_action(call) == action


@pytest.mark.parametrize(
    "call",
    [
        ToolCall("transfer_call", {}),
        ToolCall("transfer_call", {"extension": "ramal do João"}),
        ToolCall("transfer_call", {"extension": True}),
        ToolCall("transfer_call", {"extension": "1" * 16}),
        ToolCall("format_disk", {}),
    ],
)
def test_invalid_calls(call: ToolCall) -> None:
    with pytest.raises(ToolArgumentError):
        to_call_action(call)


def test_parse_arguments() -> None:
    assert parse_arguments("", tool="hang_up") == {}
    assert parse_arguments('{"extension": "1"}', tool="t") == {"extension": "1"}
    with pytest.raises(ValueError, match="not a JSON object"):
        parse_arguments("[1]", tool="t")
    with pytest.raises(ValueError, match="Expecting"):
        parse_arguments('{"extension": ', tool="t")


def test_tag_filter_streams_text_and_extracts_calls() -> None:
    f = ToolTagFilter()
    spoken = []
    calls = []
    stream = (
        "Vou transferir. <tool_ca",
        'll>{"name": "transfer_call", "argu',
        'ments": {"extension": "1002"}}</tool_call> ok',
    )
    for piece in stream:
        text, found = f.feed(piece)
        spoken.append(text)
        calls += found
    spoken.append(f.finish())
    assert "".join(spoken) == "Vou transferir.  ok"
    assert calls == [ToolCall("transfer_call", {"extension": "1002"})]


def test_tag_filter_holds_back_only_a_possible_tag_start() -> None:
    f = ToolTagFilter()
    assert f.feed("a < b <to") == ("a < b ", [])
    assert f.feed("do") == ("<todo", [])
    assert f.finish() == ""


@pytest.mark.parametrize(
    "body",
    [
        "<tool_call>{not json}</tool_call>",
        '<tool_call>{"arguments": {}}</tool_call>',
        '<tool_call>{"name": "hang_up", "arguments": [1]}</tool_call>',
    ],
)
def test_tag_filter_rejects_malformed_calls(body: str) -> None:
    with pytest.raises(ValueError, match=r"Expecting|name|object"):
        ToolTagFilter().feed(body)


def test_tag_filter_unterminated_tag() -> None:
    f = ToolTagFilter()
    f.feed('<tool_call>{"name": "hang_up"')
    with pytest.raises(ValueError, match="unterminated"):
        f.finish()


def test_tag_filter_arguments_as_a_json_string() -> None:
    _, calls = ToolTagFilter().feed(
        '<tool_call>{"name": "transfer_call", '
        '"arguments": "{\\"extension\\": \\"7\\"}"}</tool_call>'
    )
    assert calls == [ToolCall("transfer_call", {"extension": "7"})]


def run_filter(pieces: list[str]) -> tuple[str, list[ToolCall]]:
    f = ToolTagFilter()
    spoken = []
    calls: list[ToolCall] = []
    for p in pieces:
        text, found = f.feed(p)
        spoken.append(text)
        calls += found
    spoken.append(f.finish())
    return "".join(spoken), calls


def test_bare_json_line_is_a_tool_call() -> None:
    """Small local models often drop the tags (Qwen2.5-Coder-1.5B does)."""
    reply = (
        "Vou transferir sua ligação, um momento.\n"
        '{"name": "transfer_call", "arguments": {"extension": "2001"}}'
    )
    for step in (1, 5, len(reply)):
        pieces = [reply[i : i + step] for i in range(0, len(reply), step)]
        spoken, calls = run_filter(pieces)
        assert spoken == "Vou transferir sua ligação, um momento.\n"
        assert calls == [ToolCall("transfer_call", {"extension": "2001"})]


def test_bare_json_at_the_start_and_with_braces_in_strings() -> None:
    spoken, calls = run_filter(['{"name": "hang_up", "arguments": {"nota": "}{"}}', " Tchau."])
    assert calls == [ToolCall("hang_up", {"nota": "}{"})]
    assert spoken == " Tchau."


def test_braces_that_are_not_tool_calls_are_spoken() -> None:
    assert run_filter(["Use o código {abc} agora."]) == ("Use o código {abc} agora.", [])
    assert run_filter(['{"name": "format_disk"} ok']) == ('{"name": "format_disk"} ok', [])
    assert run_filter(["{ aberto sem fim"]) == ("{ aberto sem fim", [])
    assert run_filter(['{"name": "hang_up", "arguments": "[1"}']) == (
        '{"name": "hang_up", "arguments": "[1"}',
        [],
    )
