"""The asp-gateway process: a WebSocket server on 8765 whose sessions are the edge's calls.

- ``process_request``: the path (``/`` or ``/asp``) and the token (``Authorization: Bearer``
  or ``?token=``) are checked before the upgrade (HTTP 404 / 401);
- per connection, :class:`~sip_edge.gateway.connection.Connection`;
- one clock for every session: every 20 ms each session's pacer gives its next frame
  (:meth:`WsCallSession.tick`);
- metrics, /live and /ready on their own port (:class:`pipeline.http.ThreadedServer`, as the edge);
- SIGTERM: no new connections, live sessions get the edge's drain grace, then end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import http
import logging
import signal
import ssl
import time
import urllib.parse
from typing import Any

from asp import ASPError, ErrorCode, default_capabilities
from asp.audio import Encoding
from asp.codec import encode_json
from asp.messages import Capabilities, ProtocolCapabilities, ProtocolErrorMessage
from pipeline.bus import Bus
from pipeline.health import Health
from pipeline.http import ThreadedServer
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..calls import wait_sessions_closed
from ..metrics import Metrics
from ..vad import make_classifier
from .connection import Connection
from .metrics import GatewayMetrics
from .session import ClientHandle, WsCallSession, call_info
from .settings import GatewaySettings

__all__ = ["GatewayApp", "gateway_capabilities"]

log = logging.getLogger(__name__)

PATHS = frozenset({"/", "/asp"})
TICK_S = 0.02
SAMPLE_RATES = (8000, 16000)
"""What the pipeline (STT, TTS) works in."""


def gateway_capabilities(server_id: str) -> ProtocolCapabilities:
    """libs/asp's capabilities, narrowed to the rates the pipeline speaks (8 and 16 kHz);
    G.711 (mulaw, alaw) is converted to and from PCM16 at the gateway."""
    base = default_capabilities(server_id)
    caps = base.capabilities
    return ProtocolCapabilities(
        version=base.version,
        server_id=server_id,
        capabilities=Capabilities(
            version=caps.version,
            supported_sample_rates=SAMPLE_RATES,
            supported_encodings=tuple(e.value for e in Encoding),
            vad_configurable=caps.vad_configurable,
            supported_frame_durations=caps.supported_frame_durations,
            vad_parameters=caps.vad_parameters,
            max_session_duration_seconds=caps.max_session_duration_seconds,
            features=caps.features,
        ),
        timestamp=base.timestamp,
    )


def presented_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` or of the ``token`` query parameter."""
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    query = urllib.parse.urlsplit(request.path).query
    values = urllib.parse.parse_qs(query).get("token")
    return values[0] if values else None


class GatewayApp:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.edge_metrics = Metrics()
        self.metrics = GatewayMetrics(self.edge_metrics.registry)
        self.bus = Bus.connect(settings.edge.redis_options)
        self.health = Health(self.bus)
        self.health.add_check("serving", self._serving)
        self.capabilities = gateway_capabilities(settings.server_id)
        self.connections: set[Connection] = set()
        self.per_address: collections.Counter[str] = collections.Counter()
        self.sessions: dict[str, WsCallSession] = {}
        self.metrics_server: ThreadedServer | None = None
        self.server: Server | None = None
        self.port = settings.port
        self._stop = asyncio.Event()
        self._draining = False

    # --- sessions ------------------------------------------------------------------------

    def _new_session(
        self, session_id: str, call_id: str | None, remote: str, **kwargs: Any
    ) -> WsCallSession:
        session = WsCallSession(
            call_info(session_id, call_id, remote),
            ClientHandle(session_id, kwargs["send"]),
            self.settings.edge,
            self.edge_metrics,
            self.bus,
            self._session_done,
            session_id=session_id,
            **kwargs,
        )
        self.sessions[session_id] = session
        self.metrics.sessions.set(len(self.sessions))
        self.metrics.sessions_started.inc()
        self.edge_metrics.active_calls.set(len(self.sessions))
        return session

    def _session_done(self, session: Any) -> None:
        self.sessions.pop(session.session_id, None)
        self.metrics.sessions.set(len(self.sessions))
        self.edge_metrics.active_calls.set(len(self.sessions))

    async def _clock(self) -> None:
        """Every session's pacer, one frame per 20 ms (frames missed by a late loop are
        caught up, at most 5 at once)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            now = loop.time()
            due = min(5, max(1, int((now - next_at) / TICK_S) + 1))
            next_at = max(next_at + due * TICK_S, now - TICK_S)
            for session in list(self.sessions.values()):
                for _ in range(due):
                    try:
                        session.tick()
                    except Exception:
                        log.exception("playback tick failed for session %s", session.session_id)
                        break
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    # --- connections ---------------------------------------------------------------------

    def _serving(self) -> bool:
        return self.server is not None and not self._draining

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urllib.parse.urlsplit(request.path).path
        if path not in PATHS:
            self.metrics.connection_attempts.labels("not_found").inc()
            return connection.respond(http.HTTPStatus.NOT_FOUND, "ASP: connect to / or /asp\n")
        if self.settings.auth == "token":
            token = presented_token(request)
            if token is None or not hmac.compare_digest(
                token.encode(), self.settings.token.encode()
            ):
                self.metrics.connection_attempts.labels("unauthorized").inc()
                log.warning("refused a client of %s: no valid token", _address(connection))
                response = connection.respond(
                    http.HTTPStatus.UNAUTHORIZED,
                    "ASP: a valid token is required (Authorization: Bearer <token> or ?token=)\n",
                )
                response.headers["WWW-Authenticate"] = 'Bearer realm="asp"'
                return response
        if self._draining:
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "ASP: shutting down\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        s = self.settings
        conn = Connection(
            ws,
            self.capabilities,
            self._new_session,
            lambda code: self.metrics.errors.labels(str(code)).inc(),
            lambda rate, threshold: make_classifier(s.edge.vad, rate, threshold),
            max_sessions=s.max_sessions_per_connection,
            starts_per_minute=s.session_starts_per_minute,
            max_message_bytes=s.max_message_bytes,
            send_queue=s.send_queue,
            handshake_timeout_s=s.handshake_timeout_s,
        )
        address = conn.remote
        if (
            len(self.connections) >= s.max_connections
            or self.per_address[address] >= s.max_connections_per_address
        ):
            self.metrics.connection_attempts.labels("limited").inc()
            self.metrics.errors.labels(str(ErrorCode.SESSION_LIMIT_REACHED.value)).inc()
            limit = (
                f"at most {s.max_connections_per_address} connections from one address"
                if self.per_address[address] >= s.max_connections_per_address
                else f"at most {s.max_connections} connections"
            )
            log.warning("refused a connection of %s: %s", address, limit)
            error = ASPError(ErrorCode.SESSION_LIMIT_REACHED, limit)
            with contextlib.suppress(ConnectionClosed):
                await ws.send(encode_json(ProtocolErrorMessage.from_exception(error)))
                await ws.close(1013, "connection limit reached")
            return
        self.metrics.connection_attempts.labels("accepted").inc()
        self.connections.add(conn)
        self.per_address[address] += 1
        self.metrics.connections.set(len(self.connections))
        try:
            await conn.run()
        finally:
            if conn.closed_for_not_reading:
                self.metrics.slow_clients.inc()
            self.connections.discard(conn)
            self.per_address[address] -= 1
            if self.per_address[address] <= 0:
                del self.per_address[address]
            self.metrics.connections.set(len(self.connections))

    # --- the process -----------------------------------------------------------------------

    def _ssl(self) -> ssl.SSLContext | None:
        s = self.settings
        if not s.tls_cert:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(s.tls_cert, s.tls_key)
        return ctx

    async def start(self) -> None:
        s = self.settings
        # the VAD's first load (imports, ONNX) before the first client waits for it
        await asyncio.to_thread(make_classifier, s.edge.vad, 8000, 0.5)
        self.health.start()
        self.metrics_server = ThreadedServer(
            self.edge_metrics.render, s.metrics_host, s.metrics_port, self.health
        )
        self.metrics_server.start()
        self.server = await serve(
            self._handler,
            s.host,
            s.port,
            process_request=self._process_request,
            ssl=self._ssl(),
            max_size=max(s.max_message_bytes * 4, 1 << 20),
            max_queue=64,
            write_limit=64 * 1024,
            close_timeout=5,
            server_header="asp-gateway",
        )
        sock = next(iter(self.server.sockets))
        self.port = int(sock.getsockname()[1])
        self._clock_task = asyncio.create_task(self._clock(), name="asp-gateway-clock")

    async def run(self) -> None:
        await self.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        scheme = "wss" if self.settings.tls_cert else "ws"
        assert self.metrics_server is not None
        log.info(
            "asp-gateway ready: %s://%s:%s/ (auth %s), metrics http://%s:%s/metrics",
            scheme,
            self.settings.host,
            self.port,
            self.settings.auth,
            self.settings.metrics_host,
            self.metrics_server.port,
        )
        print(
            f"ASP_GATEWAY_READY port={self.port} metrics_port={self.metrics_server.port}",
            flush=True,
        )
        await self._stop.wait()
        await self.stop()

    async def stop(self) -> None:
        """No new connections; live sessions get the drain grace, then every connection is
        closed (its sessions end) and the last events are written."""
        self._draining = True
        grace = self.settings.edge.drain_grace_s
        deadline = time.monotonic() + grace
        log.info("draining: %d sessions up, grace %.0f s", len(self.sessions), grace)
        # polled: sessions end on many paths (client session.end, disconnects)
        while self.sessions and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()
        for conn in list(self.connections):
            conn.disconnected()
        if not await wait_sessions_closed(5.0):
            log.warning("Redis unreachable: the last events of ended sessions were not written")
        self._clock_task.cancel()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        await self.health.stop()
        await self.bus.close()
        log.info("asp-gateway stopped")


def _address(connection: ServerConnection) -> str:
    return str(connection.remote_address[0]) if connection.remote_address else "?"
