"""A minimal TURN client over UDP (RFC 5766/8656 with long-term credentials) for tests:
Allocate, then CreatePermission for one peer; returns the STUN error code or 0."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import socket
import struct

MAGIC = 0x2112A442
ALLOCATE, CREATE_PERMISSION = 0x0003, 0x0008
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE = 0x0006, 0x0008, 0x0009
XOR_PEER_ADDRESS, REALM, NONCE, REQUESTED_TRANSPORT = 0x0012, 0x0014, 0x0015, 0x0019
REQUESTED_ADDRESS_FAMILY = 0x0017


class TurnError(Exception):
    pass


def _attr(kind: int, value: bytes) -> bytes:
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def _xor_address(ip: str, port: int, tid: bytes) -> bytes:
    addr = ipaddress.ip_address(ip)
    xport = port ^ (MAGIC >> 16)
    if addr.version == 4:
        xaddr = int(addr) ^ MAGIC
        return struct.pack("!BBHI", 0, 1, xport, xaddr)
    key = int.from_bytes(struct.pack("!I", MAGIC) + tid, "big")
    return struct.pack("!BBH", 0, 2, xport) + (int(addr) ^ key).to_bytes(16, "big")


def _parse(data: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length, magic = struct.unpack("!HHI", data[:8])
    if magic != MAGIC:
        raise TurnError("not a STUN message")
    attrs: dict[int, bytes] = {}
    pos = 20
    while pos + 4 <= 20 + length:
        t, n = struct.unpack("!HH", data[pos : pos + 4])
        attrs.setdefault(t, data[pos + 4 : pos + 4 + n])
        pos += 4 + n + (4 - n % 4) % 4
    return kind, attrs


def _error(attrs: dict[int, bytes]) -> int:
    raw = attrs.get(ERROR_CODE, b"\0\0\0\0")
    return (raw[2] & 0x7) * 100 + raw[3]


class TurnClient:
    def __init__(
        self, server: tuple[str, int], user: str, password: str, *, ipv6: bool = False
    ) -> None:
        """``ipv6``: ask for an IPv6 relay (peers must then be IPv6)."""
        self.server, self.user, self.password = server, user, password
        self.ipv6 = ipv6
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(3)
        self.realm = b""
        self.nonce = b""

    def close(self) -> None:
        self.sock.close()

    def _send(
        self, method: int, attrs: list[bytes], tid: bytes, sign: bool
    ) -> tuple[int, dict[int, bytes]]:
        body = b"".join(attrs)
        if sign:
            body += _attr(USERNAME, self.user.encode())
            body += _attr(REALM, self.realm) + _attr(NONCE, self.nonce)
            header = struct.pack("!HHI", method, len(body) + 24, MAGIC) + tid
            # RFC 5389 long-term credentials: the key is MD5(user:realm:password)
            key = hashlib.md5(  # noqa: S324 - the protocol's hash, not ours to choose
                f"{self.user}:{self.realm.decode()}:{self.password}".encode()
            )
            mac = hmac.new(key.digest(), header + body, hashlib.sha1).digest()
            body += _attr(MESSAGE_INTEGRITY, mac)
        msg = struct.pack("!HHI", method, len(body), MAGIC) + tid + body
        self.sock.sendto(msg, self.server)
        for _ in range(10):
            data, _ = self.sock.recvfrom(4096)
            if data[8:20] == tid:
                return _parse(data)
        raise TurnError("no answer to the request")

    def allocate(self) -> None:
        transport = [_attr(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))]
        if self.ipv6:
            transport.append(_attr(REQUESTED_ADDRESS_FAMILY, bytes([2, 0, 0, 0])))
        kind, attrs = self._send(ALLOCATE, transport, os.urandom(12), sign=False)
        if kind == 0x0113 and _error(attrs) == 401:
            self.realm, self.nonce = attrs[REALM], attrs[NONCE]
            kind, attrs = self._send(ALLOCATE, transport, os.urandom(12), sign=True)
        if kind != 0x0103:
            raise TurnError(f"allocate failed: {_error(attrs)}")

    def create_permission(self, peer: str, port: int = 40000) -> int:
        """0 when the server accepted the peer, else the STUN error code (403: forbidden)."""
        tid = os.urandom(12)
        kind, attrs = self._send(
            CREATE_PERMISSION, [_attr(XOR_PEER_ADDRESS, _xor_address(peer, port, tid))], tid, True
        )
        if kind == 0x0108:
            return 0
        return _error(attrs)
