"""scripts/validate-sbc.sh against the running Asterisk, without and with the SBC example."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pbx_support import REPO, TEST_ENV, runner

SCRIPT = REPO / "scripts" / "validate-sbc.sh"
EXAMPLES = REPO / "compose" / "asterisk" / "config"
SBC_IP = "127.0.0.2"  # loopback: the trunk's OPTIONS never leave the machine


def _validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PABX_ASTERISK_LOCK_HELD": "1"},
    )


def test_without_a_trunk_validation_fails_in_portuguese(asterisk: None) -> None:
    result = _validate(SBC_IP)
    assert result.returncode != 0
    assert "[FALHA] endpoint 'sbc-trunk' não existe" in result.stdout
    assert "[OK]    transporte UDP na porta 5160" in result.stdout
    assert "faixa RTP 10000-10299" in result.stdout


@pytest.fixture
def sbc_trunk(asterisk: None, tmp_path: Path) -> Iterator[None]:
    shutil.copy(EXAMPLES / "pjsip-sbc.conf.example", tmp_path / "pjsip-sbc.conf")
    shutil.copy(EXAMPLES / "extensions-sbc.conf.example", tmp_path / "extensions-sbc.conf")
    runner(
        "install-config", env={**TEST_ENV, "SBC_IP": SBC_IP, "PABX_EXTRA_CONFIG_DIR": str(tmp_path)}
    )
    try:
        yield
    finally:
        runner("install-config", env=TEST_ENV)


def test_with_the_example_trunk_validation_passes(sbc_trunk: None) -> None:
    result = _validate(SBC_IP)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[FALHA]" not in result.stdout
    assert f"o IP {SBC_IP} é identificado como 'sbc-trunk'" in result.stdout
    assert "Resultado: 0 falha(s)" in result.stdout


def test_a_different_sbc_ip_fails(sbc_trunk: None) -> None:
    result = _validate("127.0.0.3")
    assert result.returncode != 0
    assert "o IP 127.0.0.3 não está no identify" in result.stdout


def test_without_asterisk_it_says_so(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RUN_DIR": str(tmp_path),
        "PABX_ASTERISK_MODE": "system",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0
    assert "Asterisk não responde" in result.stdout
