"""No doc or config the repository ships carries a literal password (issue 15, item 8):
scripts/check_secrets.py over docs/, compose/, k8s/, the READMEs and .env.example files,
and the checker itself tested on planted examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pipeline.testing import load_script

pytestmark = pytest.mark.integration  # git and scripts/check_secrets.py run as processes

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_secrets.py"


check = load_script(SCRIPT)


def test_the_shipped_docs_and_configs_have_no_literal_password() -> None:
    files = check.shipped_files()
    names = {str(f.relative_to(check.REPO)) for f in files}
    # the scan does cover what it promises (a git-ls-files that found nothing passes vacuously)
    assert {"README.md", "docs/ASTERISK.md", "compose/asterisk/config/pjsip.conf"} <= names
    assert any(n.startswith("k8s/") for n in names)
    assert "compose/.env" not in names  # generated secrets are git-ignored
    assert check.scan(files) == []


PLANTED = [
    ("docs/RECIPE.md", "[1006-auth](auth-base)\npassword=suasenha123\n"),
    ("compose/x.conf", "[trunk]\nsecret = hunter2\n"),
    ("compose/docker-compose.yml", "environment:\n  POSTGRES_PASSWORD: s3cr3t-value\n"),
    (
        "k8s/redis.yaml",
        'args: ["--requirepass", "x"]\ncommand: redis-server --requirepass abc123\n',
    ),
    ("README.md", "REDIS_URL=redis://:topsecret@127.0.0.1:6379/0\n"),
    ("compose/.env.example", "TURN_PASSWORD=changeme\n"),
    ("docs/API.md", "ANTHROPIC_API_KEY=sk-ant-api03-abcdef\n"),
    ("compose/turnserver.conf", "user=pabx:turnpassword\nturnpassword=ab12cd34\n"),
]


@pytest.mark.parametrize(
    ("name", "text"), PLANTED, ids=[p[0] + str(i) for i, p in enumerate(PLANTED)]
)
def test_a_planted_password_is_found(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    found = check.scan(check.walk([tmp_path]))
    assert found, text
    assert all(str(path) in f for f in found)
    # and the command line fails on it
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True)
    assert proc.returncode == 1
    assert str(path) in proc.stdout.decode()


BENIGN = """
password=@EXT_1006_PASSWORD@
TURN_PASSWORD: ${TURN_PASSWORD}
EXT_1001_PASSWORD=
OPENAI_API_KEY=   # vazio: servidores locais
printf 'EXT_2000_PASSWORD=%s\\n' "$(value EXT_2000_PASSWORD)"
ANTHROPIC_API_KEY=sk-ant-... scripts/k8s-secrets.sh
automountServiceAccountToken: false
password: <a senha do ramal>
turnpassword={v.get('TURN_PASSWORD', '')}
senha: a de compose/.env (EXT_1004_PASSWORD)
secretKeyRef: {name: pabx-extensions, key: EXT_1001_PASSWORD}
REDIS_URL=redis://:${REDIS_PASSWORD}@redis:6379/0
"""


def test_placeholders_and_references_are_not_passwords(tmp_path: Path) -> None:
    (tmp_path / "ok.conf").write_text(BENIGN)
    assert check.scan(check.walk([tmp_path])) == []
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True)
    assert proc.returncode == 0, proc.stdout
