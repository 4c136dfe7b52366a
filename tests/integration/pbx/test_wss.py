"""WebRTC extensions register over SIP over WebSocket (RFC 7118) on wss://:8189/ws.

The client here speaks SIP by hand over the `websockets` package; the browser comes with
the softphone.
"""

from __future__ import annotations

import secrets
import ssl

import pytest
import websockets
from pbx_support import cli
from sipmsg import build_register, digest_authorization, new_branch, parse_response
from websockets.typing import Subprotocol

URL = "wss://127.0.0.1:8189/ws"
SIP = Subprotocol("sip")


def _tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the certificate is self-signed (compose/certs)
    return ctx


def _register(user: str, call_id: str, cseq: int, tag: str, auth: str | None = None) -> str:
    via = f"SIP/2.0/WSS test.invalid;branch={new_branch()}"
    contact = f"<sip:{user}@test.invalid;transport=ws>;expires=60"
    return build_register("sip:127.0.0.1", user, via, contact, call_id, cseq, tag, auth or "")


async def _try_register(user: str, password: str) -> int:
    call_id, tag = secrets.token_hex(8), secrets.token_hex(4)
    async with websockets.connect(URL, subprotocols=[SIP], ssl=_tls()) as ws:
        assert ws.subprotocol == "sip"
        await ws.send(_register(user, call_id, 1, tag))
        first = parse_response(await ws.recv(decode=True))
        assert first.status == 401
        challenge = first.header("www-authenticate")
        assert challenge
        auth = digest_authorization(challenge, "REGISTER", "sip:127.0.0.1", user, password)
        await ws.send(_register(user, call_id, 2, tag, auth))
        final = parse_response(await ws.recv(decode=True))
        if final.status == 200:
            contacts = cli("pjsip show contacts")
            assert f"{user}/sip:{user}@127.0.0.1:" in contacts
            assert "transport=ws" in contacts
            # unregister, so that the contact does not outlive the socket
            await ws.send(
                _register(user, call_id, 3, tag, auth)
                .replace("expires=60", "expires=0")
                .replace("Expires: 60", "Expires: 0")
            )
            await ws.recv()
        return final.status


async def test_1004_registers_over_wss(passwords: dict[str, str]) -> None:
    assert await _try_register("1004", passwords["1004"]) == 200


async def test_wss_wrong_password_is_refused(passwords: dict[str, str]) -> None:
    status = await _try_register("1005", passwords["1005"] + "x")
    assert status in (401, 403)
    assert "1005/sip:" not in cli("pjsip show contacts")


async def test_wss_malformed_sip_does_not_break_the_server(passwords: dict[str, str]) -> None:
    async with websockets.connect(URL, subprotocols=[SIP], ssl=_tls()) as ws:
        for junk in ("\x00\x01garbage", "REGISTER\r\n\r\n", "SIP/2.0 999\r\n\r\n" + "A" * 4000):
            await ws.send(junk)
    # the server keeps serving WebSocket clients
    assert await _try_register("1004", passwords["1004"]) == 200


@pytest.mark.parametrize("path", ["/", "/nao-existe"])
async def test_only_the_ws_path_speaks_sip(path: str) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(
            "wss://127.0.0.1:8189" + path,
            subprotocols=[SIP],
            ssl=_tls(),
        ):
            pass
