"""The one PJSUA2 test phone's core, shared by every PJSUA2 phone of the tests and benches:
the threaded phone of the integration tests (sipphone.py), sip-edge's test callers
(services/sip-edge/tests/support: edge_caller.py, multi_caller.py,
pjsua2_capacity_probe.py) and the load benches' caller (bench/sip_edge_direct_load.py).

One library instance (pjsua's rule: one per process) polled by one thread (``threadCnt=0``),
a UDP transport on a free port, the null sound device, one audio codec; a call that holds
its audio media once it is active; a local account."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import pjsua2 as pj


def start_endpoint(
    *,
    max_calls: int | None = None,
    log_level: int = 0,
    phone_media: bool = True,
    jitter_buffer_ms: tuple[int, int, int] | None = (20, 100, 40),
    codec: str | None = "PCMU/",
    log_file: str | None = None,
    bind: str = "127.0.0.1",
    main_thread_only: bool = True,
    before_start: Callable[[pj.Endpoint], None] | None = None,
) -> tuple[pj.Endpoint, int, str]:
    """Starts the library; returns (endpoint, UDP transport id, local SIP port).

    ``phone_media``: a test phone's media (no silence suppression, no echo canceller: tests
    compare audio) and a jitter buffer of ``jitter_buffer_ms`` (minimum and maximum
    prefetch, initial prefetch; None: PJSUA's default). ``codec``: prefix of the only audio
    codec offered; None keeps PJSUA's defaults. ``log_file``: PJSIP's log at level 4 (every
    SIP message) goes there, whatever ``log_level``. ``bind``: the address of the SIP
    transport. ``main_thread_only``: every callback on the thread that creates the library
    (False: the polling thread may be another). ``before_start``: runs on the initialised
    library before it starts (another transport, say)."""
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = main_thread_only
    if max_calls is not None:
        cfg.uaConfig.maxCalls = max_calls
    cfg.logConfig.level = log_level
    cfg.logConfig.consoleLevel = log_level
    if log_file is not None:
        cfg.logConfig.level = max(log_level, 4)
        cfg.logConfig.filename = log_file
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.channelCount = 1
    if phone_media:
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        if jitter_buffer_ms is not None:
            jb = cfg.medConfig
            jb.jbMinPre, jb.jbMaxPre, jb.jbInit = jitter_buffer_ms
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = bind
    tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    port = ep.transportGetInfo(tid).localName.rsplit(":", 1)[-1]
    if before_start is not None:
        before_start(ep)
    ep.libStart()
    ep.audDevManager().setNullDev()
    if codec is not None:
        for c in ep.codecEnum2():
            ep.codecSetPriority(c.codecId, 255 if c.codecId.startswith(codec) else 0)
    return ep, tid, port


@contextlib.contextmanager
def endpoint(**options: Any) -> Iterator[tuple[pj.Endpoint, int, str]]:
    """:func:`start_endpoint` (``options``) for a ``with`` block, whose end destroys the
    library once the block dropped every pj object it made (players, recorders, calls, and
    the account: ``acc.shutdown()``, then ``del``). After an error the library is left to the
    process's exit, as a pj object destroyed after the library crashes it."""
    ep, tid, port = start_endpoint(**options)
    yield ep, tid, port
    gc.collect()
    ep.libDestroy()


class AudioCall(pj.Call):  # type: ignore[misc]
    """A call that holds its audio media (``media``) once it is active, and hands each
    audio media that becomes active to :meth:`on_audio`."""

    def __init__(self, acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(acc, call_id)
        self.media: pj.AudioMedia | None = None

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()  # keep it alive while iterating its vector (SWIG)
        for i, mi in enumerate(info.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.media = self.getAudioMedia(i)
                self.on_audio(self.media)

    def on_audio(self, media: pj.AudioMedia) -> None:
        """The call's audio ``media`` is active (again, after a re-INVITE): connect it."""


class TrackedCall(AudioCall):
    """An :class:`AudioCall` that keeps what its state changes said: when it was first
    confirmed (``confirmed_at``, monotonic), its SIP Call-ID, and once it is disconnected
    (``disconnected``) how and when it ended (``ended``: at, code, reason, call_id)."""

    def __init__(self, acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(acc, call_id)
        self.confirmed_at: float | None = None
        self.disconnected = False
        self.sip_call_id = ""
        self.ended: dict[str, object] = {}

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def status(self) -> int:
        """The last SIP status of a disconnected call; 0 before."""
        code = self.ended.get("code", 0)
        assert isinstance(code, int)
        return code

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self.sip_call_id = info.callIdString  # getInfo fails once the call is gone
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True
            self.ended = {
                "at": time.monotonic(),
                "code": int(info.lastStatusCode),
                "reason": info.lastReason,
                "call_id": info.callIdString,
            }


def local_account(
    acc: pj.Account,
    user: str,
    port: str,
    tid: int | None = None,
    domain: str | None = None,
    password: str | None = None,
) -> pj.Account:
    """Creates ``acc`` as sip:user@domain (default: this process's address), without
    registering; ``password`` answers a digest challenge from the target."""
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{user}@{domain or f'127.0.0.1:{port}'}"
    if tid is not None:
        acfg.sipConfig.transportId = tid
    if password:
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
    acfg.mediaConfig.transportConfig.port = 0
    acc.create(acfg, True)
    return acc
