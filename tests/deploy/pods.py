"""Helpers of the deployment checks: reading built k8s workloads, and running a repository
script, reading the Dockerfiles' stages (loaded with pipeline.testing.load_script by the tests
that use them)."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from pipeline.testing import load_script

ROOT = Path(__file__).resolve().parents[2]
pins = load_script(ROOT / "scripts" / "image_pins.py")


def repo_output(*argv: str) -> str:
    """What ``argv``, run from the repository's root, writes to stdout; fails if it fails."""
    return subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def mounted_secret_files(docs: list[dict[str, Any]], workload: dict[str, Any]) -> dict[str, str]:
    """The files a workload's containers see from Secret volumes: mount path -> text, read
    from the built Secret of the workload's own namespace (what the kubelet would write)."""
    namespace = workload["metadata"].get("namespace")
    secrets = {
        d["metadata"]["name"]: d
        for d in docs
        if d["kind"] == "Secret" and d["metadata"].get("namespace") == namespace
    }
    spec = workload["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    files: dict[str, str] = {}
    for c in spec["containers"]:
        for m in c.get("volumeMounts", []):
            secret = volumes.get(m["name"], {}).get("secret")  # else a claim template
            if not secret:
                continue
            data = secrets[secret["secretName"]]["data"]
            items = secret.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                text = base64.b64decode(data[item["key"]]).decode()
                files[f"{m['mountPath'].rstrip('/')}/{item['path']}"] = text
    return files


def env_lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and "=" in line)


# --- Dockerfiles ------------------------------------------------------------------------------
FROM = re.compile(r"FROM (?:--platform=\S+ )?(\S+)(?: AS (\S+))?", re.I)


def dockerfiles() -> list[Path]:
    """Every Dockerfile of the repository (the list scripts/image_pins.py checks)."""
    found: list[Path] = pins.dockerfiles(ROOT)
    return found


def stages(dockerfile: Path) -> dict[str, str]:
    """The Dockerfile's stages in order: its name (AS NAME; an unnamed one: its index) -> its
    text, comment lines dropped and continuation lines joined."""
    lines = [ln for ln in dockerfile.read_text().splitlines() if not ln.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    parts = [p for p in re.split(r"(?m)^(?=FROM )", text) if p.startswith("FROM ")]
    found: dict[str, str] = {}
    for n, part in enumerate(parts):
        head = FROM.match(part)
        assert head, part.splitlines()[0]
        found[head.group(2) or str(n)] = part
    return found


def build_args(text: str) -> set[str]:
    """The names the ARG lines of ``text`` declare (ARG A B=1 declares A and B)."""
    return {
        token.split("=", 1)[0]
        for line in text.splitlines()
        if line.startswith("ARG ")
        for token in line.split()[1:]
    }


def parent(stage: str) -> str:
    """What the stage is built FROM: an image, or another stage's name."""
    head = FROM.match(stage)
    assert head, stage.splitlines()[0]
    return head.group(1)


def chain(all_stages: dict[str, str], name: str) -> list[str]:
    """The texts of stage ``name`` and of the stages it is built FROM, the first base first:
    everything that makes up what that stage produces (ENV, USER, files... are inherited; ARGs
    are not under podman/buildah: a stage declares the ones it uses)."""
    texts: list[str] = []
    while name in all_stages and all_stages[name] not in texts:
        texts.insert(0, all_stages[name])
        name = parent(all_stages[name])
    return texts


def images(dockerfile: Path) -> dict[str, str]:
    """The images the Dockerfile gives: target -> the text of the target's stage chain (see
    chain). The targets: the stages no other stage builds on (FROM or COPY --from)."""
    all_stages = stages(dockerfile)
    used = {parent(text) for text in all_stages.values()}
    for text in all_stages.values():
        used |= set(re.findall(r"(?m)^COPY --from=(\S+)", text))
    return {name: "".join(chain(all_stages, name)) for name in all_stages if name not in used}


def image(name: str) -> str:
    """The stage chain of the project's image ``name`` (sip-edge, stt-worker-cuda, softphone,
    asterisk...), from the Dockerfile and target compose builds it with."""
    dockerfile, target = compose_builds()[name]
    built = images(ROOT / dockerfile)
    if target is None:
        (only,) = built.values()
        return only
    return built[target]


def compose_builds() -> dict[str, tuple[str, str | None]]:
    """The images compose/docker-compose.yml and docker-compose.gpu.yml build: name (the
    image's, with -cuda for the GPU variant) -> the Dockerfile and target (None: the last
    stage)."""
    found: dict[str, tuple[str, str | None]] = {}
    for path in ("compose/docker-compose.yml", "compose/docker-compose.gpu.yml"):
        for service in yaml.safe_load((ROOT / path).read_text())["services"].values():
            if "build" not in service:
                continue
            name = service["image"].split("/", 1)[1].split(":")[0]
            name += "-cuda" if service["image"].endswith("-cuda") else ""
            recipe = (service["build"]["dockerfile"], service["build"].get("target"))
            assert found.setdefault(name, recipe) == recipe, (name, path)
    return found
