"""coturn with the shipped turnserver.conf (issue 15, item 7): the relay refuses every
loopback, private, link-local, CGNAT and special-use peer (403 to CreatePermission), accepts
a public one, and opens a private address only when the operator lists it
(TURN_ALLOWED_PEER_IPS, which compose/coturn/entrypoint.sh and scripts/coturn.sh turn into
--allowed-peer-ip). A real turnserver on a free loopback port; a TURN client in Python."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from turnclient import TurnClient, TurnError

REPO = Path(__file__).resolve().parents[3]
CONF = REPO / "compose" / "coturn" / "turnserver.conf"
USER, PASSWORD = "pabx", "test-" + "turn"

DENIED = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.10",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - a peer address the relay must refuse
    "198.18.0.1",
    "240.0.0.1",
]
DENIED_V6 = ["::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1"]
PUBLIC = ["8.8.8.8", "1.1.1.1"]
PUBLIC_V6 = ["2001:4860:4860::8888"]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_udp_and_tcp_port() -> int:
    """A port free for UDP and for TCP: turnserver listens on both (TCP and TLS on the same
    port); a port free only for UDP once failed a clean-clone run ("Cannot bind TLS/TCP
    listener socket ... Address already in use", an outgoing TCP connection held it)."""
    for _ in range(50):
        port = _free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")


def _turnserver(tmp_path: Path, *extra: str) -> Iterator[tuple[str, int]]:
    binary = shutil.which("turnserver")
    assert binary, "coturn missing: scripts/setup.d/35-security-tools.sh installs it"
    port = _free_udp_and_tcp_port()
    relay = _free_udp_port()
    log = tmp_path / "turnserver.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                binary,
                "-c",
                str(CONF),
                "--user",
                f"{USER}:{PASSWORD}",
                "--listening-ip",
                "127.0.0.1",
                "--relay-ip",
                "127.0.0.1",
                "--relay-ip",
                "::1",
                "-p",
                str(port),
                "--min-port",
                str(relay),
                "--max-port",
                str(relay + 20),
                "--pidfile",
                str(tmp_path / "turn.pid"),
                "--log-file",
                "stdout",
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            client = TurnClient(("127.0.0.1", port), USER, PASSWORD)
            try:
                client.allocate()
                break
            except (TimeoutError, OSError, TurnError):
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            finally:
                client.close()
        else:
            raise AssertionError(f"turnserver did not answer:\n{log.read_text()[-3000:]}")
        yield ("127.0.0.1", port)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[tuple[str, int]]:
    yield from _turnserver(tmp_path)


@pytest.fixture
def turn_opened(tmp_path: Path) -> Iterator[tuple[str, int]]:
    # what TURN_ALLOWED_PEER_IPS=192.168.1.10,10.1.0.0-10.1.0.255 becomes
    yield from _turnserver(
        tmp_path, "--allowed-peer-ip=192.168.1.10", "--allowed-peer-ip=10.1.0.0-10.1.0.255"
    )


def _permission(server: tuple[str, int], peer: str) -> int:
    client = TurnClient(server, USER, PASSWORD, ipv6=":" in peer)
    try:
        client.allocate()
        return client.create_permission(peer)
    finally:
        client.close()


def test_private_and_loopback_peers_are_refused(turn: tuple[str, int]) -> None:
    refused = {peer: _permission(turn, peer) for peer in DENIED}
    assert refused == {peer: 403 for peer in DENIED}


def test_private_and_loopback_ipv6_peers_are_refused(turn: tuple[str, int]) -> None:
    refused = {peer: _permission(turn, peer) for peer in DENIED_V6}
    assert refused == {peer: 403 for peer in DENIED_V6}


def test_public_peers_are_allowed(turn: tuple[str, int]) -> None:
    peers = PUBLIC + PUBLIC_V6
    assert {peer: _permission(turn, peer) for peer in peers} == {peer: 0 for peer in peers}


def test_the_operator_opens_only_what_it_lists(turn_opened: tuple[str, int]) -> None:
    assert _permission(turn_opened, "192.168.1.10") == 0
    assert _permission(turn_opened, "10.1.0.77") == 0
    assert _permission(turn_opened, "192.168.1.11") == 403
    assert _permission(turn_opened, "10.0.0.5") == 403
    assert _permission(turn_opened, "127.0.0.1") == 403
