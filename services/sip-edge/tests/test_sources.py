"""SIP_EDGE_ALLOWED_SOURCES and SIP_EDGE_DIGEST_AUTH (sans-I/O): which INVITEs sip-edge
accepts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pipeline.testing import refused_settings
from sip_edge.digest import NONCE_TTL_S, DigestAuth, authorization_header
from sip_edge.settings import Settings, SettingsError
from sip_edge.sources import SourcesError, parse_sources, source_ip


def no_dns(host: str) -> list[str]:
    return {"asterisk": ["10.1.2.3"], "pbx.example": ["192.0.2.7", "2001:db8::7"]}.get(host, [])


@pytest.mark.parametrize(
    ("address", "ip"),
    [
        ("127.0.0.1:5160", "127.0.0.1"),
        ("127.0.0.2", "127.0.0.2"),
        ("[::1]:5060", "::1"),
        ("::1", "::1"),
    ],
)
def test_source_ip_reads_pjsip_source_strings(address: str, ip: str) -> None:
    assert str(source_ip(address)) == ip


@pytest.mark.parametrize("address", ["", "garbage", "[::1", "1.2.3.4:x:y", "999.1.1.1:5060"])
def test_malformed_source_is_never_allowed(address: str) -> None:
    assert source_ip(address) is None
    assert not parse_sources("0.0.0.0/0", [], no_dns).allows(address)


def test_default_is_the_registrar_host_only() -> None:
    policy = Settings.from_env({"SIP_EDGE_REGISTRAR": "127.0.0.1:5160"}).source_policy()
    assert policy.allows("127.0.0.1:5160")
    assert not policy.allows("127.0.0.2:5060")
    assert not policy.allows("10.0.0.5:5060")


def test_default_without_registrar_is_loopback_127_0_0_1() -> None:
    policy = Settings.from_env({}).source_policy()
    assert policy.allows("127.0.0.1:40000")
    assert not policy.allows("127.0.0.2:40000")


def test_host_names_networks_and_ipv6() -> None:
    policy = parse_sources("asterisk, 198.51.100.0/24, pbx.example", [], no_dns)
    assert policy.allows("10.1.2.3:5160")
    assert not policy.allows("10.1.2.4:5160")
    assert policy.allows("198.51.100.77:5060")
    assert policy.allows("[2001:db8::7]:5060")
    assert policy.allows("[::ffff:192.0.2.7]:5060")  # IPv4-mapped
    assert not policy.allows("[2001:db8::8]:5060")


def test_star_opens_the_line_and_must_stand_alone() -> None:
    assert parse_sources("*", [], no_dns).allows("203.0.113.9:5060")
    with pytest.raises(SourcesError, match="stand alone"):
        parse_sources("*, 127.0.0.1", [], no_dns)


def _sources(raw: str) -> object:
    return parse_sources(raw, [], no_dns)


test_malformed_sources_are_clear_errors = refused_settings(
    _sources,
    SourcesError,
    [
        ("nope.invalid", "does not resolve"),
        ("10.0.0.0/33", "not an IP address"),
        ("bad host!", "not an IP address"),
    ],
)


def test_settings_reject_a_malformed_list_at_once() -> None:
    with pytest.raises(SettingsError, match="SIP_EDGE_ALLOWED_SOURCES"):
        Settings.from_env({"SIP_EDGE_ALLOWED_SOURCES": "10.0.0.0/33"})


# --- digest (SIP_EDGE_DIGEST_AUTH) ----------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
from sipmsg import digest_authorization  # noqa: E402

URI = "sip:2000@127.0.0.1:5070"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_digest_round_trip_with_the_extensions_password() -> None:
    auth = DigestAuth("2000", "s3nha-do-2000", clock=Clock())
    challenge = auth.challenge()
    good = digest_authorization(challenge, "INVITE", URI, "2000", "s3nha-do-2000")
    assert auth.verify("INVITE", good)
    assert not auth.verify("INVITE", None)
    assert not auth.verify("INVITE", "Basic MjAwMDp4")
    assert not auth.verify("INVITE", digest_authorization(challenge, "INVITE", URI, "2000", "x"))
    other_user = digest_authorization(challenge, "INVITE", URI, "1001", "s3nha-do-2000")
    assert not auth.verify("INVITE", other_user)
    assert not auth.verify("BYE", good)  # the method is part of the hash


def test_digest_nonce_is_ours_and_expires() -> None:
    clock = Clock()
    auth = DigestAuth("2000", "pw", clock=clock)
    challenge = auth.challenge()
    forged = challenge.replace('nonce="', 'nonce="1', 1)
    assert not auth.verify("INVITE", digest_authorization(forged, "INVITE", URI, "2000", "pw"))
    other = DigestAuth("2000", "pw", clock=clock)  # another process: another key
    assert not other.verify("INVITE", digest_authorization(challenge, "INVITE", URI, "2000", "pw"))
    clock.now += NONCE_TTL_S + 1
    assert not auth.verify("INVITE", digest_authorization(challenge, "INVITE", URI, "2000", "pw"))


def test_digest_needs_the_password_setting() -> None:
    with pytest.raises(SettingsError, match="EXT_2000_PASSWORD"):
        Settings.from_env({"SIP_EDGE_DIGEST_AUTH": "true"})
    assert Settings.from_env({"SIP_EDGE_DIGEST_AUTH": "true", "EXT_2000_PASSWORD": "x"}).digest_auth


def test_authorization_header_is_read_from_the_raw_message() -> None:
    msg = "INVITE sip:2000@h SIP/2.0\r\nVia: x\r\nauthorization: Digest a=1\r\n\r\nv=0\r\n"
    assert authorization_header(msg) == "Digest a=1"
    assert authorization_header("INVITE sip:2000@h SIP/2.0\r\nVia: x\r\n\r\n") is None
