"""Fixtures of the deployment cross-checks: the compose file, the built k8s overlays."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline.testing import load_script

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"
pods = load_script(ROOT / "tests" / "deploy" / "pods.py")
OVERLAYS = sorted(p.name for p in (ROOT / "k8s" / "overlays").iterdir() if p.is_dir())


def tools_dir() -> Path:
    """Where scripts/setup.d/70-deploy-tools.sh installed the pinned tools."""
    tools = Path(
        pods.repo_output(
            "bash", "-c", 'source scripts/lib.sh; source scripts/deploy-tools.env; echo "$TOOLS"'
        ).strip()
    )
    if not (tools / ".ready").exists():
        subprocess.run(["bash", "scripts/setup.d/70-deploy-tools.sh"], cwd=ROOT, check=True)
    return tools


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="session")
def tools() -> Path:
    return tools_dir()


@pytest.fixture(scope="session")
def built(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every overlay built by kustomize (throwaway secrets from scripts/k8s-secrets.sh)."""
    tmp = tmp_path_factory.mktemp("k8s")
    shutil.copytree(ROOT / "k8s", tmp / "k8s")
    subprocess.run(
        ["bash", "scripts/k8s-secrets.sh", str(tmp / "k8s" / "base" / "secrets")],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    result: dict[str, list[dict[str, Any]]] = {}
    for overlay in OVERLAYS:
        out = subprocess.run(
            [str(tools / "bin" / "kubectl"), "kustomize", str(tmp / "k8s" / "overlays" / overlay)],
            check=True,
            capture_output=True,
            text=True,
        )
        result[overlay] = [d for d in yaml.safe_load_all(out.stdout) if d]
    return result
