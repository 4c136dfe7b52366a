"""A minimal HTTP endpoint on plain asyncio: /metrics (Prometheus), /live and /ready.

``/live`` and ``/ready`` answer 200 or 503 from :class:`pipeline.health.Health`;
``/health`` is the old name of ``/ready``. Served on the process's own loop, so a stuck
loop does not answer at all (the probe times out: not alive either).
"""

from __future__ import annotations

import asyncio

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


async def serve(host: str, port: int, health: Health) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if path == "/metrics":
                code, ctype, body = 200, CONTENT_TYPE_LATEST, generate_latest()
            elif path in HEALTH_PATHS:
                code, body = health_reply(health, path)
                ctype = "text/plain"
            else:
                code, ctype, body = 404, "text/plain", b"not found\n"
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
