"""Minimal SIP message helpers for tests that speak SIP by hand (raw UDP, SIP over WebSocket).

Only what the tests need: build a request, parse a response, answer a digest challenge
(RFC 8760 MD5 / SHA-256, qop=auth).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field


@dataclass
class SipResponse:
    status: int
    reason: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def parse_response(data: bytes | str) -> SipResponse:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    m = re.match(r"SIP/2\.0 (\d{3}) ?(.*)", lines[0])
    if not m:
        raise ValueError(f"not a SIP response: {lines[0]!r}")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return SipResponse(int(m.group(1)), m.group(2), headers, body)


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
