"""``asp-debug connect``: one ASP session over WebSocket, printed as it happens.

Capabilities -> session.start (the command line's configuration) -> session.started; then
the client streams 20 ms frames in real time like a media server (silence, and the
question's WAV when given), waits for the greeting to end, asks, waits for the answer's
``response.end``, ends the session and prints ``session.ended``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asp import ASPError, parse_message
from asp.messages import now_iso
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from .audio import Wav, WavError, frames_of, read_wav, write_wav
from .errors import (
    EXIT_CONNECTION,
    EXIT_NO_ANSWER,
    EXIT_REJECTED,
    EXIT_USAGE,
    DebugError,
)
from .framing import CallerFramer, FrameError, Framing, decode_agent_frame
from .render import Printer, audio_summary

FRAME_MS = 20
OPEN_TIMEOUT_S = 5.0
FIRST_MESSAGE_TIMEOUT_S = 5.0
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class ConnectOptions:
    url: str
    token: str | None = None
    token_in_query: bool = False
    sample_rate: int | None = None
    vad_silence_ms: int | None = None
    framing: Framing = Framing.SPEC
    send: Path | None = None
    save: Path | None = None
    as_json: bool = False
    every_frame: bool = False
    fast_playback: bool = False
    answer_timeout_s: float = 30.0
    settle_timeout_s: float = 15.0
    version: str = "1.1.0"


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise DebugError(
            f"bad URL {url!r}: expected ws://host:port or wss://host:port (e.g. ws://127.0.0.1:8765)",
            EXIT_USAGE,
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise DebugError(f"bad URL {url!r}: {e}", EXIT_USAGE) from e
    return url


def with_token(url: str, token: str) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}token={token}"


@dataclass(slots=True)
class Response:
    response_id: str
    after_question: bool
    pcm: bytearray = field(default_factory=bytearray)
    frames: int = 0
    ended: bool = False
    interrupted: bool = False


class Session:
    """What the reader learned so far; the sender decides when to ask and when to stop."""

    def __init__(self, printer: Printer, sample_rate: int, every_frame: bool) -> None:
        self.printer = printer
        self.sample_rate = sample_rate
        self.every_frame = every_frame
        self.responses: dict[str, Response] = {}
        self.current: Response | None = None
        self.asked = False
        self.idle_since: float | None = asyncio.get_running_loop().time()
        self.changed = asyncio.Event()
        self.ended = asyncio.Event()
        self.ended_message: dict[str, Any] | None = None
        self.frames_received = 0
        self.unattributed = bytearray()

    def _touch(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def on_text(self, raw: str) -> None:
        try:
            obj = json.loads(raw)
        except ValueError:
            self.printer.note(f"server sent text that is not JSON: {raw[:120]!r}", level="warning")
            return
        if not isinstance(obj, dict):
            self.printer.note("server sent JSON that is not an object", level="warning")
            return
        self.printer.message("in", obj)
        try:
            parse_message(obj, base64_bytes=True)
        except ASPError as e:
            self.printer.note(f"not a valid ASP message ({e.code.value}): {e}", level="warning")
        kind = obj.get("type")
        rid = obj.get("response_id")
        if kind == "response.start" and isinstance(rid, str):
            self.current = self.responses[rid] = Response(rid, self.asked)
            self.idle_since = None
        elif kind == "response.end" and isinstance(rid, str):
            r = self.responses.setdefault(rid, Response(rid, self.asked))
            r.ended, r.interrupted = True, bool(obj.get("interrupted"))
            if r.frames:
                self.printer.audio(
                    "in",
                    {"frames": r.frames, **audio_summary(bytes(r.pcm), self.sample_rate)},
                    what=f"response {rid}",
                )
            if self.current is r:
                self.current = None
            self.idle_since = asyncio.get_running_loop().time()
        elif kind == "response.audio" and isinstance(obj.get("audio"), str):
            try:
                pcm = base64.b64decode(obj["audio"], validate=True)
            except (binascii.Error, ValueError):
                return
            self._add_audio(pcm, rid if isinstance(rid, str) else None, "json")
        elif kind == "session.ended":
            self.ended_message = obj
            self.ended.set()
        self._touch()

    def on_binary(self, data: bytes) -> None:
        try:
            frame = decode_agent_frame(data)
        except FrameError as e:
            self.printer.note(str(e), level="warning")
            return
        self._add_audio(frame.payload, None, frame.framing.value)
        self._touch()

    def _add_audio(self, pcm: bytes, response_id: str | None, framing: str) -> None:
        self.frames_received += 1
        target = self.responses.get(response_id) if response_id else self.current
        if target is None:
            self.unattributed += pcm
        else:
            target.pcm += pcm
            target.frames += 1
        first = target is not None and target.frames == 1
        if self.every_frame or first:
            what = f"{framing} frame" + (f" of {target.response_id}" if target else "")
            self.printer.audio("in", audio_summary(pcm, self.sample_rate), what=what)

    def answer(self) -> list[Response]:
        return [r for r in self.responses.values() if r.after_question]

    def answered(self) -> bool:
        return any(r.ended for r in self.answer())

    def settled(self, quiet_s: float) -> bool:
        loop_now = asyncio.get_running_loop().time()
        return self.idle_since is not None and loop_now - self.idle_since >= quiet_s


async def _open(options: ConnectOptions) -> ClientConnection:
    url = options.url
    headers: dict[str, str] = {}
    if options.token:
        if options.token_in_query:
            url = with_token(url, options.token)
        else:
            headers["Authorization"] = f"Bearer {options.token}"
    where = urlsplit(options.url).netloc
    try:
        return await connect(
            url,
            additional_headers=headers,
            open_timeout=OPEN_TIMEOUT_S,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
        )
    except InvalidStatus as e:
        status = e.response.status_code
        if status in (401, 403):
            hint = "the token was refused" if options.token else "the server requires a token"
            raise DebugError(
                f"{where} answered HTTP {status}: {hint} (--token or ASP_GATEWAY_TOKEN)",
                EXIT_CONNECTION,
            ) from e
        raise DebugError(
            f"{where} answered HTTP {status} instead of a WebSocket upgrade: not an ASP endpoint",
            EXIT_CONNECTION,
        ) from e
    except InvalidURI as e:
        raise DebugError(f"bad URL {options.url!r}: {e}", EXIT_USAGE) from e
    except InvalidHandshake as e:
        raise DebugError(
            f"{where} is not a WebSocket server (handshake failed: {e})", EXIT_CONNECTION
        ) from e
    except TimeoutError as e:
        raise DebugError(
            f"{where} did not complete the WebSocket handshake in time", EXIT_CONNECTION
        ) from e
    except OSError as e:
        raise DebugError(f"cannot connect to {where}: {e.strerror or e}", EXIT_CONNECTION) from e


def _closed(e: ConnectionClosed, when: str) -> DebugError:
    rcvd = e.rcvd
    why = f"code {rcvd.code}, reason {rcvd.reason!r}" if rcvd else "without a close frame"
    return DebugError(f"the server closed the connection {when} ({why})", EXIT_CONNECTION)


async def _capabilities(ws: ClientConnection, printer: Printer) -> dict[str, Any]:
    try:
        raw = await asyncio.wait_for(ws.recv(), FIRST_MESSAGE_TIMEOUT_S)
    except TimeoutError as e:
        raise DebugError(
            f"no protocol.capabilities within {FIRST_MESSAGE_TIMEOUT_S:.0f} s: not an ASP server",
            EXIT_CONNECTION,
        ) from e
    except ConnectionClosed as e:
        raise _closed(e, "before announcing its capabilities") from e
    if isinstance(raw, bytes):
        raise DebugError(
            "the first message was binary, not protocol.capabilities: not an ASP server",
            EXIT_CONNECTION,
        )
    try:
        obj = json.loads(raw)
    except ValueError as e:
        raise DebugError(
            f"the first message is not JSON ({raw[:80]!r}): not an ASP server", EXIT_CONNECTION
        ) from e
    if not isinstance(obj, dict):
        raise DebugError(
            "the first message is not a JSON object: not an ASP server", EXIT_CONNECTION
        )
    printer.message("in", obj)
    if obj.get("type") == "protocol.error":
        err = obj.get("error") or {}
        raise DebugError(
            f"the server refused the connection: {err.get('code')} {err.get('message')}",
            EXIT_CONNECTION,
        )
    if obj.get("type") != "protocol.capabilities":
        raise DebugError(
            f"the first message is {obj.get('type')!r}, not protocol.capabilities: "
            "not an ASP server",
            EXIT_CONNECTION,
        )
    try:
        parse_message(obj)
    except ASPError as e:
        raise DebugError(
            f"invalid protocol.capabilities ({e.code.value}): {e}", EXIT_CONNECTION
        ) from e
    return obj


def session_start(session_id: str, options: ConnectOptions, sample_rate: int) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "session.start",
        "session_id": session_id,
        "audio": {
            "sample_rate": sample_rate,
            "encoding": "pcm_s16le",
            "channels": 1,
            "frame_duration_ms": FRAME_MS,
        },
        "metadata": {"client": "asp-debug"},
        "version": options.version,
        # gateway extensions (ignored by other ASP servers): binary framing, playback pacing
        "framing": "seed" if options.framing is Framing.SEED else "asp",
        "playback": "fast" if options.fast_playback else "paced",
        "timestamp": now_iso(),
    }
    if options.vad_silence_ms is not None:
        msg["vad"] = {"silence_threshold_ms": options.vad_silence_ms}
    return msg


async def _negotiate(
    ws: ClientConnection, printer: Printer, start: dict[str, Any]
) -> dict[str, Any]:
    await ws.send(json.dumps(start))
    printer.message("out", start)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_MESSAGE_TIMEOUT_S
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), max(0.0, deadline - loop.time()))
        except TimeoutError as e:
            raise DebugError("no session.started within 5 s", EXIT_CONNECTION) from e
        except ConnectionClosed as e:
            raise _closed(e, "after session.start") from e
        if isinstance(raw, bytes):
            printer.note(f"binary frame of {len(raw)} bytes before session.started")
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            printer.note(f"server sent text that is not JSON: {raw[:120]!r}", level="warning")
            continue
        if not isinstance(obj, dict):
            printer.note("server sent JSON that is not an object", level="warning")
            continue
        printer.message("in", obj)
        if obj.get("type") == "protocol.error":
            err = obj.get("error") or {}
            raise DebugError(
                f"session.start refused: {err.get('code')} {err.get('message')}", EXIT_REJECTED
            )
        if obj.get("type") != "session.started":
            continue
        if obj.get("status") == "rejected":
            errors = "; ".join(
                f"{e.get('code')} {e.get('message')}" for e in obj.get("errors") or []
            )
            raise DebugError(f"session rejected: {errors}", EXIT_REJECTED)
        for adj in (obj.get("negotiated") or {}).get("adjustments") or []:
            printer.note(
                f"adjusted {adj.get('field')}: {adj.get('requested')} -> {adj.get('applied')}"
                f" ({adj.get('reason')})"
            )
        return obj


async def _pump(
    ws: ClientConnection,
    framer: CallerFramer,
    queue: deque[bytes],
    frame_bytes: int,
    stop: asyncio.Event,
) -> None:
    """Sends one 20 ms frame per 20 ms, like a media server: queued audio, else silence."""
    loop = asyncio.get_running_loop()
    silence = b"\x00" * frame_bytes
    start = next_t = loop.time()
    while not stop.is_set():
        pcm = queue.popleft() if queue else silence
        await ws.send(framer.frame(pcm, int((next_t - start) * 1_000_000)))
        next_t += FRAME_MS / 1000
        await asyncio.sleep(max(0.0, next_t - loop.time()))


async def _read(ws: ClientConnection, session: Session) -> None:
    async for raw in ws:
        if isinstance(raw, bytes):
            session.on_binary(raw)
        else:
            session.on_text(raw)


async def _until(
    session: Session,
    check: Callable[[], bool],
    limit_s: float,
    reader: asyncio.Task[None],
    ws: ClientConnection,
) -> bool:
    """Waits until ``check()`` holds; False after ``limit_s``; DebugError when the server
    closed the connection first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not check():
        if reader.done():
            exc = reader.exception()
            if isinstance(exc, ConnectionClosed):
                raise _closed(exc, "during the session")
            if exc is not None:
                raise exc
            raise DebugError(
                "the server closed the connection during the session "
                f"(code {ws.close_code}, reason {ws.close_reason!r})",
                EXIT_CONNECTION,
            )
        left = deadline - loop.time()
        if left <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.changed.wait(), min(left, 0.1))
    return True


def load_question(options: ConnectOptions) -> Wav | None:
    if options.send is None:
        return None
    try:
        wav = read_wav(options.send)
    except WavError as e:
        raise DebugError(str(e), EXIT_USAGE) from e
    if options.sample_rate is not None and wav.sample_rate != options.sample_rate:
        raise DebugError(
            f"{options.send} is {wav.sample_rate} Hz but --sample-rate is {options.sample_rate}; "
            f"convert it (sox {options.send} -r {options.sample_rate} -c 1 -b 16 out.wav)",
            EXIT_USAGE,
        )
    if wav.sample_rate not in (8000, 16000, 24000, 48000):
        raise DebugError(
            f"{options.send} is {wav.sample_rate} Hz; ASP takes 8000, 16000, 24000 or 48000",
            EXIT_USAGE,
        )
    return wav


async def run_connect(options: ConnectOptions, printer: Printer) -> int:
    check_url(options.url)
    question = load_question(options)
    sample_rate = options.sample_rate or (question.sample_rate if question else 8000)
    ws = await _open(options)
    try:
        return await _session(ws, options, printer, question, sample_rate)
    except ConnectionClosed as e:
        raise _closed(e, "during the session") from e
    finally:
        await ws.close()


async def _session(
    ws: ClientConnection,
    options: ConnectOptions,
    printer: Printer,
    question: Wav | None,
    sample_rate: int,
) -> int:
    await _capabilities(ws, printer)
    session_id = str(uuid.uuid4())
    started = await _negotiate(ws, printer, session_start(session_id, options, sample_rate))
    audio = (started.get("negotiated") or {}).get("audio") or {}
    rate = int(audio.get("sample_rate") or sample_rate)
    frame_ms = int(audio.get("frame_duration_ms") or FRAME_MS)
    frame_bytes = rate * frame_ms // 1000 * 2
    session = Session(printer, rate, options.every_frame)
    reader = asyncio.create_task(_read(ws, session))
    queue: deque[bytes] = deque()
    stop = asyncio.Event()
    pump = asyncio.create_task(
        _pump(ws, CallerFramer(options.framing, session_id), queue, frame_bytes, stop)
    )
    try:
        # The greeting (if any) plays first: ask once the agent has been quiet for 1 s.
        settled = await _until(
            session, lambda: session.settled(1.0), options.settle_timeout_s, reader, ws
        )
        if not settled:
            printer.note("the agent kept talking; asking anyway", level="warning")
        code = 0
        if question is not None:
            session.asked = True
            queue.extend(frames_of(question.pcm, frame_bytes))
            printer.audio("out", audio_summary(question.pcm, rate), what=f"question {options.send}")
            if not await _until(session, session.answered, options.answer_timeout_s, reader, ws):
                printer.note(f"no answer within {options.answer_timeout_s:.0f} s", level="error")
                code = EXIT_NO_ANSWER
        code = _save(options, session, rate, printer) or code
        stop.set()
        await pump
        end = {
            "type": "session.end",
            "session_id": session_id,
            "reason": "client_done",
            "timestamp": now_iso(),
        }
        await ws.send(json.dumps(end))
        printer.message("out", end)
        try:
            if not await _until(session, session.ended.is_set, 5.0, reader, ws):
                printer.note("no session.ended within 5 s", level="warning")
        except DebugError as e:  # the session is over anyway: a close now is only worth a note
            printer.note(f"no session.ended: {e}", level="warning")
        return code
    finally:
        stop.set()
        for task in (pump, reader):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await task


def _save(options: ConnectOptions, session: Session, rate: int, printer: Printer) -> int:
    answer = session.answer() if session.asked else list(session.responses.values())
    pcm = b"".join(bytes(r.pcm) for r in answer)
    if not session.asked:
        pcm += bytes(session.unattributed)
    if session.asked and session.answered() and not pcm:
        printer.note("the answer ended without audio", level="error")
        return EXIT_NO_ANSWER
    if options.save is not None:
        if not pcm:
            printer.note(f"no agent audio to save in {options.save}", level="error")
            return EXIT_NO_ANSWER
        write_wav(options.save, rate, pcm)
        printer.note(
            f"saved {len(pcm) * 1000 // (2 * rate)} ms of agent audio to {options.save}",
            saved=str(options.save),
        )
    return 0
