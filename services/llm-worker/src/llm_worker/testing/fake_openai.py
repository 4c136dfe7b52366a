"""A fake OpenAI-compatible ``POST /v1/chat/completions`` (streaming) on 127.0.0.1.

Point the real ``openai`` SDK at ``server.url + "/v1"``. Requests without a model or
messages are answered 400; errors use OpenAI's ``{"error": {...}}`` body.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from aiohttp import web

from llm_worker.testing._server import FakeServer
from llm_worker.testing.script import Fail, Script, ToolUse, Truncated

_ids = itertools.count(1)


def _error(status: int, etype: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": etype, "param": None, "code": None}},
        status=status,
    )


class FakeOpenAIServer(FakeServer):
    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_json(request)
        if isinstance(body, web.Response):
            return body
        messages = body.get("messages")
        if not isinstance(body.get("model"), str) or not isinstance(messages, list):
            return _error(400, "invalid_request_error", "model and messages are required")
        if not body.get("stream"):
            return _error(400, "invalid_request_error", "this fake only streams")
        return await self.play(request, body)

    def fail(self, script: Fail) -> web.Response:
        return _error(script.status, script.error_type, script.message)

    async def events(self, resp: web.StreamResponse, body: dict[str, Any], script: Script) -> None:
        cid, model = f"chatcmpl-fake{next(_ids):04d}", body["model"]

        async def chunk(delta: dict[str, Any], finish: str | None = None) -> bool:
            return await self.write(
                resp,
                self.sse(
                    None,
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    },
                ),
            )

        ok = await chunk({"role": "assistant", "content": ""})
        text, delay = self.text_of(script)
        for piece in text:
            if not ok:
                break
            await self.pause(delay)
            ok = await chunk({"content": piece})
        if isinstance(script, Truncated):
            await resp.write_eof()
            return
        finish = "stop"
        if ok and isinstance(script, ToolUse):
            finish = "tool_calls"
            call = {
                "index": 0,
                "id": f"call_fake{next(_ids):04d}",
                "type": "function",
                "function": {"name": script.name, "arguments": ""},
            }
            ok = await chunk({"tool_calls": [call]})
            for piece in self.split_json(script.arguments, script.json_pieces):
                more = {"index": 0, "function": {"arguments": piece}}
                ok = ok and await chunk({"tool_calls": [more]})
        if ok:
            ok = await chunk({}, finish)
            ok = ok and await self.write(resp, "data: [DONE]\n\n")
        if ok:
            await resp.write_eof()
