"""Encrypted signalling and media (issue 15, item 4): a PJSUA2 phone registers over TLS on
5061, verifying the certificate the PBX generated, and calls the echo test with SRTP (SDES)
required: with ``srtpUse`` mandatory the call has media only if both ends agreed on SRTP,
and the keys travel only over TLS (``srtpSecureSignaling``). The extension is 1003: its TLS
registration replaces the session phone's UDP contact (one contact per extension), which is
registered again afterwards."""

from __future__ import annotations

import pjsua2 as pj
import pytest
from pbx_support import cli, prompt, wait_heard
from sipphone import Phone, SipStack, make_signal, poll_until

pytestmark = pytest.mark.slow


def _registered_again(phone: Phone) -> None:
    """The session's UDP phone registers again (its contact was replaced)."""
    before = phone.reg_events
    phone.stack.run(lambda: phone.setRegistration(True))
    poll_until(lambda: phone.reg_events > before, 10, f"registration of {phone.user}")
    assert phone.reg_status == 200
    poll_until(
        lambda: "transport=tls" not in cli(f"pjsip show aor {phone.user}").lower(),
        10,
        f"{phone.user}'s UDP contact",
    )


def test_a_phone_registers_over_tls_and_calls_the_echo_test_with_srtp(
    stack: SipStack, passwords: dict[str, str], phones: dict[str, Phone]
) -> None:
    tls_phone = stack.add_phone("1003", passwords["1003"], tls=True)
    try:
        assert tls_phone.reg_status == 200
        aor = cli("pjsip show aor 1003")
        assert "transport=tls" in aor.lower(), aor  # Asterisk reaches 1003 over TLS now

        call = tls_phone.call("*43")
        call.wait_confirmed()
        info = stack.run(lambda: call.getStreamInfo(0))
        assert info.proto == pj.PJMEDIA_TP_PROTO_RTP_SAVP  # RTP/SAVP: SRTP keyed by SDES
        wait_heard(call, prompt("eco-inicio"), timeout=10)
        sig = make_signal(2.0, seed=41)
        call.play(sig, loop=True)
        assert wait_heard(call, sig, timeout=15) >= 0.8  # our audio came back, decrypted
        call.hangup()
        call.wait_disconnected()
    finally:
        stack.remove_phone(tls_phone)
        _registered_again(phones["1003"])


def test_the_udp_phones_keep_plain_rtp(phones: dict[str, Phone]) -> None:
    """SRTP is offered to every desk phone and required of none: a phone that does not ask
    for it (the session's UDP phones, most desk phones) still has audio, in plain RTP."""
    call = phones["1001"].call("*43")
    call.wait_confirmed()
    info = phones["1001"].stack.run(lambda: call.getStreamInfo(0))
    assert info.proto == pj.PJMEDIA_TP_PROTO_RTP_AVP
    wait_heard(call, prompt("eco-inicio"), timeout=10)
    call.hangup()
    call.wait_disconnected()
