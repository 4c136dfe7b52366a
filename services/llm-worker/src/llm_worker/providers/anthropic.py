"""Claude through the official ``anthropic`` SDK (Messages API, streaming).

Reads the raw server-sent events: ``content_block_delta`` / ``text_delta`` become
TextDelta; a ``tool_use`` block's ``input_json_delta`` pieces are joined and parsed at its
``content_block_stop`` into a ToolCall; ``message_delta`` carries the stop reason;
``message_stop`` ends the stream (a stream that ends without it is a protocol error).
The base URL comes from ANTHROPIC_BASE_URL (the SDK's own variable) or the settings.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, ClassVar

from llm_worker.errors import (
    ProviderError,
    ProviderOverloaded,
    ProviderProtocolError,
    ProviderUnavailable,
    error_for_status,
)
from llm_worker.events import ChatRequest, Done, StreamEvent, TextDelta
from llm_worker.providers.sdk import SDKProvider, VendorSDK
from llm_worker.settings import DEFAULT_ANTHROPIC_MODEL
from llm_worker.tools import anthropic_tools


class AnthropicProvider(SDKProvider):
    vendor: ClassVar[VendorSDK] = VendorSDK(
        "anthropic",
        "2.10.0",
        client_class="AsyncAnthropic",
        default_model=DEFAULT_ANTHROPIC_MODEL,
        unit="server-sent event",
        key_variable="ANTHROPIC_API_KEY",
    )

    async def _send(self, request: ChatRequest) -> Any:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            # No temperature: the Messages API of current models fixes sampling itself
            # (SDK 2.x no longer takes it).
            "system": request.system,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
        }
        if request.tools:
            params["tools"] = anthropic_tools(request.transfer_targets)
        return await self._client.messages.create(**params)

    async def _events(self, stream: Any) -> AsyncGenerator[StreamEvent, None]:
        blocks: dict[int, dict[str, Any]] = {}
        stop_reason = ""
        finished = False
        async for event in stream:
            kind = getattr(event, "type", "")
            if kind == "content_block_start":
                block = event.content_block
                if block.type == "tool_use":
                    blocks[event.index] = {"id": block.id, "name": block.name, "json": []}
            elif kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta":
                    if delta.text:
                        yield TextDelta(delta.text)
                elif delta.type == "input_json_delta" and event.index in blocks:
                    blocks[event.index]["json"].append(delta.partial_json)
            elif kind == "content_block_stop" and event.index in blocks:
                b = blocks.pop(event.index)
                what = f"tool_use {b['name']!r}: malformed input JSON"
                yield self._tool_call(b["name"], b["id"], b["json"], what)
            elif kind == "message_delta":
                stop_reason = getattr(event.delta, "stop_reason", None) or stop_reason
            elif kind == "message_stop":
                finished = True
                break
        if not finished:
            raise ProviderProtocolError(
                "the event stream ended before message_stop", provider=self.name
            )
        yield Done(stop_reason)

    def _map_api_error(self, e: Exception) -> ProviderError:
        if isinstance(e, self.sdk.APIStatusError):
            body = e.body if isinstance(e.body, dict) else {}
            err = body.get("error") if isinstance(body.get("error"), dict) else body
            etype = err.get("type", "") if isinstance(err, dict) else ""
            if etype == "overloaded_error":
                return ProviderOverloaded(str(e.message), provider=self.name, status=529)
            if e.status_code == 200:  # an "error" event inside a stream
                return ProviderUnavailable(
                    f"error event in stream: {e.message}", provider=self.name, retryable=True
                )
            return error_for_status(e.status_code, str(e.message), provider=self.name)
        return ProviderError(f"API error: {e}", provider=self.name)
