"""A minimal ASP media-server client (Python 3.11+, `pip install websockets`).

It does what a media server does for one call: announces its audio, streams the caller's
audio in real time (20 ms frames), receives the agent's audio and events, obeys call
actions, and ends the session. Here the caller is a WAV file (a question) and the
"loudspeaker" is another WAV file (the answer).

    ASP_GATEWAY_TOKEN=... python client.py ws://127.0.0.1:8765 pergunta.wav resposta.wav

The question must be mono 16-bit PCM at 8000 or 16000 Hz; the session uses its rate.
Exit status: 0 the agent answered; 1 anything else (the reason is printed).
See docs/ASP_INTEGRATION.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import uuid
import wave
from datetime import UTC, datetime

from websockets.asyncio.client import connect

FRAME_MS = 20
CALLER_HEADER = struct.Struct("<HIQ")  # type 0x0001, sequence, microseconds (14 bytes)
AGENT_HEADER_SIZE = 15  # type 0x0002, sequence, microseconds, flags


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log(*parts: object) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S.%f')[:-3]}]", *parts, flush=True)


class Call:
    def __init__(self, ws, session_id: str, rate: int) -> None:
        self.ws = ws
        self.session_id = session_id
        self.frame_bytes = rate * FRAME_MS // 1000 * 2
        self.outgoing: list[bytes] = []  # caller audio waiting to be sent
        self.playing: str | None = None  # the response being played
        self.asked = False
        self.answer = bytearray()  # the agent's audio after the question
        self.answered = asyncio.Event()
        self.quiet = asyncio.Event()  # no response playing
        self.quiet.set()
        self.ended = asyncio.Event()

    async def settle(self, quiet_s: float = 1.0) -> None:
        """Returns once no response has played for quiet_s seconds."""
        while True:
            await self.quiet.wait()
            await asyncio.sleep(quiet_s)
            if self.quiet.is_set():
                return

    async def send_json(self, msg: dict) -> None:
        msg.setdefault("timestamp", now())
        await self.ws.send(json.dumps(msg))
        log("->", msg["type"])

    async def stream_audio(self) -> None:
        """One frame every 20 ms, like a phone line: the question, else silence."""
        loop = asyncio.get_running_loop()
        silence = bytes(self.frame_bytes)
        seq, start = 0, loop.time()
        while not self.ended.is_set():
            pcm = self.outgoing.pop(0) if self.outgoing else silence
            header = CALLER_HEADER.pack(0x01, seq, seq * FRAME_MS * 1000)
            await self.ws.send(header + pcm)
            seq += 1
            await asyncio.sleep(max(0.0, start + seq * FRAME_MS / 1000 - loop.time()))

    async def receive(self) -> None:
        async for raw in self.ws:
            if isinstance(raw, bytes):  # agent audio: 15-byte header, then PCM
                if raw[:2] == b"\x02\x00" and self.asked and self.playing:
                    self.answer += raw[AGENT_HEADER_SIZE:]
                continue
            msg = json.loads(raw)
            kind = msg.get("type")
            log(
                "<-",
                kind,
                json.dumps({k: v for k, v in msg.items() if k != "type"}, ensure_ascii=False)[:160],
            )
            if kind == "response.start":
                self.playing = msg["response_id"]
                self.quiet.clear()
            elif kind == "response.end":
                # interrupted: true means barge-in; a real client drops what it still
                # has queued for the loudspeaker.
                self.playing = None
                self.quiet.set()
                if self.asked:
                    self.answered.set()
            elif kind == "call.action":
                # hangup: end the call; transfer: msg["target"]; dtmf: msg["digits"]
                if msg.get("action") == "hangup":
                    self.answered.set()
            elif kind == "session.ended":
                self.ended.set()
                return
            elif kind == "protocol.error":
                log("error", msg["error"]["code"], msg["error"]["message"])


async def main(url: str, question_path: str, answer_path: str) -> int:
    with wave.open(question_path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            print(f"{question_path}: must be mono 16-bit PCM", file=sys.stderr)
            return 1
        rate, question = w.getframerate(), w.readframes(w.getnframes())

    token = os.environ.get("ASP_GATEWAY_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with connect(url, additional_headers=headers) as ws:
        caps = json.loads(await ws.recv())
        if caps.get("type") != "protocol.capabilities":
            print(f"not an ASP server: {caps}", file=sys.stderr)
            return 1
        log("<- protocol.capabilities", caps["capabilities"]["supported_sample_rates"])

        session_id = str(uuid.uuid4())
        call = Call(ws, session_id, rate)
        await call.send_json(
            {
                "type": "session.start",
                "session_id": session_id,
                "audio": {
                    "sample_rate": rate,
                    "encoding": "pcm_s16le",
                    "channels": 1,
                    "frame_duration_ms": FRAME_MS,
                },
                "vad": {"silence_threshold_ms": 700},
                "metadata": {"caller_number": "1001", "language": "pt-BR"},
                "version": "1.1.0",
            }
        )
        started = json.loads(await ws.recv())
        log("<-", started["type"], started.get("status"))
        if started.get("status") not in ("accepted", "accepted_with_changes"):
            print(f"session rejected: {started.get('errors')}", file=sys.stderr)
            return 1

        receiver = asyncio.create_task(call.receive())
        streamer = asyncio.create_task(call.stream_audio())
        try:
            # Let the greeting play out (the agent speaks first), then ask.
            await asyncio.wait_for(call.settle(), 20)
            call.asked = True
            fb = call.frame_bytes
            call.outgoing = [
                question[i : i + fb].ljust(fb, b"\0") for i in range(0, len(question), fb)
            ]
            log("asking:", len(question) * 1000 // (2 * rate), "ms of audio")
            await asyncio.wait_for(call.answered.wait(), 30)
        except TimeoutError:
            print("no answer from the agent", file=sys.stderr)
            return 1
        finally:
            await call.send_json(
                {"type": "session.end", "session_id": session_id, "reason": "call_hangup"}
            )
            try:
                await asyncio.wait_for(call.ended.wait(), 5)
            except TimeoutError:
                log("no session.ended")
            call.ended.set()
            streamer.cancel()
            receiver.cancel()
            await asyncio.gather(streamer, receiver, return_exceptions=True)

    with wave.open(answer_path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(call.answer))
    log("answer:", len(call.answer) * 1000 // (2 * rate), "ms saved to", answer_path)
    return 0 if call.answer else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("usage: client.py ws://host:8765 question.wav answer.wav", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(*sys.argv[1:])))
