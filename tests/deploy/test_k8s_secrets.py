"""scripts/k8s-secrets.sh: the files the kustomize secretGenerator reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # scripts/k8s-secrets.sh runs as a process

ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = ("1001", "1002", "1003", "1004", "1005", "2000")


def run(out: Path, **env: str) -> None:
    subprocess.run(
        ["bash", "scripts/k8s-secrets.sh", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(out.parent), **env},
    )


def values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_generates_random_passwords_a_key_pair_and_keeps_what_exists(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    run(out, ANTHROPIC_API_KEY="sk-ant-test")
    ext = values(out / "extensions.env")
    assert set(ext) == {f"EXT_{e}_PASSWORD" for e in EXTENSIONS} | {
        "TURN_USERNAME",
        "TURN_PASSWORD",
    }
    passwords = [ext[f"EXT_{e}_PASSWORD"] for e in EXTENSIONS]
    assert len(set(passwords)) == len(passwords)
    assert all(len(p) >= 24 for p in passwords)
    assert values(out / "llm.env")["ANTHROPIC_API_KEY"] == "sk-ant-test"
    token = values(out / "asp-gateway.env")["ASP_GATEWAY_TOKEN"]
    assert len(token) >= 32
    assert token not in passwords
    redis = values(out / "redis.env")  # one Redis ACL user per service, and its ACL file
    assert len(redis) == 8
    assert all(k.startswith("REDIS_") and len(v) >= 32 for k, v in redis.items())
    assert len(set(redis.values())) == len(redis)
    users = (out / "redis-users.acl").read_text()
    assert users.startswith("user default off")
    assert not any(v in users for v in redis.values())  # hashes only
    assert (out / "redis-users.acl").stat().st_mode & 0o077 == 0
    assert (out / "tls.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in (out / "tls.key").read_text()
    assert (out / "tls.key").stat().st_mode & 0o077 == 0
    # what each pod mounts: only what that service needs, the same values
    svc = {p.stem: values(p) for p in (out / "services").iterdir()}
    assert set(svc) == {
        "sip-edge",
        "asp-gateway",
        "stt-worker",
        "llm-worker",
        "tts-worker",
        "postcall",
        "keda-redis",
    }
    assert svc["sip-edge"].keys() == {"EXT_2000_PASSWORD", "REDIS_URL"}
    assert svc["sip-edge"]["EXT_2000_PASSWORD"] == ext["EXT_2000_PASSWORD"]
    assert svc["asp-gateway"].keys() == {"ASP_GATEWAY_TOKEN", "REDIS_URL"}
    assert svc["asp-gateway"]["ASP_GATEWAY_TOKEN"] == token
    for name in ("stt-worker", "tts-worker"):
        assert svc[name].keys() == {"REDIS_URL"}, name
    for name in ("llm-worker", "postcall"):
        assert svc[name]["ANTHROPIC_API_KEY"] == "sk-ant-test", name
    for name in ("sip-edge", "asp-gateway", "stt-worker", "llm-worker", "tts-worker", "postcall"):
        password = redis[f"REDIS_{name.upper().replace('-', '_')}_PASSWORD"]
        assert svc[name]["REDIS_URL"] == (
            f"redis://{name}:{password}@redis.pabx.svc.cluster.local:6379/0"
        ), name
    assert svc["keda-redis"] == {"REDIS_EXPORTER_PASSWORD": redis["REDIS_EXPORTER_PASSWORD"]}
    assert all(p.stat().st_mode & 0o077 == 0 for p in (out / "services").iterdir())
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    run(out, ANTHROPIC_API_KEY="another")  # a second run changes nothing
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_an_empty_key_file_is_regenerated(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    out.mkdir()
    (out / "tls.key").write_text("")  # a half-written pair from an interrupted run
    run(out)
    assert "PRIVATE KEY" in (out / "tls.key").read_text()
