"""``asp-debug connect`` against peers that are not (good) ASP servers, and against a
scripted ASP peer: the client's own behaviour (exit codes, messages, framing, WAV out).

The scripted peer stands in for no part of the product: it checks what the client sends
and answers by the book. The client against the real gateway is in
tests/integration/asp_clients (with Redis and the workers)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import sys
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asp import AgentAudioFrame, CallerAudioFrame
from pipeline.testing import free_port
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

pytestmark = pytest.mark.integration  # the asp-debug command runs as its own process

ASP_DEBUG = Path(sys.executable).with_name("asp-debug")
CAPS = {
    "type": "protocol.capabilities",
    "version": "1.1.0",
    "capabilities": {
        "version": "1.1.0",
        "supported_sample_rates": [8000, 16000],
        "supported_encodings": ["pcm_s16le"],
        "supported_frame_durations": [20],
        "vad_configurable": True,
    },
}


async def asp_debug(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(ASP_DEBUG), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def question(path: Path, rate: int = 16000) -> Path:
    loud = struct.pack("<2h", 8000, -8000) * (rate // 4)  # 500 ms
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(loud)
    return path


class ScriptedPeer:
    """Answers one question by the book: capabilities, started, then after the caller's
    loud audio and 200 ms of silence a response of five frames in the caller's framing."""

    def __init__(self) -> None:
        self.start: dict[str, Any] | None = None
        self.framings: set[str] = set()
        self.frames = 0
        self.token: str | None = None

    async def handler(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps(CAPS))
        loud = quiet = 0
        answered = False
        async for raw in ws:
            if isinstance(raw, str):
                msg = json.loads(raw)
                if msg["type"] == "session.start":
                    self.start = msg
                    await ws.send(
                        json.dumps(
                            {
                                "type": "session.started",
                                "session_id": msg["session_id"],
                                "status": "accepted",
                                "negotiated": {"audio": msg["audio"], "vad": {}, "adjustments": []},
                            }
                        )
                    )
                elif msg["type"] == "session.end":
                    await ws.send(
                        json.dumps(
                            {
                                "type": "session.ended",
                                "session_id": msg["session_id"],
                                "duration_seconds": 1.0,
                                "statistics": {"audio_frames_received": self.frames},
                            }
                        )
                    )
                continue
            assert self.start is not None
            sid = self.start["session_id"]
            seed_hash = hashlib.md5(sid.encode(), usedforsecurity=False).digest()[:8]
            if raw[2:10] == seed_hash and raw[10:12] == b"\0\0":
                framing, pcm = "seed", raw[12:]
            else:
                framing, pcm = "spec", CallerAudioFrame.decode(raw).payload
            self.framings.add(framing)
            self.frames += 1
            if any(pcm):
                loud, quiet = loud + 1, 0
            else:
                quiet += 1
            if loud and quiet == 10 and not answered:
                answered = True
                await self.answer(ws, sid, framing, seed_hash)

    async def answer(self, ws: ServerConnection, sid: str, framing: str, seed_hash: bytes) -> None:
        await ws.send(
            json.dumps({"type": "response.start", "session_id": sid, "response_id": "r-1"})
        )
        tone = struct.pack("<2h", 16384, -16384) * 160  # 20 ms at 16 kHz, -6 dBFS
        for i in range(5):
            if framing == "seed":
                await ws.send(b"\x01\x01" + seed_hash + b"\0\0" + tone)
            else:
                await ws.send(AgentAudioFrame(i, i * 20_000, tone, is_final=i == 4).encode())
        await ws.send(
            json.dumps(
                {
                    "type": "response.end",
                    "session_id": sid,
                    "response_id": "r-1",
                    "interrupted": False,
                }
            )
        )


@pytest.fixture
async def peer() -> AsyncIterator[tuple[ScriptedPeer, str]]:
    p = ScriptedPeer()
    port = free_port()
    async with serve(p.handler, "127.0.0.1", port):
        yield p, f"ws://127.0.0.1:{port}"


@pytest.mark.parametrize("framing", ["spec", "seed"])
async def test_a_question_gets_its_answer_saved(
    peer: tuple[ScriptedPeer, str], tmp_path: Path, framing: str
) -> None:
    p, url = peer
    code, out, err = await asp_debug(
        "connect",
        url,
        "--send",
        str(question(tmp_path / "q.wav")),
        "--save",
        str(tmp_path / "a.wav"),
        "--vad-silence",
        "700",
        "--framing",
        framing,
    )
    assert code == 0, out + err
    assert p.start is not None
    assert p.start["audio"]["sample_rate"] == 16000  # from the WAV
    assert p.start["vad"] == {"silence_threshold_ms": 700}
    assert p.start["framing"] == ("seed" if framing == "seed" else "asp")
    assert p.framings == {framing}
    with wave.open(str(tmp_path / "a.wav"), "rb") as w:
        assert (w.getframerate(), w.getnframes()) == (16000, 5 * 320)
    for kind in (
        "protocol.capabilities",
        "session.started",
        "response.start",
        "response.end",
        "session.ended",
    ):
        assert f"<- {kind}" in out
    assert "[response r-1] audio 3200 bytes, 100 ms, -6.0 dBFS" in out


async def test_json_output_is_one_object_per_line(
    peer: tuple[ScriptedPeer, str], tmp_path: Path
) -> None:
    _p, url = peer
    code, out, err = await asp_debug(
        "connect", url, "--json", "--send", str(question(tmp_path / "q.wav", 8000))
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert all(isinstance(r["t"], float | int) for r in records)
    kinds = [r["message"]["type"] for r in records if "message" in r]
    assert kinds[:3] == ["protocol.capabilities", "session.start", "session.started"]
    assert kinds[-2:] == ["session.end", "session.ended"]
    assert records[2]["message"]["negotiated"]["audio"]["sample_rate"] == 8000


async def test_the_token_goes_as_a_header_or_in_the_query(tmp_path: Path) -> None:
    seen: list[tuple[str | None, str]] = []

    def check(_conn: ServerConnection, request: Request) -> Response | None:
        seen.append((request.headers.get("Authorization"), request.path))
        return None

    async def bye(ws: ServerConnection) -> None:
        await ws.close()

    port = free_port()
    async with serve(bye, "127.0.0.1", port, process_request=check):
        await asp_debug("connect", f"ws://127.0.0.1:{port}", "--token", "s3cr3t")
        await asp_debug(
            "connect", f"ws://127.0.0.1:{port}/asp", "--token", "s3cr3t", "--token-in-query"
        )
    assert seen == [("Bearer s3cr3t", "/"), (None, "/asp?token=s3cr3t")]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://127.0.0.1:8765", "expected ws://host:port"),
        ("ws://", "expected ws://host:port"),
        ("ws://127.0.0.1:99999", "bad URL"),
        ("127.0.0.1:8765", "expected ws://host:port"),
    ],
)
async def test_a_bad_url_is_a_usage_error(url: str, needle: str) -> None:
    code, _out, err = await asp_debug("connect", url)
    assert code == 2
    assert needle in err


async def test_a_closed_port_is_reported() -> None:
    code, _out, err = await asp_debug("connect", f"ws://127.0.0.1:{free_port()}")
    assert code == 3
    assert "cannot connect to 127.0.0.1" in err


async def test_a_refused_token_is_reported() -> None:
    def refuse(conn: ServerConnection, request: Request) -> Response:
        return conn.respond(401, "bad token\n")

    async def never(_ws: ServerConnection) -> None:
        raise AssertionError("the upgrade must be refused")

    port = free_port()
    async with serve(never, "127.0.0.1", port, process_request=refuse):
        code, _out, err = await asp_debug("connect", f"ws://127.0.0.1:{port}", "--token", "x")
        assert code == 3
        assert "HTTP 401: the token was refused" in err
        code, _out, err = await asp_debug("connect", f"ws://127.0.0.1:{port}", "--token", "")
        assert code == 3
        assert "HTTP 401: the server requires a token" in err


async def test_a_plain_http_server_is_not_asp() -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(http, "127.0.0.1", port)
    async with server:
        code, _out, err = await asp_debug("connect", f"ws://127.0.0.1:{port}")
    assert code == 3
    assert "HTTP 200 instead of a WebSocket upgrade" in err


@pytest.mark.parametrize(
    ("first", "needle"),
    [
        ("hello", "not JSON"),
        (b"\x01\x00\x00", "binary"),
        (json.dumps({"type": "session.started"}), "not protocol.capabilities"),
        (json.dumps({"type": "protocol.capabilities"}), "invalid protocol.capabilities"),
        (None, "before announcing its capabilities"),
    ],
)
async def test_a_websocket_server_that_is_not_asp(first: str | bytes | None, needle: str) -> None:
    async def handler(ws: ServerConnection) -> None:
        if first is None:
            await ws.close(1008, "go away")
            return
        await ws.send(first)
        await asyncio.sleep(10)

    port = free_port()
    async with serve(handler, "127.0.0.1", port):
        code, _out, err = await asp_debug("connect", f"ws://127.0.0.1:{port}", timeout=30)
    assert code == 3, err
    assert needle in err


async def test_a_rejected_session_exits_4() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps(CAPS))
        msg = json.loads(await ws.recv())
        await ws.send(
            json.dumps(
                {
                    "type": "session.started",
                    "session_id": msg["session_id"],
                    "status": "rejected",
                    "errors": [
                        {
                            "code": 2001,
                            "category": "audio",
                            "message": "sample_rate 24000 is not supported",
                            "recoverable": True,
                        }
                    ],
                }
            )
        )
        await asyncio.sleep(5)

    port = free_port()
    async with serve(handler, "127.0.0.1", port):
        code, out, err = await asp_debug(
            "connect", f"ws://127.0.0.1:{port}", "--sample-rate", "24000"
        )
    assert code == 4
    assert "session rejected: 2001 sample_rate 24000 is not supported" in err
    assert '"status":"rejected"' in out


async def test_a_bad_wav_is_refused_before_connecting(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_text("RIFF nonsense")
    port = free_port()  # nothing listens: the WAV is checked first
    code, _out, err = await asp_debug(
        "connect", f"ws://127.0.0.1:{port}", "--send", str(tmp_path / "bad.wav")
    )
    assert code == 2
    assert "not a WAV file" in err
    code, _out, err = await asp_debug(
        "connect",
        f"ws://127.0.0.1:{port}",
        "--send",
        str(question(tmp_path / "q.wav", 16000)),
        "--sample-rate",
        "8000",
    )
    assert code == 2
    assert "is 16000 Hz but --sample-rate is 8000" in err
