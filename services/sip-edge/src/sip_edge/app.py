"""The sip-edge process: the SIP endpoint, one CallSession per call, metrics, drain."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import sys
import wave

from pipeline.bus import Bus
from pipeline.health import Health
from pipeline.http import ThreadedServer

from .calls import CallSession, TurnModel, wait_sessions_closed
from .digest import DigestAuth
from .metrics import Metrics
from .settings import Settings
from .sip import CallHandle, CallInfo, Endpoint, SipConfig

__all__ = ["EdgeApp"]

log = logging.getLogger(__name__)


def load_apologies(pattern: str, setting: str = "SIP_EDGE_APOLOGY_WAV") -> dict[int, bytes]:
    """A clip of the edge's own, per sample rate: the apology played when Redis is
    unreachable or no answer comes (``SIP_EDGE_APOLOGY_WAV``), the goodbye at the maximum
    call length (``SIP_EDGE_GOODBYE_WAV``). ``pattern`` names a mono PCM16 WAV, with
    ``{rate}`` standing for 8000 or 16000 (e.g. desculpa-{rate}.wav)."""
    out: dict[int, bytes] = {}
    if not pattern:
        log.warning("%s not set: that clip is not played", setting)
        return out
    for rate in (8000, 16000):
        path = pattern.replace("{rate}", str(rate))
        try:
            with wave.open(path, "rb") as w:
                if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, rate):
                    log.warning("%s is not mono PCM16 at %s Hz: ignored", path, rate)
                    continue
                out[rate] = w.readframes(w.getnframes())
        except (OSError, EOFError, wave.Error) as e:
            log.warning("apology %s not loaded: %s", path, e)
    return out


def load_turn_model(settings: Settings) -> TurnModel | None:
    """The end-of-turn model when SIP_EDGE_TURN_MODE=model; None (silence mode, with a log
    line saying why) when it is not asked for or cannot be loaded."""
    if settings.turn_mode != "model":
        log.info("turn mode: silence (the session's silence_threshold_ms ends a turn)")
        return None
    try:
        from . import smart_turn  # onnxruntime: only loaded when the model is wanted
    except ImportError as e:
        log.warning("end-of-turn model unavailable (%s): turn mode falls back to silence", e)
        return None
    model = smart_turn.load(settings.turn_model_file(), threads=1)
    if model is not None:
        log.info(
            "turn mode: model (pause %s ms, threshold %.2f, at most %s ms of silence)",
            settings.turn_pause_ms,
            settings.turn_threshold,
            settings.turn_max_silence_ms,
        )
    return model


class EdgeApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.sessions: dict[str, CallSession] = {}
        self.bus = Bus.connect(settings.redis_options)
        self._registered = False
        self.health = Health(self.bus)
        self.health.add_check("sip", self._serving)
        if settings.registrar:  # registered to the PBX (without one nothing registers)
            self.health.add_check("registered", lambda: self._registered)
        self.endpoint: Endpoint | None = None
        self.apologies = load_apologies(settings.apology_wav)
        self.goodbyes = load_apologies(settings.goodbye_wav, "SIP_EDGE_GOODBYE_WAV")
        self.turn_model = load_turn_model(settings)
        self.turn_executor = (
            concurrent.futures.ThreadPoolExecutor(settings.turn_threads, "end-of-turn")
            if self.turn_model is not None
            else None
        )
        self.metrics_server: ThreadedServer | None = None
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _new_call(self, info: CallInfo, handle: CallHandle) -> CallSession:
        """PJSUA thread: builds the session object only; it lives on the loop from then on."""
        return CallSession(
            info,
            handle,
            self.settings,
            self.metrics,
            self.bus,
            self._done,
            apologies=self.apologies,
            turn_model=self.turn_model,
            turn_executor=self.turn_executor,
            goodbyes=self.goodbyes,
        )

    def _register(self, session: CallSession) -> None:
        self.sessions[session.session_id] = session
        self.metrics.active_calls.set(len(self.sessions))

    def _done(self, session: CallSession) -> None:
        self.sessions.pop(session.session_id, None)
        self.metrics.active_calls.set(len(self.sessions))
        if not self.sessions:
            self._idle.set()

    async def _wait_idle(self, seconds: float) -> bool:
        if not self.sessions:
            return True
        self._idle.clear()
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _serving(self) -> bool:
        """The SIP endpoint is up and not draining (readiness)."""
        return self.endpoint is not None and not self._stop.is_set()

    def _on_registration(self, ok: bool, _code: int) -> None:
        self._registered = ok
        self.metrics.registered.set(1 if ok else 0)

    async def run(self) -> None:
        s = self.settings
        # The media clock thread needs the GIL for two callbacks per call every 20 ms; with
        # the default 5 ms switch interval a busy event loop (VAD) makes it late.
        sys.setswitchinterval(0.0005)
        loop = self._loop = asyncio.get_running_loop()

        def new_call(info: CallInfo, handle: CallHandle) -> CallSession:
            session = self._new_call(info, handle)
            loop.call_soon_threadsafe(self._register, session)
            return session

        sources = await asyncio.to_thread(s.source_policy)
        log.info("INVITEs accepted from: %s", sources.describe())
        self.endpoint = Endpoint(
            SipConfig(
                bind_host=s.sip_bind,
                port=s.sip_port,
                extension=s.extension,
                password=s.password,
                registrar=s.registrar,
                max_calls=s.max_calls,
                rtp_port=s.rtp_port,
                rtp_port_range=s.rtp_port_range,
                wideband=s.wideband,
                pj_log_level=s.pj_log_level,
                jb_max_pre_ms=s.jb_max_pre_ms,
                sources=sources,
                digest=DigestAuth(s.extension, s.password) if s.digest_auth else None,
            ),
            loop,
            new_call,
            on_registration=self._on_registration,
            on_busy=self.metrics.calls_rejected.inc,
            on_forbidden=self.metrics.calls_forbidden.inc,
        )
        self.health.start()
        self.metrics_server = ThreadedServer(
            self.metrics.render, s.metrics_host, s.metrics_port, self.health
        )
        self.metrics_server.start()
        await asyncio.to_thread(self.endpoint.start)
        self.endpoint.register_current_thread("asyncio")
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        log.info(
            "sip-edge ready: SIP udp/%s, metrics http://%s:%s/metrics",
            self.endpoint.local_port,
            s.metrics_host,
            self.metrics_server.port,
        )
        print(
            f"SIP_EDGE_READY sip_port={self.endpoint.local_port}"
            f" metrics_port={self.metrics_server.port}",
            flush=True,
        )
        await self._stop.wait()
        await self.drain()

    async def drain(self) -> None:
        """No new calls (486); live calls get drain_grace_s to finish, then are hung up."""
        ep = self.endpoint
        if ep is None:
            return
        ep.draining = True
        grace = self.settings.drain_grace_s
        log.info("draining: %s calls up, grace %.0f s", len(self.sessions), grace)
        if not await self._wait_idle(grace):
            for session in list(self.sessions.values()):
                session.handle.hangup()
            await self._wait_idle(3.0)
        # The calls' session.end events go out before the Redis client closes.
        if not await wait_sessions_closed(2.0):
            log.warning("Redis unreachable: the last events of ended calls were not written")
        await asyncio.to_thread(ep.stop)
        if self.turn_executor is not None:
            self.turn_executor.shutdown(wait=False, cancel_futures=True)
        if self.metrics_server is not None:
            self.metrics_server.stop()
        await self.health.stop()
        await self.bus.close()
        log.info("sip-edge stopped")
