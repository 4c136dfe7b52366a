"""The one metrics endpoint of every process: /metrics (Prometheus), /live and /ready.

``/live`` and ``/ready`` answer 200 or 503 from :class:`pipeline.health.Health`;
``/health`` is the old name of ``/ready``; any other path 404 (:func:`reply`). Two ways
to serve it:

* :func:`serve`, on the process's own asyncio loop (the stage workers): a stuck loop does
  not answer at all (the probe times out: not alive either);
* :class:`ThreadedServer`, in a thread of its own (sip-edge, asp-gateway: their loop
  must not wait on a scrape); liveness is then the loop's heartbeat in ``Health``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .health import Health

HEALTH_PATHS = ("/live", "/ready", "/health")


def health_reply(health: Health, path: str) -> tuple[int, bytes]:
    """Status code and body of a health path (one of :data:`HEALTH_PATHS`)."""
    if path == "/live":
        ok = health.alive()
        return (200, b"alive\n") if ok else (503, b"loop stuck\n")
    failing = health.failing()
    if not failing:
        return 200, b"ready\n"
    return 503, ("not ready: " + ", ".join(failing) + "\n").encode()


def reply(path: str, health: Health, render: Callable[[], bytes]) -> tuple[int, str, bytes]:
    """Status code, content type and body of a GET of ``path``; ``render`` gives the
    Prometheus text."""
    if path == "/metrics":
        return 200, CONTENT_TYPE_LATEST, render()
    if path in HEALTH_PATHS:
        code, body = health_reply(health, path)
        return code, "text/plain", body
    return 404, "text/plain", b"not found\n"


async def serve(host: str, port: int, health: Health) -> asyncio.Server:
    """Serves the default registry on the running loop."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            code, ctype, body = reply(path, health, generate_latest)
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            head = (
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


class ThreadedServer:
    """Serves ``render``'s metrics and ``health`` from a thread of its own (``start``,
    ``stop``); ``port`` is the bound port (0 asks for a free one)."""

    def __init__(self, render: Callable[[], bytes], host: str, port: int, health: Health) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, ctype, body = reply(self.path, outer.health, render)
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.health = health
        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
