"""The "Adicionar novos ramais" recipe of docs/ASTERISK.md works as written."""

from __future__ import annotations

import re
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


@pytest.fixture
def extension_1006(asterisk: None, tmp_path: Path) -> Iterator[None]:
    (tmp_path / "pjsip_custom.conf").write_text(_recipe())
    runner("install-config", env={**TEST_ENV, "PABX_EXTRA_CONFIG_DIR": str(tmp_path)})
    cli("pjsip reload")
    try:
        yield
    finally:
        runner("install-config", env=TEST_ENV)


def test_documented_recipe_adds_a_working_extension(
    extension_1006: None, stack: SipStack, phones: dict[str, Phone]
) -> None:
    assert "1006" in cli("pjsip show endpoint 1006")
    new = stack.add_phone("1006", "suasenha123")
    try:
        assert new.reg_status == 200
        out = phones["1001"].call("1006")
        inc = new.wait_incoming(10)
        inc.answer()
        out.wait_confirmed()
    finally:
        stack.hangup_all()
        stack.remove_phone(new)
