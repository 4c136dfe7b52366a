"""The static checks must be able to fail: each tool is shown a broken input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.integration  # the check tools run as processes

ROOT = Path(__file__).resolve().parents[2]


def run(tools: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools / "bin" / args[0]), *args[1:]], capture_output=True, text=True, check=False
    )


def compose_schema() -> dict[str, object]:
    out = subprocess.run(
        [
            "bash",
            "-c",
            'source scripts/lib.sh; source scripts/deploy-tools.env; echo "$COMPOSE_SCHEMA"',
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    schema = json.loads(Path(out.stdout.strip()).read_text())
    assert isinstance(schema, dict)
    return schema


def test_kubernetes_validate_rejects_a_wrong_field(tools: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
        "spec:\n  replicas: two\n  selector: {matchLabels: {a: b}}\n"
        "  template:\n    metadata: {labels: {a: b}}\n"
        "    spec: {containers: [{name: c, image: i}]}\n"
    )
    assert run(tools, "kubernetes-validate", "--strict", "--quiet", str(bad)).returncode != 0


def test_compose_schema_rejects_unknown_and_malformed_keys(compose: dict[str, object]) -> None:
    validator = jsonschema.Draft7Validator(compose_schema())
    assert not list(validator.iter_errors(compose))
    broken = yaml.safe_load(yaml.safe_dump(compose))
    broken["services"]["redis"]["restart_policy"] = "always"  # not a compose key
    broken["services"]["sip-edge"]["network_mode"] = ["host"]  # must be a string
    assert len(list(validator.iter_errors(broken))) >= 2


def test_hadolint_and_checkov_flag_a_bad_dockerfile(tools: Path, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install requests\nUSER root\n")
    assert run(tools, "hadolint", str(bad)).returncode != 0
    res = run(
        tools,
        "checkov",
        "--quiet",
        "--compact",
        "--skip-download",
        "--framework",
        "dockerfile",
        "-f",
        str(bad),
    )
    assert res.returncode != 0, res.stdout
