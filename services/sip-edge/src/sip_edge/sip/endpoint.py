"""The PJSUA2 endpoint: the only module of sip-edge that imports pjsua2.

One thread owns the library: it calls ``libCreate``/``libInit`` with ``threadCnt=0`` and
``mainThreadOnly=True``, then polls ``libHandleEvents`` and runs the commands other threads
queue for it (:meth:`Endpoint.submit`), so every PJSUA2 call and callback happens on it.
Events go to asyncio with ``loop.call_soon_threadsafe``. Audio is the exception: the
conference bridge's clock thread calls each call's media port every 20 ms; received frames
are handed to the loop, and the frame to play is taken from the listener's thread-safe
``next_playout_frame`` (the media clock is what paces playback).

Every pj object created here (endpoint, transport, accounts, calls, media ports) is
referenced from this module until the library no longer uses it: SWIG objects freed by
Python's GC while PJSUA still points at them crash the process.

Media ports are never destroyed while the conference bridge runs (:class:`_PortPool`): the
bridge's clock thread calls every registered port on every tick, calls or not, and a
Python port destroyed meanwhile is called half torn down (SIGSEGV). An ended call's port
goes back to a pool and serves a later call; the pool is destroyed at shutdown, after the
media clock stopped.

Accounts: a local account for calls sent straight to our SIP port (the default account),
plus, when a registrar is configured, an account that registers as the extension and keeps
the registration alive. An INVITE from a source outside ``sources`` (the PBX's address by
default: SIP_EDGE_ALLOWED_SOURCES) gets 403 Forbidden and a log line naming the source; with
``digest`` (SIP_EDGE_DIGEST_AUTH) an allowed source must also answer a digest challenge. Calls
beyond ``max_calls`` (or while draining) get 486 Busy Here.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import gc
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from typing import Protocol

import pjsua2 as pj

from ..digest import DigestAuth, authorization_header
from ..media import CallInfo
from ..sources import LOOPBACK_ONLY, SourcePolicy

__all__ = ["CallHandle", "CallInfo", "CallListener", "Endpoint", "SipConfig"]

log = logging.getLogger(__name__)

_FRAME_PTIME_US = 20_000
_PORT_COOL_S = 0.5
"""How long an ended call's media port rests before it serves another call: the bridge
drops the ended call's own port on a later clock tick, so its last frames never reach the
next call."""


@dataclasses.dataclass(frozen=True, slots=True)
class SipConfig:
    bind_host: str = "0.0.0.0"  # noqa: S104 - a SIP endpoint listens on the network
    port: int = 5070
    extension: str = "2000"
    password: str = ""
    registrar: str = ""
    """host:port of the PBX to register to; empty: no registration (direct calls only)."""
    register_expires_s: int = 300
    max_calls: int = 50
    rtp_port: int = 30000
    rtp_port_range: int = 2000
    wideband: bool = False
    """Offer G.722 first and run the bridge at 16 kHz (calls on G.722 then get 16 kHz PCM)."""
    pj_log_level: int = 1
    jb_max_pre_ms: int = 100
    sources: SourcePolicy = LOOPBACK_ONLY
    """Who may send an INVITE (:mod:`.sources`); any other source gets 403 Forbidden."""
    digest: DigestAuth | None = None
    """When set, an INVITE must also answer a digest challenge (401 until it does)."""


class CallListener(Protocol):
    """What the application gives for each accepted call. ``on_*`` run on the event loop;
    ``next_playout_frame`` runs on the media clock thread and must be thread-safe."""

    def on_media(self, sample_rate: int, codec: str) -> None: ...

    def on_frame(self, pcm: bytes) -> None: ...

    def on_dtmf(self, digit: str) -> None: ...

    def on_transfer_result(self, ok: bool, status_code: int) -> None: ...

    def on_ended(self, reason: str) -> None: ...

    def next_playout_frame(self) -> bytes: ...


NewCall = Callable[["CallInfo", "CallHandle"], CallListener]
"""Called on the PJSUA thread for each call to accept: must be quick and not block."""


def _caller_number(remote_uri: str) -> str:
    m = re.search(r"sips?:([^@;>]+)@", remote_uri)
    return m.group(1) if m else ""


class _LogWriter(pj.LogWriter):  # type: ignore[misc]
    """PJSIP's log lines into Python logging (any PJSIP thread may call it)."""

    def write(self, entry: pj.LogEntry) -> None:
        log.log(
            logging.WARNING if entry.level <= 2 else logging.DEBUG, "pjsip: %s", entry.msg.rstrip()
        )


class _MediaPort(pj.AudioMediaPort):  # type: ignore[misc]
    """A call's audio in the conference bridge. Owned by :class:`_PortPool`: it serves one
    call at a time (:meth:`attach`) and is never destroyed while the bridge runs."""

    def __init__(self) -> None:
        super().__init__()
        self._owner: _MediaLink | None = None
        self.frames_in = 0
        self.frames_out = 0

    def attach(self, owner: _MediaLink) -> None:
        self._owner = owner

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size == 0:
            return
        owner = self._owner
        if owner is None:
            return
        buf = bytearray(frame.size)
        frame.buf.copy_to_bytearray(buf)
        self.frames_in += 1
        owner.deliver_frame(bytes(buf))

    def detach(self) -> None:
        """Its callbacks answer silence from now on (the clock keeps calling it)."""
        self._owner = None

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        owner = self._owner
        if owner is None:
            frame.type = pj.PJMEDIA_FRAME_TYPE_NONE
            frame.size = 0
            return
        pcm = owner.playout_frame()
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf.assign_from_bytes(pcm)
        frame.size = len(pcm)
        self.frames_out += 1


class _MediaLink:
    """What a call's media port reaches on the media clock thread: the listener, the frame
    inbox and the silence of the call's rate. Plain Python, never the call wrapper itself:
    a media callback that held the last reference to a ``pj::Call`` would run its
    destructor (PJSUA calls) on the media clock thread."""

    def __init__(self, listener: CallListener, frames: _FrameInbox, silence: bytes) -> None:
        self.listener = listener
        self.frames = frames
        self.silence = silence
        self.ended = False

    def deliver_frame(self, pcm: bytes) -> None:
        if not self.ended:
            self.frames.put(self.listener.on_frame, pcm)

    def playout_frame(self) -> bytes:
        if self.ended:
            return self.silence
        try:
            pcm = self.listener.next_playout_frame()
        except Exception:  # never let an exception cross into the media clock thread
            log.exception("playout failed; playing silence")
            return self.silence
        return pcm if len(pcm) == len(self.silence) else self.silence


class _PortPool:
    """The media ports, by sample rate. The conference bridge calls every registered port
    on each tick of its clock thread (a port without connections still gets heart-beat
    frames), holding the port's lock while the callback runs in Python. Destroying a port
    drops the Python object first and only then the C++ one: a callback entering in
    between runs on a half torn down object, and the process dies (SIGSEGV). That killed
    sip-edge 2 s after a call ended (issue 11). So ports are created on demand, lent to one
    call at a time, rested ``_PORT_COOL_S`` after their call, and destroyed only in
    :meth:`destroy_all`, once the clock stopped. Used on the PJSUA thread only."""

    def __init__(self) -> None:
        self._free: dict[int, list[_MediaPort]] = {}
        self._resting: collections.deque[tuple[float, int, _MediaPort]] = collections.deque()
        self._all: list[_MediaPort] = []

    @property
    def size(self) -> int:
        return len(self._all)

    def take(self, rate: int, owner: _MediaLink) -> _MediaPort:
        free = self._free.setdefault(rate, [])
        if free:
            port = free.pop()
        else:
            fmt = pj.MediaFormatAudio()
            fmt.type = pj.PJMEDIA_TYPE_AUDIO
            fmt.clockRate = rate
            fmt.channelCount = 1
            fmt.bitsPerSample = 16
            fmt.frameTimeUsec = _FRAME_PTIME_US
            port = _MediaPort()
            port.createPort(f"edge{len(self._all)}", fmt)
            self._all.append(port)
        port.attach(owner)
        return port

    def give_back(self, port: _MediaPort, rate: int, now: float) -> None:
        port.detach()
        self._resting.append((now + _PORT_COOL_S, rate, port))

    def tick(self, now: float) -> None:
        while self._resting and self._resting[0][0] <= now:
            _due, rate, port = self._resting.popleft()
            self._free.setdefault(rate, []).append(port)

    def destroy_all(self) -> None:
        """Only once the media clock stopped (no callback can be running)."""
        for port in self._all:
            port.detach()
        self._free.clear()
        self._resting.clear()
        self._all.clear()


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, ep: Endpoint, acc: pj.Account, call_id: int) -> None:
        super().__init__(acc, call_id)
        self.ep = ep
        self.listener: CallListener | None = None
        self.port: _MediaPort | None = None
        self.link: _MediaLink | None = None
        self.audio_media: pj.AudioMedia | None = None
        self.sample_rate = 8000
        self.ended = False

    # --- PJSUA thread --------------------------------------------------------------------

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
            self.ended = True
            self._detach_media()
            reason = f"{info.lastStatusCode} {info.lastReason}".strip()
            self.ep.call_gone(self, reason)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        if self.ended or self.port is not None or self.listener is None:
            return
        info = self.getInfo()
        for i, mi in enumerate(info.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self._attach_media(i, self.listener)
                return

    def _attach_media(self, index: int, listener: CallListener) -> None:
        codec = ""
        try:
            si = self.getStreamInfo(index)
            codec = si.codecName
            self.sample_rate = 16000 if si.codecClockRate >= 16000 else 8000
        except pj.Error:
            self.sample_rate = 8000
        silence = bytes(self.sample_rate * 2 * _FRAME_PTIME_US // 1_000_000)
        self.link = _MediaLink(listener, self.ep.frames, silence)
        port = self.ep.ports.take(self.sample_rate, self.link)
        self.port = port  # back to the pool when the call goes, even if what follows fails
        self.audio_media = self.getAudioMedia(index)
        self.audio_media.startTransmit(port)
        port.startTransmit(self.audio_media)
        self.ep.post(listener.on_media, self.sample_rate, codec)

    def _detach_media(self) -> None:
        # The conference bridge drops the call's own port when the call's media goes, and
        # with it the connections to ours; ours goes back to the pool (Endpoint._reap).
        self.audio_media = None
        if self.link is not None:
            self.link.ended = True

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        if self.listener is not None and len(prm.digit) == 1:
            self.ep.post(self.listener.on_dtmf, prm.digit)

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        if prm.finalNotify and self.listener is not None:
            ok = 200 <= prm.statusCode < 300
            self.ep.post(self.listener.on_transfer_result, ok, prm.statusCode)
            prm.cont = False


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, ep: Endpoint, name: str) -> None:
        super().__init__()
        self.ep = ep
        self.name = name

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.ep.incoming(self, prm.callId, prm.rdata.srcAddress, prm.rdata.wholeMsg)

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        ok = prm.code // 100 == 2 and prm.expiration > 0
        self.ep.registration_changed(ok, prm.code)


FRAME_BATCH_S = 0.002
"""How long the first frame of a media clock tick waits for the tick's other calls' frames."""


class _FrameInbox:
    """Received frames, from the media clock thread to the event loop, in batches.

    The clock hands every call's frame over within one tick (20 ms). Waking the loop for each
    (50 calls: 2,500 wake-ups and GIL hand-offs a second) is what made one process fall
    behind at 50 calls (docs/perf/sip-edge.md); here the first frame of a tick schedules one
    drain ``FRAME_BATCH_S`` later and the tick's other frames join it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: collections.deque[tuple[Callable[[bytes], None], bytes]] = collections.deque()
        self._armed = False

    def put(self, fn: Callable[[bytes], None], pcm: bytes) -> None:
        """Media clock thread."""
        self._items.append((fn, pcm))
        if not self._armed:
            self._armed = True
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self._loop.call_soon_threadsafe(self._arm)

    def _arm(self) -> None:
        self._loop.call_later(FRAME_BATCH_S, self.drain)

    def drain(self) -> None:
        """Event loop: delivers every frame queued so far, in arrival order."""
        self._armed = False
        items = self._items
        while items:
            fn, pcm = items.popleft()
            try:
                fn(pcm)
            except Exception:
                log.exception("a received frame could not be handled")


class CallHandle:
    """What the event loop can do to one call; every method queues work for the PJSUA
    thread and returns at once."""

    def __init__(self, ep: Endpoint, call_ref: int) -> None:
        self._ep = ep
        self.call_ref = call_ref

    def hangup(self, status_code: int = 0) -> None:
        self._ep.submit(lambda: self._ep.hangup(self.call_ref, status_code))

    def transfer(self, extension: str) -> None:
        self._ep.submit(lambda: self._ep.transfer(self.call_ref, extension))

    def send_dtmf(self, digits: str) -> None:
        self._ep.submit(lambda: self._ep.send_dtmf(self.call_ref, digits))


class Endpoint:
    """Starts the PJSUA thread; ``new_call`` decides nothing, capacity is decided here."""

    def __init__(
        self,
        config: SipConfig,
        loop: asyncio.AbstractEventLoop,
        new_call: NewCall,
        on_registration: Callable[[bool, int], None] | None = None,
        on_busy: Callable[[], None] | None = None,
        on_forbidden: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._loop = loop
        self._new_call = new_call
        self._on_registration = on_registration
        self._on_busy = on_busy
        self._on_forbidden = on_forbidden
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pjsua", daemon=True)
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._stop = False
        self._startup_error: BaseException | None = None
        self.frames = _FrameInbox(loop)
        self.draining = False
        self.local_port = 0
        # Explicit references to every pj object (see the module docstring).
        self._ep: pj.Endpoint | None = None
        self._log_writer = _LogWriter()
        self._accounts: list[_Account] = []
        self._calls: dict[int, _Call] = {}
        self._challenged: dict[int, _Call] = {}  # answered 401, until disconnected
        self._graveyard: list[_Call] = []
        self.ports = _PortPool()

    # --- any thread ----------------------------------------------------------------------

    def register_current_thread(self, name: str) -> None:
        """Lets this thread touch (and garbage-collect) PJSUA objects: a safety net for the
        event loop's thread; the code itself only uses PJSUA on its own thread."""
        ep = self._ep
        if ep is not None and not ep.libIsThreadRegistered():
            ep.libRegisterThread(name)

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the PJSUA thread did not start in time")
        if self._startup_error is not None:
            raise RuntimeError(f"PJSUA failed to start: {self._startup_error}") from (
                self._startup_error
            )

    def stop(self, timeout: float = 10.0) -> None:
        self._stop = True
        self._thread.join(timeout)

    def submit(self, fn: Callable[[], None]) -> None:
        self._commands.put(fn)

    def post(self, fn: Callable[..., None], *args: object) -> None:
        """Runs fn(*args) on the event loop (from the PJSUA or the media clock thread)."""
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            self._loop.call_soon_threadsafe(fn, *args)

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    # --- PJSUA thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._init()
        except BaseException as e:  # reported by start()
            self._startup_error = e
            self._ready.set()
            return
        self._ready.set()
        ep = self._ep
        assert ep is not None
        try:
            while not self._stop:
                ep.libHandleEvents(10)
                self._run_commands()
                self._reap()
        finally:
            self._shutdown()
            self._stopped.set()

    def _init(self) -> None:
        c = self.config
        ep = pj.Endpoint()
        ep.libCreate()
        self._ep = ep
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = c.max_calls + 8  # room to answer 486 ourselves
        cfg.uaConfig.userAgent = "pabx-sip-edge"
        cfg.logConfig.level = c.pj_log_level
        cfg.logConfig.consoleLevel = c.pj_log_level
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.decor = 0
        rate = 16000 if c.wideband else 8000
        cfg.medConfig.clockRate = rate
        cfg.medConfig.sndClockRate = rate
        cfg.medConfig.audioFramePtime = 20
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.maxMediaPorts = 2 * c.max_calls + 16
        # Jitter buffer: adaptive, but never prefetching more than jb_max_pre_ms (the
        # default lets it grow to 400 ms, which a barge-in pays for twice).
        cfg.medConfig.jbMinPre = 20
        cfg.medConfig.jbMaxPre = c.jb_max_pre_ms
        cfg.medConfig.jbInit = 20
        ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = c.port
        if c.bind_host not in ("", "0.0.0.0"):  # noqa: S104
            tcfg.boundAddress = c.bind_host
        tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.local_port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[-1])
        ep.libStart()
        ep.audDevManager().setNullDev()
        self._set_codecs(ep)

        host = c.bind_host if c.bind_host not in ("", "0.0.0.0") else "127.0.0.1"  # noqa: S104
        direct = pj.AccountConfig()
        direct.idUri = f"sip:{c.extension}@{host}:{self.local_port}"
        self._media_config(direct)
        acc = _Account(self, "direct")
        acc.create(direct, True)
        self._accounts.append(acc)
        if c.registrar:
            reg = pj.AccountConfig()
            reg_host = c.registrar.split(":")[0]
            reg.idUri = f"sip:{c.extension}@{reg_host}"
            reg.regConfig.registrarUri = f"sip:{c.registrar}"
            reg.regConfig.timeoutSec = c.register_expires_s
            reg.regConfig.retryIntervalSec = 10
            reg.regConfig.firstRetryIntervalSec = 2
            cred = pj.AuthCredInfo("digest", "*", c.extension, 0, c.password)
            reg.sipConfig.authCreds.append(cred)
            self._media_config(reg)
            racc = _Account(self, "registered")
            racc.create(reg)
            self._accounts.append(racc)
        log.info(
            "SIP endpoint on udp port %s (extension %s, registrar %s, max %s calls)",
            self.local_port,
            c.extension,
            c.registrar or "none",
            c.max_calls,
        )

    def _media_config(self, acfg: pj.AccountConfig) -> None:
        acfg.mediaConfig.transportConfig.port = self.config.rtp_port
        acfg.mediaConfig.transportConfig.portRange = self.config.rtp_port_range
        if self.config.bind_host not in ("", "0.0.0.0"):  # noqa: S104
            acfg.mediaConfig.transportConfig.boundAddress = self.config.bind_host

    def _set_codecs(self, ep: pj.Endpoint) -> None:
        prio = {"PCMU/8000": 250, "PCMA/8000": 249, "telephone-event/8000": 0}
        if self.config.wideband:
            prio["G722/16000"] = 254
        for codec in ep.codecEnum2():
            cid = codec.codecId
            name = cid.rsplit("/", 1)[0] if cid.count("/") > 1 else cid
            ep.codecSetPriority(cid, prio.get(name, 0))

    def _run_commands(self) -> None:
        while True:
            try:
                fn = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                fn()
            except Exception:
                log.exception("SIP command failed")

    def _reap(self, *, force: bool = False) -> None:
        """Frees the calls that ended, here on the PJSUA thread: ``pj::Call``'s destructor
        clears the user data of, and hangs up, whatever call then holds its pjsua slot id.
        PJSUA hands ended slots to new calls (round robin), even within the poll that
        ended the old one: with the slots nearly all taken, the INVITE that answers our
        digest challenge got the slot its own challenged INVITE had just left, and freeing
        the challenged wrapper after the poll hung up the answered call and left it deaf
        (no callbacks: its session never ended). So a wrapper is freed only while no call
        holds its slot (``isActive()`` false); one whose slot is taken waits here until that
        call ends (``force``: at shutdown, all go). Only this thread holds call wrappers
        (the media port reaches a ``_MediaLink``, never the call), so the destructor runs
        here. The call's media port goes back to the pool at once (never destroyed while
        the bridge runs: see :class:`_PortPool`)."""
        t = time.monotonic()
        waiting: list[_Call] = []
        while self._graveyard:
            call = self._graveyard.pop()
            port, call.port = call.port, None
            call.listener = None
            if call.link is not None:
                call.link.ended = True
                call.link = None
            if port is not None:
                self.ports.give_back(port, call.sample_rate, t)
            if not force and call.isActive():
                waiting.append(call)  # its slot holds a live call (its own, or a new one)
                continue
            del call  # the wrapper goes now, while its slot is free
        self._graveyard = waiting
        self.ports.tick(t)

    def _refuse(
        self, call: _Call, op: pj.CallOpParam, status: int, counted: Callable[[], None] | None
    ) -> None:
        """Hangs up an incoming call with ``status``; ``counted`` is posted to the loop."""
        op.statusCode = status
        call.ended = True
        call.hangup(op)
        self._graveyard.append(call)
        if counted is not None:
            self.post(counted)

    def incoming(self, acc: _Account, call_id: int, source: str, message: str = "") -> None:
        call = _Call(self, acc, call_id)
        op = pj.CallOpParam()
        if not self.config.sources.allows(source):
            log.warning(
                "INVITE from %s refused with 403: not an allowed source (%s)",
                source,
                self.config.sources.describe(),
            )
            self._refuse(call, op, pj.PJSIP_SC_FORBIDDEN, self._on_forbidden)
            return
        digest = self.config.digest
        if digest is not None and not digest.verify("INVITE", authorization_header(message)):
            log.info("INVITE from %s challenged (401 digest)", source)
            op.statusCode = pj.PJSIP_SC_UNAUTHORIZED
            header = pj.SipHeader()
            header.hName = "WWW-Authenticate"
            header.hValue = digest.challenge()
            op.txOption.headers.append(header)
            # answer(), not hangup(): PJSUA keeps an answer's headers while the call's media
            # is still being set up (hangup() then drops them). The wrapper stays referenced
            # until the call is disconnected (call_gone), like an answered call's.
            self._challenged[call_id] = call
            call.answer(op)
            return
        if self.draining or len(self._calls) >= self.config.max_calls:
            self._refuse(call, op, pj.PJSIP_SC_BUSY_HERE, self._on_busy)
            return
        info = call.getInfo()
        ci = CallInfo(call_id, info.callIdString, _caller_number(info.remoteUri), info.remoteUri)
        self._calls[call_id] = call
        try:
            call.listener = self._new_call(ci, CallHandle(self, call_id))
        except Exception:
            log.exception("could not set up a call; answering 500")
            del self._calls[call_id]
            op.statusCode = 500
            call.ended = True
            call.hangup(op)
            self._graveyard.append(call)
            return
        op.statusCode = 200
        call.answer(op)

    def call_gone(self, call: _Call, reason: str) -> None:
        call_id = call.getId()
        # only this wrapper's entries: its slot may already hold a new call (see _reap)
        if self._calls.get(call_id) is call:
            del self._calls[call_id]
        if self._challenged.get(call_id) is call:
            del self._challenged[call_id]
        self._graveyard.append(call)
        if call.listener is not None:
            self.post(call.listener.on_ended, reason)

    def registration_changed(self, ok: bool, code: int) -> None:
        log.info("registration %s (%s)", "active" if ok else "failed", code)
        if self._on_registration is not None:
            self.post(self._on_registration, ok, code)

    def hangup(self, call_ref: int, status_code: int = 0) -> None:
        call = self._calls.get(call_ref)
        if call is None or call.ended:
            return
        op = pj.CallOpParam()
        if status_code:
            op.statusCode = status_code
        call.hangup(op)

    def transfer(self, call_ref: int, extension: str) -> None:
        call = self._calls.get(call_ref)
        if call is None or call.ended:
            return
        host = self.config.registrar or f"127.0.0.1:{self.local_port}"
        call.xfer(f"sip:{extension}@{host}", pj.CallOpParam(True))

    def send_dtmf(self, call_ref: int, digits: str) -> None:
        call = self._calls.get(call_ref)
        if call is not None and not call.ended:
            call.dialDtmf(digits)

    def _shutdown(self) -> None:
        ep = self._ep
        if ep is None:
            return
        try:
            ep.hangupAllCalls()
            for _ in range(50):
                if not self._calls:
                    break
                ep.libHandleEvents(20)
            for acc in self._accounts:
                acc.shutdown()
        except pj.Error:
            log.exception("error while hanging up at shutdown")
        self._graveyard.extend(self._calls.values())
        self._graveyard.extend(self._challenged.values())
        self._calls.clear()
        self._challenged.clear()
        self._reap(force=True)
        try:
            # Stops the conference bridge's clock (the null sound device's thread): no
            # media callback runs after this, so the ports can be destroyed.
            ep.audDevManager().setNoDev()
        except pj.Error:
            log.exception("could not stop the media clock at shutdown")
        self.ports.destroy_all()
        self._accounts.clear()
        gc.collect()
        ep.libDestroy()
        self._ep = None
