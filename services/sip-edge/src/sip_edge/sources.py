"""Which addresses may send sip-edge an INVITE (sans-I/O, apart from :func:`resolve`).

sip-edge is the agent's line: a call to it costs LLM, STT and TTS time. Only the PBX in
front of it (Asterisk, or an SBC) may place calls; any other source gets 403 Forbidden.
``SIP_EDGE_ALLOWED_SOURCES`` lists them: IP addresses, networks (CIDR) or host names
(resolved once at start-up), comma separated; ``*`` opens the line to every source (only
behind a firewall that does the filtering). Empty: the registrar's host, or 127.0.0.1 when
sip-edge does not register.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "ANY",
    "LOOPBACK_ONLY",
    "SourcePolicy",
    "SourcesError",
    "parse_sources",
    "resolve",
    "source_ip",
]

ANY = "*"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SourcesError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """The networks allowed to call; ``any_source`` opens the line to everyone."""

    networks: tuple[Network, ...]
    any_source: bool = False

    def allows(self, address: str) -> bool:
        """``address`` is an IP, or PJSIP's ``ip:port`` / ``[ipv6]:port`` source string."""
        if self.any_source:
            return True
        ip = source_ip(address)
        if ip is None:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == n.version and ip in n for n in self.networks)

    def describe(self) -> str:
        return ANY if self.any_source else ", ".join(str(n) for n in self.networks)


LOOPBACK_ONLY = SourcePolicy((ipaddress.ip_network("127.0.0.1/32"),))


def source_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP of ``1.2.3.4``, ``1.2.3.4:5060``, ``[::1]:5060`` or ``::1``; None if malformed."""
    a = address.strip()
    if a.startswith("["):
        a = a[1 : a.find("]")] if "]" in a else ""
    elif a.count(":") == 1:
        a = a.split(":", 1)[0]
    try:
        return ipaddress.ip_address(a)
    except ValueError:
        return None


def parse_sources(
    raw: str,
    default_hosts: Iterable[str],
    resolver: Callable[[str], list[str]],
) -> SourcePolicy:
    """The policy of ``raw`` (SIP_EDGE_ALLOWED_SOURCES); empty: ``default_hosts``.

    Host names go through ``resolver`` (an I/O function: :func:`resolve` in production)."""
    items = [i.strip() for i in raw.split(",") if i.strip()] or list(default_hosts)
    if ANY in items:
        if len(items) > 1:
            raise SourcesError(f"SIP_EDGE_ALLOWED_SOURCES: {ANY!r} must stand alone")
        return SourcePolicy((), any_source=True)
    networks: list[Network] = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
            continue
        except ValueError:
            pass
        if "/" in item or not _hostname(item):
            raise SourcesError(
                f"SIP_EDGE_ALLOWED_SOURCES: {item!r} is not an IP address, a network or a host name"
            )
        addresses = resolver(item)
        if not addresses:
            raise SourcesError(f"SIP_EDGE_ALLOWED_SOURCES: host {item!r} does not resolve")
        networks.extend(ipaddress.ip_network(a) for a in addresses)
    if not networks:
        raise SourcesError("SIP_EDGE_ALLOWED_SOURCES names no source")
    return SourcePolicy(tuple(dict.fromkeys(networks)))


def _hostname(item: str) -> bool:
    labels = item.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        for label in labels
    )


def resolve(host: str) -> list[str]:
    """The IPv4/IPv6 addresses of ``host`` (blocking DNS: call at start-up only)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
