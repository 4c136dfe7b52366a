"""SIP digest authentication of incoming INVITEs (RFC 3261 / RFC 2617, MD5, qop=auth):
sans-I/O. Opt-in (``SIP_EDGE_DIGEST_AUTH=true``): on top of the source check, a caller must
prove it knows the extension's password (``EXT_2000_PASSWORD``, the one sip-edge registers
with; Asterisk answers the challenge with the same credentials, its endpoint 2000's
``outbound_auth``).

Nonces are stateless: ``<unix time>.<HMAC of it>`` under a key made at start-up, valid for
``NONCE_TTL_S``; an INVITE retried after the challenge carries it back.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["REALM", "DigestAuth", "parse_authorization"]

REALM = "sip-edge"
NONCE_TTL_S = 300
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def _md5(text: str) -> str:
    # RFC 2617's digest: the algorithm SIP phones and Asterisk speak
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the protocol's hash


def parse_authorization(value: str) -> dict[str, str] | None:
    """The parameters of a ``Digest ...`` Authorization header, or None."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(rest)
    }


def authorization_header(message: str) -> str | None:
    """The first Authorization header of a raw SIP message (its head only)."""
    head = message.split("\r\n\r\n", 1)[0]
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "authorization":
            return value.strip()
    return None


@dataclass
class DigestAuth:
    username: str
    password: str
    clock: Callable[[], float] = time.time
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def _sign(self, stamp: str) -> str:
        return hmac.new(self.key, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def challenge(self) -> str:
        """A WWW-Authenticate value with a fresh nonce."""
        stamp = str(int(self.clock()))
        nonce = f"{stamp}.{self._sign(stamp)}"
        return f'Digest realm="{REALM}", nonce="{nonce}", algorithm=MD5, qop="auth"'

    def _nonce_ok(self, nonce: str) -> bool:
        stamp, _, mac = nonce.partition(".")
        if not stamp.isdigit() or not hmac.compare_digest(mac, self._sign(stamp)):
            return False
        return 0 <= self.clock() - int(stamp) <= NONCE_TTL_S

    def verify(self, method: str, authorization: str | None) -> bool:
        """True when ``authorization`` answers one of our challenges with the password."""
        if not authorization:
            return False
        p = parse_authorization(authorization)
        if p is None:
            return False
        need = ("username", "realm", "nonce", "uri", "response")
        if any(k not in p for k in need) or p["username"] != self.username:
            return False
        if p["realm"] != REALM or not self._nonce_ok(p["nonce"]):
            return False
        if p.get("algorithm", "MD5").upper() != "MD5":
            return False
        ha1 = _md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = _md5(f"{method}:{p['uri']}")
        qop = p.get("qop")
        if qop is None:
            expected = _md5(f"{ha1}:{p['nonce']}:{ha2}")
        elif qop == "auth" and "nc" in p and "cnonce" in p:
            expected = _md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}")
        else:
            return False
        return hmac.compare_digest(expected, p["response"].lower())
