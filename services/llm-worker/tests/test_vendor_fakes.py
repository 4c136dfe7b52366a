"""The real anthropic and openai SDKs against fake servers that speak their wire APIs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from llm_worker.errors import (
    ProviderError,
    ProviderOverloaded,
    ProviderProtocolError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from llm_worker.events import ChatRequest, Done, Message, TextDelta, ToolCall
from llm_worker.history import History
from llm_worker.persona import load_persona
from llm_worker.reply import ReplyAction, ReplySentence, ReplyTimings, reply
from llm_worker.testing import Fail, FakeAnthropicServer, Hang, Raw, Text, ToolUse, Truncated
from llm_worker.tools import CallAction

PERSONA = load_persona()
REQUEST = ChatRequest(system=PERSONA.system_prompt, messages=(Message("user", "Oi, tudo bem?"),))
APOLOGY = PERSONA.apology


async def collect(v: Any, request: ChatRequest = REQUEST) -> list[ReplySentence | ReplyAction]:
    return [e async for e in reply(v.provider, request, apology=APOLOGY)]


async def test_streamed_text_becomes_ordered_sentences(vendor: Any) -> None:
    vendor.server.push(
        Text(("Olá, aqui é ", "a recepção. O Sr. Paulo ", "atende às 14:30", ". Pode ", "ligar?"))
    )
    out = await collect(vendor)
    assert out == [
        ReplySentence(0, "Olá, aqui é a recepção."),
        ReplySentence(1, "O Sr. Paulo atende às 14:30."),
        ReplySentence(2, "Pode ligar?"),
    ]


async def test_first_sentence_arrives_before_the_reply_ends(vendor: Any) -> None:
    chunks = ("Claro, vou verificar ", "isso agora. ", *(f"Parte {i}. " for i in range(30)))
    vendor.server.push(Text(chunks, delay_s=0.01))
    timings = ReplyTimings()
    agen = reply(vendor.provider, REQUEST, apology=APOLOGY, timings=timings)
    first = await anext(agen)
    assert first == ReplySentence(0, "Claro, vou verificar isso agora.")
    sent_then = vendor.server.chunks_sent
    rest = [e async for e in agen]
    assert sent_then < vendor.server.chunks_sent  # the server was still streaming
    assert len(rest) >= 30
    assert timings.first_token is not None
    assert timings.first_sentence is not None
    assert timings.finished is not None
    assert timings.first_sentence <= timings.finished


async def test_request_carries_persona_history_and_tools(vendor: Any) -> None:
    h = History(max_turns=4)
    h.add_user("Qual o horário?")
    h.add_reply(["Abrimos às oito.", "Fechamos às seis."], played=1, interrupted=True)
    h.add_user("E no sábado?")
    req = ChatRequest(system=PERSONA.system_prompt, messages=h.for_request())
    await collect(vendor, req)
    body = vendor.server.requests[-1]
    if vendor.name == "anthropic":
        assert body["system"] == PERSONA.system_prompt
        msgs = body["messages"]
        assert {t["name"] for t in body["tools"]} == {"transfer_call", "hang_up"}
        hdrs = vendor.server.headers[-1]
        # SDK 1.x sends x-api-key; 2.x sends the key as a bearer token.
        assert "sk-ant-test" in (hdrs.get("x-api-key") or hdrs["authorization"])
        assert hdrs["anthropic-version"]
    else:
        assert body["messages"][0] == {"role": "system", "content": PERSONA.system_prompt}
        msgs = body["messages"][1:]
        assert {t["function"]["name"] for t in body["tools"]} == {"transfer_call", "hang_up"}
        assert vendor.server.headers[-1]["authorization"] == "Bearer sk-test"
    assert msgs == [
        {"role": "user", "content": "Qual o horário?"},
        {"role": "assistant", "content": "Abrimos às oito…"},
        {"role": "user", "content": "E no sábado?"},
    ]
    assert body["stream"] is True


async def test_transfer_tool_becomes_a_call_action(vendor: Any) -> None:
    vendor.server.push(
        ToolUse("transfer_call", {"extension": "1002"}, text=("Vou transferir agora.",))
    )
    out = await collect(vendor)
    assert out == [
        ReplySentence(0, "Vou transferir agora."),
        ReplyAction(CallAction("transfer", "1002")),
    ]


async def test_hang_up_tool_without_text(vendor: Any) -> None:
    vendor.server.push(ToolUse("hang_up", {}, json_pieces=1))
    assert await collect(vendor) == [ReplyAction(CallAction("hangup"))]


async def test_raw_tool_call_event(vendor: Any) -> None:
    vendor.server.push(ToolUse("transfer_call", {"extension": "2001"}, json_pieces=5))
    async with vendor.provider.stream(REQUEST) as stream:
        events = [e async for e in stream]
    assert events[0] == ToolCall("transfer_call", {"extension": "2001"}, call_id=events[0].call_id)
    assert events[0].call_id
    assert isinstance(events[-1], Done)
    assert events[-1].stop_reason in ("tool_use", "tool_calls")


async def test_invalid_tool_arguments_make_an_apology(vendor: Any) -> None:
    vendor.server.push(ToolUse("transfer_call", {"extension": "o João"}))
    out = await collect(vendor)
    assert out == [ReplySentence(0, APOLOGY, apology=True)]


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (Fail(529, message="Overloaded"), ProviderOverloaded),
        (Fail(500), ProviderUnavailable),
        (Fail(429, "rate_limit_error"), ProviderOverloaded),
        (Hang(), ProviderTimeout),
        (Hang(after_headers=True), ProviderTimeout),
    ],
)
async def test_failures_are_retried_then_the_caller_hears_an_apology(
    vendor: Any, script: Fail | Hang, error: type[ProviderError]
) -> None:
    vendor.server.push(script, script)  # the first try and the one retry both fail
    timings = ReplyTimings()
    out = [e async for e in reply(vendor.provider, REQUEST, apology=APOLOGY, timings=timings)]
    assert out == [ReplySentence(0, APOLOGY, apology=True)]
    assert timings.error == error.__name__
    assert vendor.provider.metrics.counts["retry"] == 1
    assert len(vendor.server.requests) == 2
    # and the direct API says the error is retryable
    vendor.server.push(script, script)
    with pytest.raises(error) as info:
        async with vendor.provider.stream(REQUEST) as stream:
            [e async for e in stream]
    assert info.value.retryable


async def test_one_failure_then_success_is_invisible_to_the_caller(vendor: Any) -> None:
    vendor.server.push(Fail(529), Text(("Tudo certo.",)))
    assert await collect(vendor) == [ReplySentence(0, "Tudo certo.")]
    assert vendor.provider.metrics.counts["retry"] == 1


async def test_client_errors_are_not_retried(vendor: Any) -> None:
    vendor.server.push(Fail(401, "authentication_error"), Text(("nunca",)))
    with pytest.raises(ProviderRejected) as info:
        async with vendor.provider.stream(REQUEST) as stream:
            [e async for e in stream]
    assert not info.value.retryable
    assert info.value.status == 401
    assert len(vendor.server.requests) == 1


async def test_no_retry_after_text_was_spoken(vendor: Any) -> None:
    # A stream that breaks after its first sentence: retrying would repeat it.
    vendor.server.push(Truncated(("Um momento. Vou ",)), Text(("repetido",)))
    out = await collect(vendor)
    assert out == [ReplySentence(0, "Um momento."), ReplySentence(1, APOLOGY, apology=True)]
    assert vendor.provider.metrics.counts["retry"] == 0
    assert len(vendor.server.requests) == 1


MALFORMED_ANTHROPIC = [
    "event: content_block_delta\ndata: {not json\n\n",
    'event: message_start\ndata: {"type": "message_start"}\n\n'
    'event: content_block_delta\ndata: {"type": "content_block_delta"}\n\n',
    "this is not an event stream at all\n\n",
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    '"content_block":{"type":"tool_use","id":"t1","name":"hang_up","input":{}}}\n\n'
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    '"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":"}}\n\n'
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
]
MALFORMED_OPENAI = [
    "data: {not json\n\n",
    'data: {"choices": "nope"}\n\n',
    "this is not an event stream at all\n\n",
    'data: {"id":"x","object":"chat.completion.chunk","created":0,"model":"m",'
    '"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"hang_up",'
    '"arguments":"{\\"a\\":"}}]},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n',
]


@pytest.mark.parametrize("case", range(4))
async def test_malformed_stream_gives_a_clear_error_and_an_apology(vendor: Any, case: int) -> None:
    body = (MALFORMED_ANTHROPIC if vendor.name == "anthropic" else MALFORMED_OPENAI)[case]
    vendor.server.push(Raw(body))
    with pytest.raises(ProviderProtocolError) as info:
        async with vendor.provider.stream(REQUEST) as stream:
            [e async for e in stream]
    assert not info.value.retryable
    assert vendor.name in str(info.value)
    vendor.server.push(Raw(body))
    assert await collect(vendor) == [ReplySentence(0, APOLOGY, apology=True)]


async def test_truncated_stream_is_a_protocol_error(vendor: Any) -> None:
    vendor.server.push(Truncated(("Olá, ",)))
    with pytest.raises(ProviderProtocolError, match=r"message_stop|finish_reason"):
        async with vendor.provider.stream(REQUEST) as stream:
            [e async for e in stream]


async def test_connection_refused_is_unavailable(vendor: Any) -> None:
    await vendor.server.stop()
    provider = vendor.new_provider(max_retries=0)
    try:
        with pytest.raises(ProviderUnavailable):
            async with provider.stream(REQUEST) as stream:
                [e async for e in stream]
    finally:
        await provider.aclose()


async def test_cancel_closes_the_http_stream_at_once(vendor: Any) -> None:
    vendor.server.push(Text(tuple(f"Frase número {i}. " for i in range(200)), delay_s=0.02))
    stream = vendor.provider.stream(REQUEST)
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    await stream.cancel()
    assert stream.cancelled
    assert [e async for e in stream] == []  # nothing more comes out
    for _ in range(200):  # the server notices the closed connection on its next write
        if vendor.server.aborted:
            break
        await asyncio.sleep(0.01)
    assert vendor.server.aborted == 1
    assert vendor.server.chunks_sent < 100
    assert vendor.provider.metrics.counts["cancelled"] == 1


async def test_cancelling_the_reading_task_cancels_the_stream(vendor: Any) -> None:
    vendor.server.push(Text(tuple(f"Frase {i}. " for i in range(200)), delay_s=0.02))
    got_first = asyncio.Event()

    async def speak() -> None:
        async for _ in reply(vendor.provider, REQUEST, apology=APOLOGY):
            got_first.set()

    task = asyncio.create_task(speak())
    await got_first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):
        if vendor.server.aborted:
            break
        await asyncio.sleep(0.01)
    assert vendor.server.aborted == 1


async def test_fake_rejects_malformed_requests() -> None:
    """The fake is strict like the real API: bad bodies get a 400."""
    import aiohttp

    async with FakeAnthropicServer() as srv, aiohttp.ClientSession() as http:
        headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}

        def request_body(*messages: tuple[str, str]) -> bytes:
            return json.dumps(
                {
                    "model": "m",
                    "max_tokens": 5,
                    "messages": [{"role": role, "content": text} for role, text in messages],
                    "stream": True,
                }
            ).encode()

        cases = [
            (b"{not json", headers),
            (request_body(("assistant", "x")), headers),  # must start with the user
            (request_body(("user", "a"), ("user", "b")), headers),  # roles must alternate
            (request_body(("user", "a")), {}),  # no API key
        ]
        for body, hdrs in cases:
            async with http.post(f"{srv.url}/v1/messages", data=body, headers=hdrs) as r:
                assert r.status in (400, 401)
