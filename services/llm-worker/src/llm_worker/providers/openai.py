"""Any OpenAI-compatible chat server (OpenAI, Ollama, vLLM, llama.cpp server) through the
official ``openai`` SDK, streaming ``chat.completions``.

Text arrives in ``choices[0].delta.content``; function calls in ``delta.tool_calls``, whose
``function.arguments`` strings are joined per ``index`` and parsed once the choice has a
``finish_reason``. A stream that ends without any finish_reason is a protocol error.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, ClassVar

from llm_worker.errors import (
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    error_for_status,
)
from llm_worker.events import ChatRequest, Done, StreamEvent, TextDelta
from llm_worker.providers.sdk import SDKProvider, VendorSDK
from llm_worker.settings import DEFAULT_OPENAI_MODEL
from llm_worker.tools import openai_tools


class OpenAIProvider(SDKProvider):
    vendor: ClassVar[VendorSDK] = VendorSDK(
        "openai",
        "3.51.0",
        client_class="AsyncOpenAI",
        default_model=DEFAULT_OPENAI_MODEL,
        unit="stream chunk",
        endpoint="the server",
    )

    async def _send(self, request: ChatRequest) -> Any:
        messages = [{"role": "system", "content": request.system}]
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
        }
        if request.tools:
            params["tools"] = openai_tools(request.transfer_targets)
        return await self._client.chat.completions.create(**params)

    async def _events(self, stream: Any) -> AsyncGenerator[StreamEvent, None]:
        calls: dict[int, dict[str, Any]] = {}
        finish_reason = ""
        async for chunk in stream:
            for choice in chunk.choices or []:
                if choice.index != 0:
                    continue
                delta = choice.delta
                if delta is not None and delta.content:
                    yield TextDelta(delta.content)
                for tc in (delta.tool_calls if delta is not None else None) or []:
                    slot = calls.setdefault(tc.index, {"id": "", "name": "", "args": []})
                    if tc.id:
                        slot["id"] = tc.id
                    if tc.function is not None:
                        if tc.function.name:
                            slot["name"] += tc.function.name
                        if tc.function.arguments:
                            slot["args"].append(tc.function.arguments)
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
        if not finish_reason:
            raise ProviderProtocolError(
                "the stream ended without a finish_reason", provider=self.name
            )
        for index in sorted(calls):
            slot = calls[index]
            if not slot["name"]:
                raise ProviderProtocolError("tool call without a name", provider=self.name)
            what = f"tool call {slot['name']!r}: malformed arguments JSON"
            yield self._tool_call(slot["name"], slot["id"], slot["args"], what)
        yield Done(finish_reason)

    def _map_api_error(self, e: Exception) -> ProviderError:
        if isinstance(e, self.sdk.APIStatusError):
            return error_for_status(e.status_code, str(e.message), provider=self.name)
        if isinstance(e, self.sdk.APIError):
            # e.g. an {"error": ...} object inside the stream
            return ProviderUnavailable(f"error in stream: {e.message}", provider=self.name)
        return ProviderError(f"API error: {e}", provider=self.name)
