"""The URA (access code 9), driven with RFC 4733 DTMF from a PJSUA2 phone."""

from __future__ import annotations

import pytest
from pbx_support import prompt, wait_heard
from sipphone import Phone, PhoneCall

pytestmark = pytest.mark.slow


def _enter_ura(phones: dict[str, Phone]) -> PhoneCall:
    call = phones["1003"].call("9")
    call.wait_confirmed()
    wait_heard(call, prompt("ura-menu"), timeout=10)
    return call


@pytest.mark.parametrize(
    ("option", "rung", "not_rung"), [("1", "1001", "1002"), ("2", "1002", "1001")]
)
def test_options_1_and_2_ring_the_operator_and_support(
    phones: dict[str, Phone], option: str, rung: str, not_rung: str
) -> None:
    call = _enter_ura(phones)
    call.send_dtmf(option)
    phones[rung].wait_incoming(15)
    assert not phones[not_rung].has_incoming()


def test_option_3_dials_the_extension_typed(phones: dict[str, Phone]) -> None:
    call = _enter_ura(phones)
    call.send_dtmf("3")
    wait_heard(call, prompt("ura-digite-ramal", 0.1, 0.8), timeout=10)
    call.send_dtmf("1002")
    phones["1002"].wait_incoming(15)
    assert not phones["1001"].has_incoming()


def test_option_3_rejects_an_invalid_extension(phones: dict[str, Phone]) -> None:
    call = _enter_ura(phones)
    call.send_dtmf("3")
    wait_heard(call, prompt("ura-digite-ramal", 0.1, 0.8), timeout=10)
    call.send_dtmf("5555")
    wait_heard(call, prompt("ura-ramal-invalido", 0.05, 0.6), timeout=15)
    call.clear_recording()
    wait_heard(call, prompt("ura-menu"), timeout=10)  # back to the menu


def test_option_0_repeats_the_menu(phones: dict[str, Phone]) -> None:
    call = _enter_ura(phones)
    call.clear_recording()
    call.send_dtmf("0")
    # within 6 s: well before the menu (10 s) plus the timeout (4 s) would repeat it anyway
    wait_heard(call, prompt("ura-menu"), timeout=6)


def test_invalid_option_is_announced_and_the_menu_repeats(phones: dict[str, Phone]) -> None:
    call = _enter_ura(phones)
    call.send_dtmf("7")
    wait_heard(call, prompt("ura-opcao-invalida", 0.4, 0.9), timeout=10)
    call.clear_recording()
    wait_heard(call, prompt("ura-menu"), timeout=10)
    assert not phones["1001"].has_incoming()
    assert not phones["1002"].has_incoming()
