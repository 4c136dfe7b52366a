"""A light SIP phone for load benchmarks: raw SIP over UDP and raw RTP (PCMU), no PJSUA.

Many calls from one extension, each with its own RTP socket. One thread (:class:`MediaEngine`)
sends every call's frames on a 20 ms tick and receives everything; each received packet is
stamped by the kernel (``SO_TIMESTAMPNS``), so the time Python takes to get to a packet does
not enter what is measured. Each call talks like a caller (:class:`Leg`): says its phrase,
listens until the other side has spoken and gone quiet, waits a little, speaks again.

:class:`SipUA` places calls (INVITE with SDP PCMU/8000 + telephone-event, digest
authentication, ACK, BYE) and answers what the PBX sends inside a dialog with 200 OK.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import random
import secrets
import select
import socket
import struct
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from sipmsg import (
    SipRequest,
    SipResponse,
    build_request,
    build_response,
    digest_authorization,
    new_branch,
    parse_request,
    parse_response,
)

FRAME_MS = 20
FRAME_SAMPLES = 160
SILENT_BYTES = b"\xff\x7f"  # PCMU codes of +0 and -0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python 3.11 lacks the name
_ANC_SIZE = socket.CMSG_SPACE(16)


class SipError(RuntimeError):
    pass


# --- G.711 ---------------------------------------------------------------------------------


_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def ulaw_encode(samples: npt.NDArray[np.number[Any]]) -> bytes:
    """PCM16 samples to G.711 mu-law bytes (the reference g711.c on the top 14 bits, as
    CPython's audioop.lin2ulaw)."""
    x = samples.astype(np.int32) >> 2
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(x), 8159) + 33
    seg = np.searchsorted(_SEG_END, mag)
    code = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F))
    encoded: bytes = (code ^ mask).astype(np.uint8).tobytes()
    return encoded


def ulaw_frames(samples: npt.NDArray[np.number[Any]]) -> list[bytes]:
    """Samples (8 kHz) as 20 ms PCMU payloads; the last one padded with silence."""
    n = -(-len(samples) // FRAME_SAMPLES)
    padded = np.zeros(n * FRAME_SAMPLES, dtype=np.int32)
    padded[: len(samples)] = samples
    data = ulaw_encode(padded)
    return [data[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]


SILENCE_FRAME = ulaw_encode(np.zeros(FRAME_SAMPLES))


# --- SIP -----------------------------------------------------------------------------------


def sdp_offer(rtp_port: int, session_id: int) -> str:
    return (
        "v=0\r\n"
        f"o=- {session_id} 1 IN IP4 127.0.0.1\r\n"
        "s=load\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
    )


def sdp_media_address(sdp: str) -> tuple[str, int]:
    host, port = "", 0
    for line in sdp.splitlines():
        if line.startswith("c=IN IP4 "):
            host = line.split()[2]
        elif line.startswith("m=audio "):
            port = int(line.split()[1])
    if not host or not port:
        raise SipError(f"no audio address in the SDP answer: {sdp!r}")
    return host, port


def _tag(header: str | None) -> str:
    for part in (header or "").split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k == "tag":
            return v
    return ""


def _uri(header: str | None) -> str:
    h = header or ""
    return h[h.index("<") + 1 : h.index(">")] if "<" in h else h.split(";")[0].strip()


@dataclasses.dataclass
class Dialog:
    call_id: str
    sdp: str
    local_tag: str = dataclasses.field(default_factory=lambda: secrets.token_hex(6))
    cseq: int = 0
    remote_tag: str = ""
    remote_target: str = ""
    ack: bytes = b""
    ended_by_peer: bool = False
    responses: queue.SimpleQueue[SipResponse] = dataclasses.field(default_factory=queue.SimpleQueue)


class SipUA:
    """Calls from ``user`` to extension ``target`` through the PBX at ``server``; one UDP
    socket for all of them."""

    T1 = 0.5

    def __init__(
        self,
        user: str,
        password: str,
        target: str,
        server: tuple[str, int] = ("127.0.0.1", 5160),
    ) -> None:
        self.user = user
        self.target = target
        self.password = password
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.dialogs: dict[str, Dialog] = {}
        self._stop = False
        self._thread = threading.Thread(target=self._receive, name="sip-ua", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()

    # --- requests --------------------------------------------------------------------------

    def _headers(self, d: Dialog, method: str, branch: str) -> list[tuple[str, str]]:
        to = f"<sip:{self.target}@{self.server[0]}>"
        if d.remote_tag:
            to += f";tag={d.remote_tag}"
        return [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch={branch}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{self.user}@{self.server[0]}>;tag={d.local_tag}"),
            ("To", to),
            ("Call-ID", d.call_id),
            ("CSeq", f"{d.cseq} {method}"),
            ("Contact", f"<sip:{self.user}@127.0.0.1:{self.port}>"),
            ("User-Agent", "pabx-load-phone"),
        ]

    def _answer_challenge(self, resp: SipResponse, method: str, uri: str) -> tuple[str, str]:
        challenge = resp.header("www-authenticate") or resp.header("proxy-authenticate") or ""
        name = "Authorization" if resp.status == 401 else "Proxy-Authorization"
        return name, digest_authorization(challenge, method, uri, self.user, self.password)

    def _send(self, msg: str) -> None:
        self.sock.sendto(msg.encode(), self.server)

    def _transaction(self, d: Dialog, msg: str, method: str, timeout: float) -> SipResponse:
        """Sends ``msg`` (retransmitted until a response comes) and returns the final
        response to it."""
        want = f"{d.cseq} {method}"
        self._send(msg)
        now = time.monotonic()
        deadline, interval, provisional = now + timeout, self.T1, False
        next_send = now + interval
        while (now := time.monotonic()) < deadline:
            limit = deadline if provisional else min(deadline, next_send)
            try:
                resp = d.responses.get(timeout=max(0.005, limit - now))
            except queue.Empty:
                if not provisional and time.monotonic() >= next_send:
                    self._send(msg)
                    interval = min(interval * 2, 4.0)
                    next_send = time.monotonic() + interval
                continue
            if resp.header("cseq") != want:
                continue
            if resp.status >= 200:
                return resp
            provisional = True
        raise SipError(f"no final response to {method} {d.call_id}")

    def call(self, rtp_port: int, timeout: float = 15.0) -> tuple[Dialog, str]:
        """INVITE (answering a digest challenge) until 200 OK, then ACK. Returns the
        dialog and the SDP answer."""
        uri = f"sip:{self.target}@{self.server[0]}:{self.server[1]}"
        d = Dialog(call_id=secrets.token_hex(12) + "@load", sdp="")
        d.sdp = sdp_offer(rtp_port, random.randrange(1 << 30))
        self.dialogs[d.call_id] = d
        auth: tuple[str, str] | None = None
        for _attempt in range(3):
            d.cseq += 1
            branch = new_branch()
            headers = self._headers(d, "INVITE", branch)
            headers.append(("Content-Type", "application/sdp"))
            if auth is not None:
                headers.append(auth)
            resp = self._transaction(
                d, build_request("INVITE", uri, headers, d.sdp), "INVITE", timeout
            )
            if resp.status >= 300:
                # ACK of a failure: same branch and request URI, the To of the response.
                ack_headers = [h for h in headers[:5] if h[0] != "To"]
                ack_headers += [("To", resp.header("to") or ""), ("CSeq", f"{d.cseq} ACK")]
                self._send(build_request("ACK", uri, ack_headers))
            if resp.status in (401, 407):
                auth = self._answer_challenge(resp, "INVITE", uri)
                continue
            if resp.status >= 300:
                raise SipError(f"INVITE failed: {resp.status} {resp.reason}")
            d.remote_tag = _tag(resp.header("to"))
            d.remote_target = _uri(resp.header("contact")) or uri
            ack_headers = self._headers(d, "ACK", new_branch())
            d.ack = build_request("ACK", d.remote_target, ack_headers).encode()
            self.sock.sendto(d.ack, self.server)
            return d, resp.body
        raise SipError("INVITE: authentication refused")

    def hangup(self, d: Dialog, timeout: float = 5.0) -> None:
        if d.ended_by_peer:
            return
        auth: tuple[str, str] | None = None
        for _attempt in range(2):
            d.cseq += 1
            headers = self._headers(d, "BYE", new_branch())
            if auth is not None:
                headers.append(auth)
            msg = build_request("BYE", d.remote_target, headers)
            try:
                resp = self._transaction(d, msg, "BYE", timeout)
            except SipError:
                return
            if resp.status in (401, 407):
                auth = self._answer_challenge(resp, "BYE", d.remote_target)
                continue
            return

    # --- what arrives --------------------------------------------------------------------

    def _receive(self) -> None:
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                if data.startswith(b"SIP/2.0 "):
                    self._on_response(parse_response(data))
                else:
                    self._on_request(parse_request(data), addr)
            except (ValueError, KeyError, IndexError):
                continue

    def _on_response(self, resp: SipResponse) -> None:
        d = self.dialogs.get(resp.header("call-id") or "")
        if d is None:
            return
        if d.ack and 200 <= resp.status < 300 and (resp.header("cseq") or "").endswith("INVITE"):
            self.sock.sendto(d.ack, self.server)  # our ACK was lost: the 200 comes again
            return
        d.responses.put(resp)

    def _on_request(self, req: SipRequest, addr: tuple[str, int]) -> None:
        if req.method == "ACK":
            return
        d = self.dialogs.get(req.header("call-id") or "")
        extra: list[tuple[str, str]] = []
        body = ""
        if req.method == "BYE" and d is not None:
            d.ended_by_peer = True
        elif req.method == "INVITE" and d is not None:  # a re-INVITE: same media
            extra = [("Contact", f"<sip:{self.user}@127.0.0.1:{self.port}>")]
            extra.append(("Content-Type", "application/sdp"))
            body = d.sdp
        status, reason = (
            (200, "OK")
            if d is not None or req.method == "OPTIONS"
            else (
                481,
                "Call/Transaction Does Not Exist",
            )
        )
        self.sock.sendto(build_response(req, status, reason, extra, body).encode(), addr)


# --- RTP -----------------------------------------------------------------------------------


class Leg:
    """One call's media and the caller's behaviour.

    Caller: after the greeting (or ``first_wait`` s of nothing), says ``phrase``; then
    listens until it has heard the other side and that has been quiet for ``quiet_s``
    (or ``listen_timeout`` s passed), waits ``gap`` s (random) and says it again.

    Received packets are kept as (kernel receive time ns, sequence number, RTP timestamp,
    voiced): ``voiced`` is False for a payload of pure digital silence."""

    def __init__(
        self,
        index: int,
        remote: tuple[str, int],
        phrase: list[bytes],
        gap: tuple[float, float] = (0.5, 2.0),
        quiet_s: float = 0.3,
        listen_timeout: float = 10.0,
        first_wait: float = 5.0,
    ) -> None:
        self.index = index
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.remote = remote
        self.phrase = phrase
        self.gap = gap
        self.quiet_s = quiet_s
        self.listen_timeout = listen_timeout
        self.ssrc = random.randrange(1 << 32)
        self.seq = random.randrange(1 << 16)
        self.ts = random.randrange(1 << 32)
        self.marker = True
        self.state = "listen"
        self.pos = 0
        self.deadline = time.monotonic() + first_wait
        self.heard = False
        self.last_voiced = 0.0
        self.rx: list[tuple[int, int, int, bool]] = []
        self.speech_ends: list[int] = []
        """time.time_ns() at the end of each phrase the caller said."""
        self.listen_timeouts = 0

    def close(self) -> None:
        self.sock.close()

    def tick(self, now: float) -> None:
        """One media clock tick: the caller's next frame, sent."""
        if self.state == "listen":
            if self.heard and now - self.last_voiced >= self.quiet_s:
                self._wait(now)
            elif now >= self.deadline:
                self.listen_timeouts += 1
                self._wait(now)
        elif self.state == "wait" and now >= self.deadline:
            self.state, self.pos = "speak", 0
        if self.state == "speak":
            payload = self.phrase[self.pos]
            self.pos += 1
            if self.pos == len(self.phrase):
                self.speech_ends.append(time.time_ns() + FRAME_MS * 1_000_000)
                self.state, self.heard = "listen", False
                self.deadline = now + self.listen_timeout
        else:
            payload = SILENCE_FRAME
        header = struct.pack(
            "!BBHII", 0x80, (0x80 if self.marker else 0), self.seq, self.ts, self.ssrc
        )
        self.marker = False
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + FRAME_SAMPLES) & 0xFFFFFFFF
        with contextlib.suppress(OSError):
            self.sock.sendto(header + payload, self.remote)

    def _wait(self, now: float) -> None:
        self.state = "wait"
        self.deadline = now + random.uniform(*self.gap)

    def drain(self) -> None:
        """Reads every packet waiting on the socket."""
        while True:
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(2048, _ANC_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(data) < 12 or (data[1] & 0x7F) != 0:
                continue  # not PCMU (telephone-event, comfort noise)
            stamp = 0
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack("qq", value[:16])
                    stamp = sec * 1_000_000_000 + nsec
            if not stamp:
                stamp = time.time_ns()
            offset = 12 + 4 * (data[0] & 0x0F)
            if data[0] & 0x10 and len(data) >= offset + 4:  # header extension
                offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
            voiced = bool(data[offset:].translate(None, SILENT_BYTES))
            seq = (data[2] << 8) | data[3]
            rtp_ts = int.from_bytes(data[4:8], "big")
            self.rx.append((stamp, seq, rtp_ts, voiced))
            if voiced:
                self.last_voiced = time.monotonic()
                if self.state == "listen":
                    self.heard = True


class MediaEngine:
    """One thread: every 20 ms each leg sends a frame; in between, receives."""

    def __init__(self) -> None:
        self.legs: list[Leg] = []
        self._new: queue.SimpleQueue[Leg] = queue.SimpleQueue()
        self._stop = False
        self.late_ticks = 0
        """Ticks sent more than 5 ms late (this process was not scheduled in time)."""
        self._thread = threading.Thread(target=self._run, name="media", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, leg: Leg) -> None:
        self._new.put(leg)

    def stop(self) -> None:
        self._stop = True
        self._thread.join(5)

    def _run(self) -> None:
        poller = select.epoll()
        by_fd: dict[int, Leg] = {}
        tick = time.monotonic()
        try:
            while not self._stop:
                while not self._new.empty():
                    leg = self._new.get()
                    self.legs.append(leg)
                    by_fd[leg.sock.fileno()] = leg
                    poller.register(leg.sock.fileno(), select.EPOLLIN)
                now = time.monotonic()
                if now >= tick:
                    if now - tick > 0.005:
                        self.late_ticks += 1
                    for leg in self.legs:
                        leg.tick(now)
                    tick += FRAME_MS / 1000
                    if now - tick > 0.2:  # far behind: do not send a burst to catch up
                        tick = now + FRAME_MS / 1000
                for fd, _ev in poller.poll(max(0.0, tick - time.monotonic())):
                    by_fd[fd].drain()
        finally:
            poller.close()
