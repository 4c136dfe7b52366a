"""The "Adicionar novos ramais" recipe of docs/ASTERISK.md works as written."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from pbx_support import REPO, TEST_ENV, cli, runner
from sipphone import Phone, SipStack

DOC = REPO / "docs" / "ASTERISK.md"


def _recipe() -> str:
    text = DOC.read_text()
    m = re.search(r"<!-- recipe:start.*?```ini\n(.*?)```\n<!-- recipe:end -->", text, re.S)
    assert m, "recipe block missing from docs/ASTERISK.md"
    return m.group(1)


PASSWORD_1006 = secrets.token_hex(12)  # what compose/.env would hold (the recipe generates it)


@pytest.fixture
def extension_1006(asterisk: None, tmp_path: Path) -> Iterator[None]:
    (tmp_path / "pjsip_custom.conf").write_text(_recipe())
    runner(
        "install-config",
        env={
            **TEST_ENV,
            "PABX_EXTRA_CONFIG_DIR": str(tmp_path),
            "EXT_1006_PASSWORD": PASSWORD_1006,
        },
    )
    cli("pjsip reload")
    try:
        yield
    finally:
        runner("install-config", env=TEST_ENV)


def test_the_recipe_ships_no_password() -> None:
    recipe = _recipe()
    assert "password=@EXT_1006_PASSWORD@" in recipe
    assert "suasenha" not in recipe


def test_documented_recipe_adds_a_working_extension(
    extension_1006: None, stack: SipStack, phones: dict[str, Phone]
) -> None:
    assert "1006" in cli("pjsip show endpoint 1006")
    new = stack.add_phone("1006", PASSWORD_1006)
    try:
        assert new.reg_status == 200
        phones["1001"].call_answered("1006", new)
    finally:
        stack.hangup_all()
        stack.remove_phone(new)
