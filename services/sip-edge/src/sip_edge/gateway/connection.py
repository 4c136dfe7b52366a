"""One client connection: ASP messages in and out, binary audio routed to its sessions.

Every bad input gets a ``protocol.error`` with its ASP code and the connection goes on
(docs/ASP_SPECIFICATION.md sections 5 and 6); only a client that does not read (its send
queue full), a handshake that never comes and the process's own limits close it.
The sessions' bookkeeping (start, update, end, their errors) is libs/asp's
:class:`~asp.SessionTable`; each accepted session is a :class:`WsCallSession`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from asp import ASPError, ErrorCode, SessionTable
from asp.codec import encode_json
from asp.messages import (
    AudioEnd,
    CallDtmf,
    Message,
    ProtocolCapabilities,
    ProtocolErrorMessage,
    SessionEnd,
    SessionStart,
    SessionStatus,
    SessionUpdate,
    parse_message,
)
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ..call import SpeechClassifier
from .framing import Framing, parse_caller_audio, seed_hash, unknown_seed_session
from .session import WsCallSession

__all__ = ["Connection", "normalize_start"]

log = logging.getLogger(__name__)

PLAYBACK_MODES = ("paced", "fast")
ABORT_AFTER_S = 6.0
"""A connection being closed is dropped after this long (above the close timeout)."""
_AUDIO_CONFIG_KEYS = ("sample_rate", "encoding", "channels", "frame_duration_ms")

NewSession = Callable[..., WsCallSession]


def _bad(field: str, message: str) -> ASPError:
    return ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"{field}: {message}", {"field": field})


def normalize_start(data: dict[str, Any]) -> tuple[dict[str, Any], Framing, bool, bool]:
    """The seed's older ``session.start`` (``audio_config``) in the ASP shape (``audio``),
    and the gateway's extensions: the framing (``framing``; by default ``seed`` with
    ``audio_config``, ``asp`` otherwise), whether the client named it, and fast playback
    (``playback: "fast"``)."""
    out = dict(data)
    legacy = out.pop("audio_config", None)
    framing_default = Framing.ASP
    if out.get("audio") is None and legacy is not None:
        if not isinstance(legacy, dict):
            raise _bad("session.start.audio_config", "expected an object")
        audio = {k: legacy[k] for k in _AUDIO_CONFIG_KEYS if k in legacy}
        width = legacy.get("sample_width")
        if width is not None and "encoding" not in audio:
            if type(width) is not int:
                raise _bad("session.start.audio_config.sample_width", "expected an integer")
            if width != 2:  # 16-bit PCM is the only width of the seed's frames
                audio["encoding"] = f"pcm_{8 * width}bit"
        out["audio"] = audio
        framing_default = Framing.SEED
    framing_raw = out.pop("framing", None)
    if framing_raw is None:
        framing = framing_default
    elif framing_raw in (Framing.ASP.value, Framing.SEED.value):
        framing = Framing(framing_raw)
    else:
        raise _bad("session.start.framing", "expected 'asp' or 'seed'")
    playback = out.pop("playback", None)
    if playback is not None and playback not in PLAYBACK_MODES:
        raise _bad("session.start.playback", "expected 'paced' or 'fast'")
    return out, framing, framing_raw is not None, playback == "fast"


def _minor_at_least_1(version: str | None) -> bool:
    """True for a client that speaks ASP 1.1 or later (it may receive 1.1 events)."""
    if not version:
        return False
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0) >= (1, 1)
    except ValueError:
        return False


class Connection:
    def __init__(
        self,
        ws: ServerConnection,
        capabilities: ProtocolCapabilities,
        new_session: NewSession,
        on_error: Callable[[int], None],
        make_classifier: Callable[[int, float], SpeechClassifier],
        *,
        max_sessions: int,
        starts_per_minute: int,
        max_message_bytes: int,
        send_queue: int,
        handshake_timeout_s: float,
    ) -> None:
        self.ws = ws
        self.table = SessionTable(capabilities, max_sessions=max_sessions)
        self.capabilities = capabilities
        self.sessions: dict[str, WsCallSession] = {}
        self.hashes: dict[bytes, str] = {}
        self._new_session = new_session
        self._make_classifier = make_classifier
        self._on_error = on_error
        self._starts: deque[float] = deque()
        self.starts_per_minute = starts_per_minute
        self.max_message_bytes = max_message_bytes
        self.handshake_timeout_s = handshake_timeout_s
        self._queue: asyncio.Queue[str | bytes] = asyncio.Queue(send_queue)
        self._closing: str | None = None
        self._started_any = False
        self.remote = str(ws.remote_address[0]) if ws.remote_address else "?"

    # --- sending -------------------------------------------------------------------------

    def send(self, item: Message | bytes) -> None:
        """Queues a message or an audio frame; a full queue closes the connection."""
        if self._closing is not None:
            return
        data: str | bytes = item if isinstance(item, bytes) else encode_json(item)
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            self.close_soon(1008, "send queue full: the client does not read")

    def error(self, exc: ASPError, session_id: str | None = None) -> None:
        self._on_error(exc.error.code)
        log.info("protocol.error %s to %s: %s", exc.error.code, self.remote, exc.error.message)
        sid = session_id if session_id in self.sessions or session_id in self.table else None
        self.send(ProtocolErrorMessage.from_exception(exc, sid))

    @property
    def closed_for_not_reading(self) -> bool:
        return self._closing is not None and self._closing.startswith("send queue full")

    def close_soon(self, code: int, reason: str) -> None:
        if self._closing is not None:
            return
        self._closing = reason
        log.warning("closing the connection of %s: %s", self.remote, reason)
        task = asyncio.ensure_future(self.ws.close(code, reason))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)
        # a peer that reads nothing never takes the close frame either: drop it for sure
        asyncio.get_running_loop().call_later(ABORT_AFTER_S, self.ws.transport.abort)

    async def _writer(self) -> None:
        while True:
            data = await self._queue.get()
            await self.ws.send(data)

    # --- the connection's life --------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer(), name=f"ws-writer-{self.remote}")
        handshake = asyncio.get_running_loop().call_later(
            self.handshake_timeout_s, self._handshake_timeout
        )
        try:
            self.send(self.capabilities)
            async for data in self.ws:
                if self._closing is not None:
                    break
                try:
                    if isinstance(data, bytes):
                        self._binary(data)
                    else:
                        await self._text(data)
                except ASPError as e:
                    self.error(e)
                if self._started_any:
                    handshake.cancel()
        except ConnectionClosed:
            pass
        finally:
            handshake.cancel()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await writer
            self.disconnected()

    def _handshake_timeout(self) -> None:
        if self._started_any:
            return
        self.error(
            ASPError(
                ErrorCode.HANDSHAKE_TIMEOUT,
                f"no session.start within {self.handshake_timeout_s:g} s",
            )
        )
        self.close_soon(1008, "handshake timeout")

    def disconnected(self) -> None:
        """The client is gone: its sessions end and the work on them is cancelled."""
        for session in list(self.sessions.values()):
            session.cancel_unfinished("client_disconnected")
            session.on_ended("client disconnected", asp_reason="client_disconnected")
        self.sessions.clear()
        self.hashes.clear()

    # --- text ---------------------------------------------------------------------------------

    async def _text(self, text: str) -> None:
        if len(text) > self.max_message_bytes:
            raise ASPError(
                ErrorCode.INVALID_MESSAGE_FORMAT,
                f"message of {len(text)} characters exceeds the limit of {self.max_message_bytes}",
                {"limit": self.max_message_bytes},
            )
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, f"invalid JSON: {e}") from e
        if not isinstance(data, dict):
            raise ASPError(ErrorCode.INVALID_MESSAGE_FORMAT, "a message must be a JSON object")
        kind = data.get("type")
        sid = data.get("session_id") if isinstance(data.get("session_id"), str) else None
        try:
            if kind == "session.start":
                await self._start(data)
                return
            msg = parse_message(data, base64_bytes=True)
            if isinstance(msg, SessionUpdate):
                self._update(msg)
            elif isinstance(msg, SessionEnd):
                self._end(msg)
            elif isinstance(msg, AudioEnd):
                self._live(msg.session_id).client_turn_end()
            elif isinstance(msg, CallDtmf):
                self._live(msg.session_id).on_dtmf(msg.digit)
            else:
                raise ASPError(
                    ErrorCode.INVALID_MESSAGE_TYPE,
                    f"{msg.TYPE} is not a message a client sends",
                    {"type": msg.TYPE},
                )
        except ASPError as e:
            self.error(e, sid)

    def _live(self, session_id: str) -> WsCallSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise ASPError(
                ErrorCode.SESSION_NOT_FOUND, "no such session", {"session_id": session_id}
            )
        return session

    async def _start(self, data: dict[str, Any]) -> None:
        normalized, framing, explicit, fast = normalize_start(data)
        request = parse_message(normalized, base64_bytes=True)
        assert isinstance(request, SessionStart)
        now = time.monotonic()
        while self._starts and now - self._starts[0] > 60:
            self._starts.popleft()
        if len(self._starts) >= self.starts_per_minute:
            raise ASPError(
                ErrorCode.SESSION_LIMIT_REACHED,
                f"at most {self.starts_per_minute} session.start per minute on a connection",
            )
        self._starts.append(now)
        answer = self.table.start(request)  # 1005 for a live session, 4003 over the limit
        if answer.status == SessionStatus.REJECTED:
            self.send(answer)
            return
        negotiated = answer.negotiated
        assert negotiated is not None
        session = self._new_session(
            request.session_id,
            request.call_id,
            self.remote,
            send=self.send,
            framing=framing,
            framing_confirmed=explicit,
            fast=fast,
            client_frame_ms=negotiated.audio.frame_duration_ms,
            events_11=_minor_at_least_1(request.version),
            encoding=negotiated.audio.encoding,
        )
        self.sessions[request.session_id] = session
        self.hashes[seed_hash(request.session_id)] = request.session_id
        self._started_any = True
        self.send(answer)  # session.started goes out before any of the agent's audio
        metadata = dict(request.metadata or {})
        metadata["transport"] = "asp-websocket"
        if request.version:
            metadata["client_version"] = request.version
        # Building the VAD (ONNX) takes a while: off the loop, so other sessions go on; this
        # connection's next frames wait in the socket meanwhile.
        classifier = await asyncio.to_thread(
            self._make_classifier, negotiated.audio.sample_rate, negotiated.vad.threshold
        )
        if request.session_id not in self.sessions:  # gone meanwhile (disconnect)
            return
        session.start(negotiated.audio.sample_rate, negotiated.vad, metadata, classifier)

    def _update(self, request: SessionUpdate) -> None:
        answer = self.table.update(request)
        session = self.sessions.get(request.session_id)
        if session is not None and answer.negotiated is not None:
            session.apply_update(answer)
        self.send(answer)

    def _end(self, request: SessionEnd) -> None:
        session = self.sessions.pop(request.session_id, None)
        self.table.end(request)  # 4001 when there is no such session
        if session is None:
            return
        self.hashes.pop(seed_hash(request.session_id), None)
        ended = session.ended_message()
        session.cancel_unfinished("session_ended")
        session.on_ended("client session.end", asp_reason=request.reason or "call_hangup")
        self.send(ended)

    # --- binary -------------------------------------------------------------------------------

    def _binary(self, data: bytes) -> None:
        if len(data) > self.max_message_bytes:
            raise ASPError(
                ErrorCode.INVALID_MESSAGE_FORMAT,
                f"binary frame of {len(data)} bytes exceeds the limit of {self.max_message_bytes}",
                {"limit": self.max_message_bytes},
            )
        if not self.sessions:
            raise ASPError(ErrorCode.INVALID_MESSAGE_TYPE, "audio before session.start")
        try:
            audio = parse_caller_audio(data, self.hashes)
        except ASPError:
            if unknown_seed_session(data):
                raise self._unknown_session() from None
            raise
        if audio.session_hash is not None:
            session = self.sessions[self.hashes[audio.session_hash]]
            session.framing = Framing.SEED
        else:
            # An ASP frame names no session: it is the connection's only one, unless that
            # one speaks seed framing for sure (then this is a frame of an unknown session).
            session = next(iter(self.sessions.values()))
            if len(self.sessions) > 1 or (
                session.framing is Framing.SEED and session.framing_confirmed
            ):
                raise self._unknown_session()
            session.framing = Framing.ASP
        session.framing_confirmed = True
        if session.g711 is None and len(audio.payload) % 2:
            raise ASPError(
                ErrorCode.AUDIO_PROCESSING_ERROR,
                "PCM16 audio must be a whole number of 2-byte samples",
                {"bytes": len(audio.payload)},
            )
        session.feed(audio.payload)

    def _unknown_session(self) -> ASPError:
        return ASPError(
            ErrorCode.SESSION_NOT_FOUND,
            "binary frame for no live session of this connection (seed framing: unknown "
            "session hash; ASP framing: several sessions, so the frame names none)",
        )


_PENDING: set[asyncio.Future[Any]] = set()
"""Close handshakes in progress (kept referenced until they end)."""
