"""Common plumbing of the fake vendor servers (aiohttp, bound to 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import Any

from aiohttp import web

from llm_worker.testing.script import Fail, Hang, Raw, Script, Text, ToolUse, Truncated


class FakeServer:
    """Base: script queue, request log, start/stop, SSE writing helpers."""

    def __init__(self, *, default: Script | None = None) -> None:
        self.scripts: deque[Script] = deque()
        self.default: Script = default or Text(("Olá! Em que posso ajudar?",))
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.aborted = 0  # streams the client closed before the end
        self.chunks_sent = 0
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.port = 0

    # subclasses add routes
    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def push(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)

    def next_script(self) -> Script:
        return self.scripts.popleft() if self.scripts else self.default

    async def start(self) -> None:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def hang(self) -> None:
        await self._closing.wait()

    async def open_stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        await resp.prepare(request)
        return resp

    # subclasses answer a Fail script with their vendor's error body
    def fail(self, script: Fail) -> web.Response:
        raise NotImplementedError

    # subclasses write their vendor's events for a Text, Truncated or ToolUse script
    async def events(self, resp: web.StreamResponse, body: dict[str, Any], script: Script) -> None:
        raise NotImplementedError

    async def play(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        """Answers a valid request with the next script: Fail, Hang and Raw alike for every
        vendor, the rest through :meth:`events`."""
        script = self.next_script()
        if isinstance(script, Fail):
            return self.fail(script)
        if isinstance(script, Hang) and not script.after_headers:
            await self.hang()
            return web.Response(status=504)
        resp = await self.open_stream(request)
        if isinstance(script, Hang):
            await self.hang()
        elif isinstance(script, Raw):
            await self.write(resp, script.body)
            await resp.write_eof()
        else:
            await self.events(resp, body, script)
        return resp

    @staticmethod
    def text_of(script: Script) -> tuple[tuple[str, ...], float]:
        """The text a script streams (before any tool call) and the pause before each chunk."""
        if isinstance(script, Text):
            return script.chunks, script.delay_s
        if isinstance(script, Truncated):
            return script.chunks, 0.0
        if isinstance(script, ToolUse):
            return script.text, 0.0
        return (), 0.0

    async def write(self, resp: web.StreamResponse, text: str) -> bool:
        """Writes raw text; False when the client has gone (counted in ``aborted``)."""
        try:
            await resp.write(text.encode())
        except (ConnectionResetError, RuntimeError):
            self.aborted += 1
            return False
        self.chunks_sent += 1
        return True

    async def read_json(self, request: web.Request) -> dict[str, Any] | web.Response:
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body is not an object"}, status=400)
        self.requests.append(body)
        return body

    @staticmethod
    def sse(event: str | None, data: Any) -> str:
        payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        head = f"event: {event}\n" if event else ""
        return f"{head}data: {payload}\n\n"

    @staticmethod
    async def pause(delay_s: float) -> None:
        if delay_s > 0:
            await asyncio.sleep(delay_s)

    @staticmethod
    def split_json(arguments: dict[str, Any], pieces: int) -> list[str]:
        raw = json.dumps(arguments, ensure_ascii=False)
        if pieces <= 1 or len(raw) < pieces:
            return [raw]
        size = -(-len(raw) // pieces)
        return [raw[i : i + size] for i in range(0, len(raw), size)]

    @staticmethod
    async def close_abruptly(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.close()
