"""asp-gateway settings, and wss with a certificate (a gateway process of its own on a real
Redis; no workers: the handshake only)."""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path

import pytest
from pipeline.testing import RedisServer
from sip_edge.gateway.settings import GatewaySettings
from sip_edge.gateway.testing import GatewayProcess
from sip_edge.settings import SettingsError
from websockets.asyncio.client import connect


def test_a_token_is_required_unless_auth_is_off() -> None:
    with pytest.raises(SettingsError, match="ASP_GATEWAY_TOKEN"):
        GatewaySettings.from_env({})
    s = GatewaySettings.from_env({"ASP_GATEWAY_TOKEN": "t0k"})
    assert (s.auth, s.token, s.port, s.metrics_port) == ("token", "t0k", 8765, 9092)
    assert GatewaySettings.from_env({"ASP_GATEWAY_AUTH": "none"}).auth == "none"
    for bad in (
        {"ASP_GATEWAY_AUTH": "maybe", "ASP_GATEWAY_TOKEN": "x"},
        {"ASP_GATEWAY_TOKEN": "x", "ASP_GATEWAY_TLS_CERT": "/c.pem"},  # without its key
        {"ASP_GATEWAY_TOKEN": "x", "ASP_GATEWAY_PORT": "70000"},
        {"ASP_GATEWAY_TOKEN": "x", "ASP_GATEWAY_MAX_SESSIONS_PER_CONNECTION": "0"},
    ):
        with pytest.raises(SettingsError):
            GatewaySettings.from_env(bad)


@pytest.mark.integration  # the gateway as its own process
def test_the_process_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path / "gw.log", ASP_GATEWAY_TOKEN="")
    with pytest.raises(RuntimeError, match="did not start"):
        gw.__enter__()
    assert gw.returncode == 2  # configuration error
    assert "ASP_GATEWAY_TOKEN" in gw.log()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_wss_with_a_certificate(
    redis_server: RedisServer, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    env = {"ASP_GATEWAY_TLS_CERT": str(cert), "ASP_GATEWAY_TLS_KEY": str(key)}
    with GatewayProcess(tmp_path / "gw.log", REDIS_URL=redis_server.url, **env) as gw:
        ctx = ssl.create_default_context(cafile=str(cert))
        url = f"wss://127.0.0.1:{gw.port}/?token={gw.token}"
        async with connect(url, ssl=ctx) as ws:
            caps = json.loads(await ws.recv())
        assert caps["type"] == "protocol.capabilities"
        with pytest.raises(ssl.SSLError):  # a client that does not trust the certificate
            async with connect(url, ssl=ssl.create_default_context()):
                pass
