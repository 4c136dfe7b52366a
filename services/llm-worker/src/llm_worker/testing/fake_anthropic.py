"""A fake Anthropic Messages API (``POST /v1/messages``, streaming) on 127.0.0.1.

Point the real SDK at it with ``base_url=server.url`` (or ANTHROPIC_BASE_URL). It checks
what the real API checks first (API key and version headers, model, max_tokens, messages
starting with a user turn and alternating roles) and answers 400 otherwise, so tests also
catch malformed requests. Non-streaming requests are answered 400: the worker never
makes them.
"""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from llm_worker.testing._server import FakeServer
from llm_worker.testing.script import Fail, Script, ToolUse, Truncated

_ids = itertools.count(1)


def _error(status: int, etype: str, message: str) -> web.Response:
    return web.json_response(
        {"type": "error", "error": {"type": etype, "message": message}}, status=status
    )


class FakeAnthropicServer(FakeServer):
    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    def _validate(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        if not request.headers.get("x-api-key") and not request.headers.get("authorization"):
            return _error(401, "authentication_error", "missing x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "missing anthropic-version header")
        if not isinstance(body.get("model"), str) or not isinstance(body.get("max_tokens"), int):
            return _error(400, "invalid_request_error", "model and max_tokens are required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "invalid_request_error", "messages: at least one message")
        roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
        if roles[0] != "user" or any(r not in ("user", "assistant") for r in roles):
            return _error(400, "invalid_request_error", "messages: first must be user")
        if any(a == b for a, b in itertools.pairwise(roles)):
            return _error(400, "invalid_request_error", "messages: roles must alternate")
        if not body.get("stream"):
            return _error(400, "invalid_request_error", "this fake only streams")
        return None

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_json(request)
        if isinstance(body, web.Response):
            return body
        invalid = self._validate(request, body)
        if invalid is not None:
            return invalid
        return await self.play(request, body)

    def fail(self, script: Fail) -> web.Response:
        etype = "overloaded_error" if script.status == 529 else script.error_type
        return _error(script.status, etype, script.message)

    async def events(self, resp: web.StreamResponse, body: dict[str, Any], script: Script) -> None:
        async def event(kind: str, **fields: Any) -> bool:
            return await self.write(resp, self.sse(kind, {"type": kind, **fields}))

        ok = await event(
            "message_start",
            message={
                "id": f"msg_fake{next(_ids):04d}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 25, "output_tokens": 1},
            },
        )
        ok = ok and await event("ping")
        index = 0
        text, delay = self.text_of(script)
        if ok and text:
            ok = await event(
                "content_block_start", index=index, content_block={"type": "text", "text": ""}
            )
            for chunk in text:
                if not ok:
                    break
                await self.pause(delay)
                delta = {"type": "text_delta", "text": chunk}
                ok = await event("content_block_delta", index=index, delta=delta)
            if isinstance(script, Truncated):
                await resp.write_eof()
                return
            ok = ok and await event("content_block_stop", index=index)
            index += 1
        stop_reason = "end_turn"
        if ok and isinstance(script, ToolUse):
            stop_reason = "tool_use"
            block = {
                "type": "tool_use",
                "id": f"toolu_fake{next(_ids):04d}",
                "name": script.name,
                "input": {},
            }
            ok = await event("content_block_start", index=index, content_block=block)
            for piece in self.split_json(script.arguments, script.json_pieces):
                delta = {"type": "input_json_delta", "partial_json": piece}
                ok = ok and await event("content_block_delta", index=index, delta=delta)
            ok = ok and await event("content_block_stop", index=index)
        if ok:
            ok = await event(
                "message_delta",
                delta={"stop_reason": stop_reason, "stop_sequence": None},
                usage={"output_tokens": 12},
            )
            ok = ok and await event("message_stop")
        if ok:
            await resp.write_eof()
