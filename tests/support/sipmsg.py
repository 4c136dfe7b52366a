"""Minimal SIP message helpers for tests that speak SIP by hand (raw UDP, SIP over WebSocket).

Only what the tests and benchmarks need: build a request or a response, parse either, answer
a digest challenge (RFC 8760 MD5 / SHA-256, qop=auth).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(kw_only=True)
class _Message:
    headers: dict[str, list[str]] = field(default_factory=dict)
    """Lower-case names, every value in order."""
    body: str = ""

    def header(self, name: str) -> str | None:
        """The first value of a header (names in any case)."""
        values = self.headers.get(name.lower())
        return values[0] if values else None


@dataclass
class SipResponse(_Message):
    status: int
    reason: str


@dataclass
class SipRequest(_Message):
    method: str
    uri: str


def _split(data: bytes | str) -> tuple[str, dict[str, list[str]], str]:
    """Start line, headers (lower-case names, every value in order) and body."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers, body


def parse_response(data: bytes | str) -> SipResponse:
    start, headers, body = _split(data)
    m = re.match(r"SIP/2\.0 (\d{3}) ?(.*)", start)
    if not m:
        raise ValueError(f"not a SIP response: {start!r}")
    return SipResponse(int(m.group(1)), m.group(2), headers=headers, body=body)


def parse_request(data: bytes | str) -> SipRequest:
    start, headers, body = _split(data)
    m = re.match(r"([A-Z]+) (\S+) SIP/2\.0$", start)
    if not m:
        raise ValueError(f"not a SIP request: {start!r}")
    return SipRequest(m.group(1), m.group(2), headers=headers, body=body)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def build_request(
    method: str,
    uri: str,
    headers: list[tuple[str, str]],
    body: str = "",
) -> str:
    lines = [f"{method} {uri} SIP/2.0"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


_ECHOED = (("via", "Via"), ("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq"))


def build_register(
    uri: str, user: str, via: str, contact: str, call_id: str, cseq: int, tag: str, auth: str = ""
) -> str:
    """A REGISTER of ``user`` at 127.0.0.1 (60 s), with its Authorization when ``auth``."""
    headers = [
        ("Via", via),
        ("Max-Forwards", "70"),
        ("From", f"<sip:{user}@127.0.0.1>;tag={tag}"),
        ("To", f"<sip:{user}@127.0.0.1>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} REGISTER"),
        ("Contact", contact),
        ("Expires", "60"),
    ]
    if auth:
        headers.append(("Authorization", auth))
    return build_request("REGISTER", uri, headers)


def build_response(
    req: SipRequest,
    status: int,
    reason: str,
    headers: list[tuple[str, str]] | None = None,
    body: str = "",
) -> str:
    """A response to ``req``: its Via, From, To, Call-ID and CSeq echoed, then ``headers``."""
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"{name}: {v}" for key, name in _ECHOED for v in req.headers.get(key, [])]
    lines += [f"{k}: {v}" for k, v in headers or []]
    lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def parse_challenge(value: str) -> dict[str, str]:
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "digest":
        raise ValueError(f"unsupported auth scheme {scheme!r}")
    return {k.lower(): v for k, v in re.findall(r'(\w+)="?([^",]*)"?', rest)}


def digest_authorization(
    challenge: str, method: str, uri: str, username: str, password: str
) -> str:
    """Authorization header value answering a WWW-Authenticate digest challenge."""
    c = parse_challenge(challenge)
    algo = c.get("algorithm", "MD5").upper()
    hfun = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algo]

    def h(s: str) -> str:
        return hfun(s.encode()).hexdigest()

    ha1 = h(f"{username}:{c['realm']}:{password}")
    ha2 = h(f"{method}:{uri}")
    parts = [
        f'username="{username}"',
        f'realm="{c["realm"]}"',
        f'nonce="{c["nonce"]}"',
        f'uri="{uri}"',
        f"algorithm={algo}",
    ]
    if "auth" in c.get("qop", "").split(","):
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = h(f"{ha1}:{c['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = h(f"{ha1}:{c['nonce']}:{ha2}")
    parts.append(f'response="{response}"')
    if "opaque" in c:
        parts.append(f'opaque="{c["opaque"]}"')
    return "Digest " + ", ".join(parts)


def received(s: socket.socket, timeout: float) -> Iterator[bytes | None]:
    """What the UDP socket ``s`` receives for ``timeout`` seconds, polled every 0.5 s: each
    datagram, or None for a poll that got nothing (a caller may stop at a quiet moment)."""
    s.settimeout(0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data, _ = s.recvfrom(65535)
        except TimeoutError:
            yield None
            continue
        yield data
