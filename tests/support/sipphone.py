"""A PJSUA2 test phone for integration tests: real SIP, real RTP, no sound card.

One pjsua2 ``Endpoint`` lives in a process (pjsua's own rule), so a test session creates one
:class:`SipStack` and adds as many :class:`Phone` objects (SIP accounts) as it needs::

    stack = SipStack()                       # starts the PJSIP thread
    alice = stack.add_phone("1001", pw_1001)  # registers on 127.0.0.1:5160
    bob = stack.add_phone("1002", pw_1002)
    call = alice.call("1002")
    incoming = bob.wait_incoming()            # answered with 180 Ringing automatically
    incoming.answer()
    call.wait_confirmed()
    call.play(tone)                           # numpy int16 at 8 kHz, or play_wav(path)
    heard = incoming.recording()              # numpy int16 at 8 kHz
    call.send_dtmf("1")                       # RFC 4733
    call.hangup()
    stack.close()

Threading (the pjproject Python sample's model): one thread owns the endpoint, polls it with
``libHandleEvents`` (``threadCnt=0``) and runs every pjsua2 call that test code submits via
:meth:`SipStack.run`; test code waits on plain ``threading`` primitives. Media frames are
exchanged by an ``AudioMediaPort`` per call, driven by the null sound device's clock thread,
with a lock around the buffers. Every pj object is kept referenced for its whole life.
The endpoint's set-up and the call's media callback are the shared test phone's
(pj_endpoint.py), as in sip-edge's test callers and the load bench.

The pjproject 2.15 wheels cap a process at 4 simultaneous calls (``PJSUA_MAX_CALLS``):
hang up what a test created (``SipStack.hangup_all``) before the next test.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pjsua2 as pj
from pj_endpoint import AudioCall, start_endpoint
from xcorr import window_scores

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
_T = TypeVar("_T")


class PhoneError(Exception):
    """A test phone operation failed or timed out."""


def poll_until(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02
) -> None:
    """Polls ``predicate`` every ``interval`` s until true; PhoneError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise PhoneError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def read_wav(path: str | Path) -> npt.NDArray[Any]:
    """Reads a 16-bit mono WAV into int16 samples (any rate is resampled to 8 kHz, linearly)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise PhoneError(f"{path}: need 16-bit mono WAV")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    if rate != SAMPLE_RATE:
        n = int(len(data) * SAMPLE_RATE / rate)
        data = np.interp(
            np.linspace(0, len(data) - 1, n), np.arange(len(data)), data.astype(np.float64)
        ).astype(np.int16)
    return data


class _AudioPort(pj.AudioMediaPort):  # type: ignore[misc]
    """Conference-bridge port: feeds queued samples to the call, records what the call sends."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._play: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._play_pos = 0
        self._loop = False
        self._rec: list[bytes] = []
        self._rec_samples = 0
        self._silence = pj.ByteVector(bytes(FRAME_SAMPLES * 2))
        self.play_mark: int | None = None
        """Samples recorded when the first frame of the current play went out (the media
        clock runs both ways in one tick, so this places what was played in the recording)."""

    def enqueue(self, samples: npt.NDArray[Any], loop: bool) -> None:
        with self._lock:
            self._play = np.ascontiguousarray(samples, dtype=np.int16)
            self._play_pos = 0
            self._loop = loop
            self.play_mark = None

    def stop_playing(self) -> None:
        self.enqueue(np.zeros(0, dtype=np.int16), loop=False)

    def playing(self) -> bool:
        with self._lock:
            return self._loop or self._play_pos < len(self._play)

    def recording(self) -> npt.NDArray[Any]:
        with self._lock:
            raw = b"".join(self._rec)
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)

    def clear_recording(self) -> None:
        with self._lock:
            self._rec.clear()
            self._rec_samples = 0

    # pjsua2 callbacks (media clock thread)
    def onFrameRequested(self, frame: Any) -> None:
        with self._lock:
            chunk = self._play[self._play_pos : self._play_pos + FRAME_SAMPLES]
            if self._play_pos == 0 and len(chunk) and self.play_mark is None:
                self.play_mark = self._rec_samples
            self._play_pos += len(chunk)
            if self._loop and self._play_pos >= len(self._play) and len(self._play):
                self._play_pos = 0
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        if len(chunk) == 0:
            frame.buf = self._silence
        else:
            if len(chunk) < FRAME_SAMPLES:
                chunk = np.concatenate([chunk, np.zeros(FRAME_SAMPLES - len(chunk), np.int16)])
            frame.buf = pj.ByteVector(chunk.astype("<i2").tobytes())
        frame.size = FRAME_SAMPLES * 2

    def onFrameReceived(self, frame: Any) -> None:
        if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO:
            data = bytes(FRAME_SAMPLES * 2)
        else:
            data = bytes(frame.buf)
        with self._lock:
            self._rec.append(data)
            self._rec_samples += len(data) // 2


class PhoneCall(AudioCall):
    """One call leg of a :class:`Phone`; methods are safe to call from test threads."""

    def __init__(self, phone: Phone, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(phone, call_id)
        self.phone = phone
        self.stack = phone.stack
        self.port: _AudioPort | None = None
        self.state = pj.PJSIP_INV_STATE_NULL
        self.last_status = 0
        self.disconnected = threading.Event()
        self.confirmed = threading.Event()
        self.media_ready = threading.Event()
        self.early_codes: list[int] = []
        self.dtmf_received: list[str] = []

    # pjsua2 callbacks (PJSIP thread)
    def onCallState(self, prm: Any) -> None:
        ci = self.getInfo()
        self.state = ci.state
        self.last_status = ci.lastStatusCode
        if ci.state == pj.PJSIP_INV_STATE_EARLY:
            self.early_codes.append(ci.lastStatusCode)
        elif ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed.set()
        elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected.set()
            self.stack._forget_call(self)

    def on_audio(self, media: pj.AudioMedia) -> None:
        if self.port is None:
            self.port = _AudioPort()
            fmt = pj.MediaFormatAudio()
            fmt.init(pj.PJMEDIA_FORMAT_PCM, SAMPLE_RATE, 1, 20000, 16)
            self.port.createPort(f"tp{self.getId()}", fmt)
        self.port.startTransmit(media)
        media.startTransmit(self.port)
        self.media_ready.set()

    def onDtmfDigit(self, prm: Any) -> None:
        self.dtmf_received.append(prm.digit)

    # test-thread API
    @property
    def ringing(self) -> bool:
        """True once the far end answered 180/183 (caller side)."""
        return any(c in (180, 183) for c in self.early_codes)

    def wait_ringing(self, timeout: float = 10) -> None:
        poll_until(lambda: self.ringing or self.disconnected.is_set(), timeout, "ringing")
        if not self.ringing:
            raise PhoneError(f"call ended with {self.last_status} before ringing")

    def wait_confirmed(self, timeout: float = 10) -> None:
        poll_until(lambda: self.confirmed.is_set() or self.disconnected.is_set(), timeout, "answer")
        if not self.confirmed.is_set():
            raise PhoneError(f"call ended with {self.last_status} before being answered")
        poll_until(self.media_ready.is_set, timeout, "media")

    def wait_disconnected(self, timeout: float = 10) -> None:
        poll_until(self.disconnected.is_set, timeout, "hang-up")

    def answer(self, code: int = 200) -> None:
        def _do() -> None:
            prm = pj.CallOpParam(True)
            prm.statusCode = code
            pj.Call.answer(self, prm)

        self.stack.run(_do)
        if code == 200:
            poll_until(lambda: self.confirmed.is_set() or self.disconnected.is_set(), 10, "ACK")
            poll_until(lambda: self.media_ready.is_set() or self.disconnected.is_set(), 10, "media")

    def hangup(self) -> None:
        def _do() -> None:
            if not self.disconnected.is_set() and self.isActive():
                prm = pj.CallOpParam(True)
                prm.statusCode = pj.PJSIP_SC_DECLINE if not self.confirmed.is_set() else 0
                with contextlib.suppress(pj.Error):
                    pj.Call.hangup(self, prm)

        self.stack.run(_do)
        with contextlib.suppress(PhoneError):
            self.wait_disconnected(10)

    def send_dtmf(self, digits: str) -> None:
        """Sends digits as RFC 4733 telephone-events."""
        self.stack.run(lambda: self.dialDtmf(digits))

    def play(self, samples: npt.NDArray[Any], loop: bool = False) -> None:
        """Plays int16 8 kHz samples into the call (replacing what was playing)."""
        if self.port is None:
            raise PhoneError("call has no media yet")
        self.port.enqueue(samples, loop)

    def play_wav(self, path: str | Path, loop: bool = False) -> None:
        self.play(read_wav(path), loop)

    def play_mark(self, timeout: float = 5) -> int:
        """Where the current play began in this leg's recording, in samples."""
        poll_until(lambda: self.port is not None and self.port.play_mark is not None,
                   timeout, "the play to start")  # fmt: skip
        mark = self.port.play_mark if self.port is not None else None
        assert mark is not None
        return mark

    def wait_played(self, timeout: float = 30) -> None:
        poll_until(lambda: self.port is not None and not self.port.playing(), timeout, "playout")

    def recording(self) -> npt.NDArray[Any]:
        """What this leg heard so far, int16 at 8 kHz."""
        return self.port.recording() if self.port else np.zeros(0, np.int16)

    def clear_recording(self) -> None:
        if self.port:
            self.port.clear_recording()


class Phone(pj.Account):  # type: ignore[misc]
    """A SIP account (an extension) on a :class:`SipStack`."""

    def __init__(self, stack: SipStack, user: str) -> None:
        super().__init__()
        self.stack = stack
        self.user = user
        self.server = stack.server  # where it registers and sends its calls
        self.reg_status = 0
        self.reg_active = False
        self.reg_events = 0
        self.auto_ring = True
        self._incoming: queue.Queue[PhoneCall] = queue.Queue()

    def onRegState(self, prm: Any) -> None:
        info = self.getInfo()
        self.reg_status = info.regStatus
        self.reg_active = info.regIsActive
        self.reg_events += 1

    def onIncomingCall(self, prm: Any) -> None:
        call = PhoneCall(self, prm.callId)
        self.stack._keep_call(call)
        if self.auto_ring:
            op = pj.CallOpParam(True)
            op.statusCode = 180
            pj.Call.answer(call, op)
        self._incoming.put(call)

    # test-thread API
    def wait_registered(self, timeout: float = 10) -> int:
        """Waits for the first registration outcome; returns the SIP status code."""
        poll_until(lambda: self.reg_events > 0, timeout, f"registration of {self.user}")
        return self.reg_status

    def call(self, dest: str) -> PhoneCall:
        """Calls ``dest`` (an extension or access code, or a full SIP URI)."""
        uri = dest if dest.startswith("sip:") else f"sip:{dest}@{self.server}"

        def _do() -> PhoneCall:
            c = PhoneCall(self)
            self.stack._keep_call(c)
            c.makeCall(uri, pj.CallOpParam(True))
            return c

        return self.stack.run(_do)

    def call_answered(
        self, dest: str, callee: Phone, timeout: float = 10
    ) -> tuple[PhoneCall, PhoneCall]:
        """Calls ``dest``, answered on ``callee``: (this phone's leg, the callee's) once the
        call is confirmed."""
        out = self.call(dest)
        inc = callee.wait_incoming(timeout)
        inc.answer()
        out.wait_confirmed()
        return out, inc

    def wait_incoming(self, timeout: float = 15) -> PhoneCall:
        try:
            return self._incoming.get(timeout=timeout)
        except queue.Empty:
            raise PhoneError(f"no incoming call on {self.user} within {timeout} s") from None

    def has_incoming(self) -> bool:
        return not self._incoming.empty()


class SipStack:
    """Owns the process's pjsua2 Endpoint and the thread that polls it."""

    def __init__(
        self,
        server: str = "127.0.0.1:5160",
        bind: str = "127.0.0.1",
        log_level: int = 0,
        tls_server: str = "127.0.0.1:5061",
        tls_ca: Path | None = None,
    ) -> None:
        """``tls_ca``: the PBX's certificate; given, the stack also has a TLS transport
        that verifies it, for phones added with ``tls=True`` (registered at
        ``tls_server``)."""
        self.server = server
        self.bind = bind
        self.tls_server = tls_server
        self.tls_ca = tls_ca
        self.tls_transport: int | None = None
        self._log_level = log_level
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._stop = threading.Event()
        self._ready: Future[None] = Future()
        self._calls: list[PhoneCall] = []
        self._dead_calls: list[PhoneCall] = []
        self._all_calls: list[PhoneCall] = []
        self._phones: list[Phone] = []
        self._calls_lock = threading.Lock()
        self.ep: Any = None
        self._thread = threading.Thread(target=self._main, name="pjsip", daemon=True)
        self._thread.start()
        self._ready.result(timeout=30)

    # PJSIP thread
    def _main(self) -> None:
        try:
            self._init()
        except BaseException as e:
            self._ready.set_exception(e)
            return
        self._ready.set_result(None)
        while not self._stop.is_set():
            self.ep.libHandleEvents(10)
            while True:
                try:
                    fn, fut = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if fut.set_running_or_notify_cancel():
                    try:
                        fut.set_result(fn())
                    except BaseException as e:
                        fut.set_exception(e)
        self._shutdown()

    def _init(self) -> None:
        def tls_transport(ep: pj.Endpoint) -> None:
            if self.tls_ca is None:
                return
            tls = pj.TransportConfig()
            tls.boundAddress = self.bind
            tls.port = 0
            tls.tlsConfig.CaListFile = str(self.tls_ca)
            tls.tlsConfig.verifyServer = True  # the PBX's own certificate, or no call
            tls.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
            self.tls_transport = ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tls)

        # polled by this stack's own thread, not the one that imported pjsua2
        self.ep, _tid, _port = start_endpoint(
            max_calls=4,
            log_level=self._log_level,
            jitter_buffer_ms=None,
            bind=self.bind,
            main_thread_only=False,
            before_start=tls_transport,
        )

    def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.ep.hangupAllCalls()
        for _ in range(100):
            self.ep.libHandleEvents(10)
        for p in self._phones:
            with contextlib.suppress(Exception):
                p.shutdown()
        for _ in range(50):
            self.ep.libHandleEvents(10)
        # A pj.Call destroyed after libDestroy trips an assertion in pjsua_call_set_user_data:
        # leave the C++ call objects to the process exit instead.
        for c in self._all_calls:
            c.media = None  # pj objects go before the library does
            c.thisown = False
            if c.port is not None:
                c.port.thisown = False
        with contextlib.suppress(Exception):
            self.ep.libDestroy()

    def _keep_call(self, call: PhoneCall) -> None:
        with self._calls_lock:
            self._calls.append(call)
            self._all_calls.append(call)

    def _forget_call(self, call: PhoneCall) -> None:
        with self._calls_lock:
            if call in self._calls:
                self._calls.remove(call)
            self._dead_calls.append(call)  # keep the Python object alive, pj may still use it

    # any thread
    def run(self, fn: Callable[[], _T], timeout: float = 10) -> _T:
        """Runs ``fn`` on the PJSIP thread and returns its result."""
        if threading.current_thread() is self._thread:
            return fn()
        fut: Future[_T] = Future()
        self._jobs.put((fn, fut))
        return fut.result(timeout=timeout)

    def add_phone(
        self,
        user: str,
        password: str,
        *,
        register: bool = True,
        reg_timeout_s: int = 120,
        wait: bool = True,
        tls: bool = False,
    ) -> Phone:
        """Creates an account for ``user``; registers it unless ``register`` is False.
        ``tls``: signalling over the stack's TLS transport to ``tls_server`` and media in
        SRTP (SDES), refused without it: a desk phone set for encryption."""
        phone = Phone(self, user)
        if tls:
            if self.tls_transport is None:
                raise PhoneError("this SipStack has no TLS transport (tls_ca not given)")
            phone.server = f"{self.tls_server};transport=tls"

        def _do() -> None:
            acfg = pj.AccountConfig()
            acfg.idUri = f"sip:{user}@{self.server}"
            if tls:
                acfg.sipConfig.transportId = self.tls_transport
                acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
                acfg.mediaConfig.srtpSecureSignaling = 1  # SDES keys only over TLS
            if register:
                acfg.regConfig.registrarUri = f"sip:{phone.server}"
                acfg.regConfig.timeoutSec = reg_timeout_s
                acfg.regConfig.retryIntervalSec = 0  # a failure is final: tests assert on it
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
            acfg.natConfig.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
            acfg.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
            acfg.mediaConfig.transportConfig.boundAddress = self.bind
            acfg.mediaConfig.transportConfig.port = random.randrange(20000, 29000, 2)
            acfg.mediaConfig.transportConfig.portRange = 500
            phone.create(acfg, True)
            self._phones.append(phone)

        self.run(_do)
        if register and wait:
            phone.wait_registered()
        return phone

    def remove_phone(self, phone: Phone) -> None:
        """Unregisters and deletes an account."""

        def _do() -> None:
            with contextlib.suppress(pj.Error):
                phone.setRegistration(False)

        self.run(_do)
        with contextlib.suppress(PhoneError):
            poll_until(lambda: not phone.reg_active, 5, "unregistration")

        def _shutdown() -> None:
            phone.shutdown()

        self.run(_shutdown)
        # keep the Python object referenced: pj may deliver late callbacks
        self._phones.append(phone)

    def active_calls(self) -> list[PhoneCall]:
        with self._calls_lock:
            return [c for c in self._calls if not c.disconnected.is_set()]

    def hangup_all(self, timeout: float = 10) -> None:
        """Hangs up every call of the stack and waits until pjsua has released them."""
        for c in self.active_calls():
            c.hangup()
        self.run(lambda: self.ep.hangupAllCalls())
        poll_until(lambda: not self.active_calls(), timeout, "all calls released")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _xcorr_scores(reference: npt.NDArray[Any], recording: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Normalised cross-correlation of ``reference`` at every lag inside ``recording``
    (empty when it does not fit or either is silent)."""
    ref = reference.astype(np.float64)
    rec = recording.astype(np.float64)
    if len(rec) < len(ref) or not np.any(ref) or not np.any(rec):
        return np.zeros(0)
    ref = ref - ref.mean()
    score, win_energy = window_scores(ref, rec)
    score[win_energy < 1e-3 * np.sum(ref * ref)] = 0.0
    return score


def normalized_xcorr(reference: npt.NDArray[Any], recording: npt.NDArray[Any]) -> float:
    """Peak normalised cross-correlation of ``reference`` anywhere inside ``recording``.

    1.0 means the reference appears unchanged (up to gain); values are computed per lag
    with the energy of the overlapping recording window, so silence around it costs nothing.
    """
    score = _xcorr_scores(reference, recording)
    return float(np.max(score)) if len(score) else 0.0


SLICE_S = 0.2
"""Slice length of :func:`sliced_xcorr`."""
SLIP_S = 0.06
"""How far each slice may sit from where the previous one ends: a jitter buffer under load
inserts or drops a 20 ms frame now and then (up to 3 in a row seen here)."""


def sliced_xcorr(reference: npt.NDArray[Any], recording: npt.NDArray[Any]) -> float:
    """Like :func:`normalized_xcorr`, but robust to a frame that a jitter buffer inserts or
    drops: ``reference`` is cut into ``SLICE_S`` slices that must appear in order, each
    within ``SLIP_S`` of where the previous one ended. Over a whole clip one slip halves
    the correlation; here it spoils at most the slice it falls in. The score is, along the
    best such chain, the weakest voiced slice's correlation, or the second weakest when
    there are three voiced slices or more (one slip per clip is forgiven, not two). Silent
    slices carry no information and are skipped."""
    n = int(SLICE_S * SAMPLE_RATE)
    slip = int(SLIP_S * SAMPLE_RATE)
    pieces = [reference[i : i + n] for i in range(0, len(reference) - n + 1, n)]
    voiced = [(k, p) for k, p in enumerate(pieces) if speech_seconds(p) >= SLICE_S / 2]
    if not voiced:
        return normalized_xcorr(reference, recording)
    scores = [(k, _xcorr_scores(p, recording)) for k, p in voiced]
    if any(len(sc) == 0 for _, sc in scores):
        return 0.0
    forgive = 1 if len(scores) >= 3 else 0
    # chains start where the first voiced slice fits best, or where the second one does
    # (the slip may be in the first slice)
    anchors: set[int] = set()
    for idx in range(min(2, len(scores))):
        k, sc = scores[idx]
        back = (k - scores[0][0]) * n
        for j in np.argsort(sc)[::-1][:50]:
            anchors.add(max(0, int(j) - back))
    best = 0.0
    for anchor in anchors:
        k0, first = scores[0]
        lo, hi = max(0, anchor - slip), min(len(first), anchor + slip + 1)
        if lo >= hi:
            continue
        pos = lo + int(np.argmax(first[lo:hi]))
        found, k_prev = [float(first[pos])], k0
        for k, sc in scores[1:]:
            expect = pos + (k - k_prev) * n
            lo, hi = max(0, expect - slip), min(len(sc), expect + slip + 1)
            if lo >= hi:
                found.append(0.0)
                break
            j = lo + int(np.argmax(sc[lo:hi]))
            found.append(float(sc[j]))
            pos, k_prev = j, k
        best = max(best, sorted(found)[forgive] if len(found) > forgive else 0.0)
    return best


def speech_seconds(samples: npt.NDArray[Any], threshold: float = 300.0) -> float:
    """Seconds of 20 ms frames whose RMS exceeds ``threshold`` (int16 scale)."""
    n = len(samples) // FRAME_SAMPLES
    if n == 0:
        return 0.0
    frames = samples[: n * FRAME_SAMPLES].astype(np.float64).reshape(n, FRAME_SAMPLES)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return float(np.sum(rms > threshold)) * FRAME_SAMPLES / SAMPLE_RATE


def make_signal(seconds: float = 2.0, seed: int = 1) -> npt.NDArray[Any]:
    """A speech-like, non-periodic test signal (band-limited noise bursts), int16 at 8 kHz.

    Non-periodic so that correlation peaks only at the true lag; band-limited to 300-3400 Hz
    so that G.711 carries it well.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    noise = rng.standard_normal(n)
    spec = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spec[(freqs < 300) | (freqs > 3400)] = 0
    band = np.fft.irfft(spec, n)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * np.arange(n) / SAMPLE_RATE) ** 2
    sig = band * env
    sig = sig / float(np.max(np.abs(sig))) * 12000
    return sig.astype(np.int16)
