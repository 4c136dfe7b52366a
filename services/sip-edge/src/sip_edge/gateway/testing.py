"""Helpers for the gateway's tests and benchmarks, on real parts: the gateway and the
pipeline workers as their own processes (``python -m ...``; the workers with their fake
engines), and a small ASP client on a real WebSocket."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pipeline.testing import FAKE_ENGINES, WorkerProcess, start_worker
from websockets.asyncio.client import ClientConnection, connect

from ..testing import ServiceProcess
from . import g711
from .framing import SEED_HEADER_SIZE, seed_hash

__all__ = [
    "AspClient",
    "GatewayProcess",
    "WorkerProcess",
    "asp_frame",
    "running_workers",
    "seed_frame",
]

TOKEN = "test-token-0123456789"  # noqa: S105 - the tests' own token


class GatewayProcess(ServiceProcess):
    """``python -m sip_edge.gateway`` on free loopback ports; ``env`` overrides settings.
    A context manager: SIGTERM on exit."""

    module = "sip_edge.gateway"
    name = "asp-gateway"
    prefix = "ASP_GATEWAY"
    stop_wait_s = 20.0
    loopback_env: ClassVar[dict[str, str]] = {
        "ASP_GATEWAY_HOST": "127.0.0.1",
        "ASP_GATEWAY_PORT": "0",
        "ASP_GATEWAY_TOKEN": TOKEN,
        "SIP_EDGE_DRAIN_GRACE_S": "1",
    }
    port = 0

    @property
    def token(self) -> str:
        return self.env["ASP_GATEWAY_TOKEN"]

    def on_ready(self, values: dict[str, str]) -> None:
        super().on_ready(values)
        self.port = int(values["port"])

    def url(self, path: str = "/", token: str | None = None) -> str:
        query = f"?token={token}" if token else ""
        return f"ws://127.0.0.1:{self.port}{path}{query}"

    def ready(self) -> int:
        url = f"http://127.0.0.1:{self.metrics_port}/ready"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as e:
            return int(e.code)


@contextmanager
def running_workers(
    tmp: Path, redis_url: str, ready_within_s: float = 120, **env: str
) -> Iterator[list[WorkerProcess]]:
    """stt_worker, llm_worker and tts_worker as processes with their fake engines
    (``env`` overrides: the real engines load for minutes, hence ``ready_within_s``), ready;
    stopped afterwards."""
    started: list[WorkerProcess] = []
    try:
        for module in ("stt_worker", "llm_worker", "tts_worker"):
            overrides = {**FAKE_ENGINES, "WORKER_NAME": f"gw-{module}", **env}
            started.append(start_worker(module, tmp, redis_url, **overrides))
        deadline = time.monotonic() + ready_within_s
        for w in started:
            while not w.ready():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{w.module} not ready:\n{w.log()[-3000:]}")
                time.sleep(0.2)
        yield started
    finally:
        for w in started:
            w.stop()


@dataclass(frozen=True)
class SessionAudio:
    """How a test client sends a session's audio: its rate, its encoding (``pcm_s16le``,
    ``mulaw``, ``alaw``) and its framing (``asp`` binary frames or the seed's)."""

    rate: int
    encoding: str = "pcm_s16le"
    framing: str = "asp"


def seed_frame(session_id: str, pcm: bytes) -> bytes:
    """A caller frame in the seed's 12-byte framing."""
    return b"\x01\x00" + seed_hash(session_id) + b"\x00\x00" + pcm


def asp_frame(seq: int, pcm: bytes) -> bytes:
    """A caller frame in the spec's framing (type 0x01, sequence, timestamp in µs)."""
    return struct.pack("<HIQ", 1, seq, seq * 20_000) + pcm


@dataclass
class AspClient:
    """A test client on a real WebSocket: keeps every message and binary frame received."""

    ws: ClientConnection
    messages: list[dict[str, Any]] = field(default_factory=list)
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> AspClient:
        ws = await connect(url, max_size=None, **kwargs)
        client = cls(ws)
        client._task = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                if isinstance(data, bytes):
                    self.frames.append((time.monotonic(), data))
                else:
                    self.messages.append(json.loads(data))
        except Exception:  # noqa: S110 - a closed connection ends the reader
            pass
        finally:
            self.closed.set()

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(msg))

    async def wait_for(self, within: float = 20.0, **match: Any) -> dict[str, Any]:
        """The first message (received, or to come within ``within`` seconds) whose fields
        equal ``match``."""
        deadline = time.monotonic() + within
        while True:
            for m in self.messages:
                if all(m.get(k) == v for k, v in match.items()):
                    return m
            if time.monotonic() > deadline:
                raise AssertionError(f"no message {match} in {self.messages[-10:]}")
            if self.closed.is_set():
                raise AssertionError(f"connection closed without {match}: {self.messages[-10:]}")
            await asyncio.sleep(0.01)

    async def send_pcm(
        self, session_id: str, pcm: bytes, audio: SessionAudio, realtime: float = 0.0
    ) -> None:
        """Sends 16-bit PCM in 20 ms frames as the session's ``audio`` says (G.711 coded
        for a ``mulaw``/``alaw`` session); ``realtime`` > 0 paces them (1.0 = real time)."""
        if audio.encoding != "pcm_s16le":
            pcm = g711.encode(pcm, audio.encoding)
        size = audio.rate // 50 * (2 if audio.encoding == "pcm_s16le" else 1)
        for i in range(0, len(pcm) - size + 1, size):
            chunk = pcm[i : i + size]
            if audio.framing == "seed":
                frame = seed_frame(session_id, chunk)
            else:
                frame = asp_frame(i // size, chunk)
            await self.ws.send(frame)
            await asyncio.sleep(0.02 / realtime if realtime else 0)

    def of(self, **match: Any) -> list[dict[str, Any]]:
        return [m for m in self.messages if all(m.get(k) == v for k, v in match.items())]

    def audio_of(self, session_id: str, framing: str) -> bytes:
        """The PCM the client received for a session: seed frames by their hash, ASP
        frames (type 0x02) when the connection carries one session."""
        out = bytearray()
        h = seed_hash(session_id)
        for _, f in self.frames:
            if framing == "seed" and f[:2] == b"\x01\x01" and f[2:10] == h:
                out += f[SEED_HEADER_SIZE:]
            elif framing == "asp" and f[:2] == b"\x02\x00":
                out += f[15:]
        return bytes(out)

    async def close(self) -> None:
        await self.ws.close()
        if self._task is not None:
            await self._task
