"""Static checks of the container builds (issue 18): no mirror host written in the repository,
the package index / CA bundle given at build time only, a base image or a stated reason for
every image the Dockerfiles, compose and k8s name, and the softphone's uid matching the key
the init service writes. The real builds and the compose run are `make test-containers`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline.testing import load_script

ROOT = Path(__file__).resolve().parents[2]
pods = load_script(ROOT / "tests" / "deploy" / "pods.py")
DOCKERFILES = pods.dockerfiles()
MIRROR_HOST = re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:debian\.(?:org|net)|ubuntu\.com)\b")
# the build-time inputs of a mirror or corporate network (scripts/container-build-env.sh)
PIP_ARGS = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST"}
NPM_ARGS = {"NPM_CONFIG_REGISTRY"}
SECRET_NAMES = {"ca", "pip_conf", "npmrc"}


def tracked_text_files() -> list[Path]:
    files = []
    for name in pods.repo_output("git", "ls-files", "-co", "--exclude-standard").splitlines():
        path = ROOT / name
        if "node_modules/" in name or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        files.append(path)
    return files


def test_the_mirror_host_pattern_catches_hosts_and_spares_prose() -> None:
    # made-up hosts, split so that this file does not trip the scan below
    assert MIRROR_HOST.search("URIs: http://fake" + ".debian.org/debian")
    assert MIRROR_HOST.search("ftp.xx.fake" + ".debian.net/debian sid main")
    assert MIRROR_HOST.search("http://fake" + ".ubuntu.com/ubuntu")
    assert not MIRROR_HOST.search("Debian's asterisk source package (debian sid)")


@pytest.mark.integration  # git
def test_no_mirror_host_is_written_in_the_repository() -> None:
    hits = []
    for path in tracked_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if MIRROR_HOST.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "mirror hosts written in the repository (use debian_mirror):\n" + "\n".join(
        hits
    )


def debian_mirror(
    apt_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", 'source scripts/lib.sh; debian_mirror "$1"', "-", str(apt_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(apt_dir), **(env or {})},
    )


@pytest.mark.integration  # the image build script (bash)
def test_debian_mirror_reads_the_hosts_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: x-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
    )
    out = debian_mirror(tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "http://mirror.example/debian"


@pytest.mark.integration  # the image build script (bash)
def test_debian_mirror_reads_a_one_line_sources_list(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n"
    )
    out = debian_mirror(tmp_path)
    assert out.stdout.strip() == "http://other.example/debian", out.stderr


@pytest.mark.integration  # the image build script (bash)
def test_debian_mirror_setting_wins_and_none_is_a_clear_error(tmp_path: Path) -> None:
    out = debian_mirror(tmp_path, {"DEBIAN_MIRROR": "http://set.example/debian"})
    assert out.stdout.strip() == "http://set.example/debian"
    out = debian_mirror(tmp_path)
    assert out.returncode != 0
    assert "DEBIAN_MIRROR" in out.stderr
    assert out.stdout == ""


def uses_network_clients(stage: str) -> set[str]:
    """Which package clients the stage's RUN lines reach (pip, npm)."""
    runs = " ".join(ln for ln in stage.splitlines() if ln.startswith("RUN "))
    clients = set()
    pip = r"pip install|container-venv|assemble-models|assemble-llm|45-llm|build-pjsua2"
    if re.search(pip, runs):
        clients.add("pip")
    if re.search(r"\bnpm\b|softphone\.sh build", runs):
        clients.add("npm")
    return clients


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_build_stages_take_index_and_ca_at_build_time_only(dockerfile: Path) -> None:
    all_stages = pods.stages(dockerfile)
    shipped = pods.images(dockerfile)
    assert shipped, dockerfile
    # a stage an image is made of (its target and the stages that one is FROM)
    in_images = {text for target in shipped for text in pods.chain(all_stages, target)}
    for stage in all_stages.values():
        # its own ARGs: podman/buildah hands none down from the stage it is FROM
        args = pods.build_args(stage)
        clients = uses_network_clients(stage)
        head = stage.splitlines()[0]
        if stage not in in_images or clients:
            for client in clients:
                want = PIP_ARGS if client == "pip" else NPM_ARGS
                assert want <= args, f"{dockerfile.name} {head}: ARG {sorted(want - args)}"
                for run in (ln for ln in stage.splitlines() if ln.startswith("RUN ")):
                    if client in uses_network_clients(run):
                        assert "--mount=type=secret,id=ca" in run, f"{dockerfile.name}: {run[:80]}"
                        assert "container-build-env.sh" in run, f"{dockerfile.name}: {run[:80]}"
    # nothing of it reaches a shipped image: no ARG, no secret mount, no ENV naming them, in
    # the target's stage or any stage it is FROM
    build_only = (*PIP_ARGS, *NPM_ARGS, "PIP_CERT", "PIP_CONFIG_FILE", "NODE_EXTRA_CA_CERTS")
    for target, final in shipped.items():
        assert not (pods.build_args(final) & (PIP_ARGS | NPM_ARGS)), (dockerfile, target)
        assert "type=secret" not in final, (dockerfile, target)
        for env in re.findall(r"(?m)^ENV (.*)$", final):
            for name in build_only:
                assert f"{name}=" not in env, (dockerfile, target, name)


PYTHON_IMAGES = {"sip-edge", "stt-worker", "stt-worker-cuda", "llm-worker", "tts-worker"}


def test_every_built_image_is_a_target_of_its_dockerfile() -> None:
    """Each image compose (and its GPU file) builds is an image of its Dockerfile (a target no
    other stage builds on, not a stage that only builds); the Python services' images all come
    from services/Dockerfile, a target each, named as the image."""
    builds = pods.compose_builds()
    assert PYTHON_IMAGES | {"asterisk", "softphone"} <= set(builds)
    for name, (dockerfile, target) in builds.items():
        targets = pods.images(ROOT / dockerfile)
        if target is None:
            assert len(targets) == 1, (name, dockerfile, sorted(targets))
        else:
            assert target in targets, (name, dockerfile, target)
    assert set(pods.images(ROOT / "services/Dockerfile")) == PYTHON_IMAGES
    for name in PYTHON_IMAGES:
        assert builds[name] == ("services/Dockerfile", name)


@pytest.mark.integration  # the image build script (bash)
def test_the_build_script_builds_each_image_as_compose_does() -> None:
    for name, recipe in pods.compose_builds().items():
        out = pods.repo_output("bash", "scripts/container-build.sh", "--recipe", name).split()
        assert (out[0], out[1] if len(out) > 1 else None) == recipe, name


def test_the_build_script_passes_every_build_arg_the_dockerfiles_declare() -> None:
    declared = set()
    for dockerfile in DOCKERFILES:
        declared |= pods.build_args(dockerfile.read_text())
    declared -= {"WITH_LOCAL_LLM", "LLAMA_CPU"}  # image variants, not network settings
    script = (ROOT / "scripts/container-build.sh").read_text()
    loop = re.search(r"for v in ([A-Z_ ]+); do", script)
    assert loop, "scripts/container-build.sh has no 'for v in ...; do' loop"
    passed = set(loop.group(1).split())
    assert declared == passed
    helper = (ROOT / "scripts/container-build-env.sh").read_text()
    for name in SECRET_NAMES:
        assert f"/run/secrets/{name}" in helper, name
        assert f"id={name}," in script, name


def run_list(which: str) -> list[str]:
    out: str = pods.repo_output("bash", "scripts/container-base-images.sh", which)
    return out.split()


def named_base_images(compose: dict[str, Any]) -> set[str]:
    names = set()
    for dockerfile in DOCKERFILES:
        all_stages = pods.stages(dockerfile)
        names |= {pods.parent(stage) for stage in all_stages.values()} - set(all_stages)
    for service in compose["services"].values():
        if "build" not in service and not service["image"].startswith("${PABX_IMAGE_PREFIX"):
            names.add(service["image"])
    for manifest in (ROOT / "k8s").rglob("*.yaml"):
        for image in re.findall(r"(?m)^\s+image: (\S+)", manifest.read_text()):
            if not image.startswith("pabx/"):
                names.add(image)
    return names


@pytest.mark.integration  # the image build script (bash)
def test_every_base_image_has_a_stand_in_or_a_stated_reason(compose: dict[str, Any]) -> None:
    made, not_made = set(run_list("list")), set(run_list("list-not-made"))
    named = named_base_images(compose)
    assert {"python:3.11.11-slim-bookworm", "debian:sid-slim", "redis:7.4.2-bookworm"} <= named
    assert named == made | not_made, (named - made - not_made, (made | not_made) - named)
    deploy = (ROOT / "docs/DEPLOY.md").read_text()
    for image in not_made:
        assert image in deploy, f"docs/DEPLOY.md does not say why {image} is not made"


def final_user(image: str) -> str:
    users: list[str] = re.findall(r"(?m)^USER (\S+)", pods.image(image))
    assert users, image
    return users[-1].split(":")[0]


def init_owner(path: str) -> str:
    """The uid compose/init/secrets-init.sh gives the file it writes at /secrets/<path>."""
    text = (ROOT / "compose/init/secrets-init.sh").read_text()
    m = re.search(rf"put (\d+) 0\d+ /secrets/{re.escape(path)}\b", text)
    assert m, path
    return m.group(1)


@pytest.mark.parametrize(
    ("image", "secret"),
    [
        ("softphone", "certs/tls.key"),
        ("sip-edge", "sip-edge.env"),
        ("sip-edge", "asp-gateway.env"),
        ("sip-edge", "certs/tls.key"),  # asp-gateway's wss
    ],
)
def test_each_image_runs_as_the_uid_its_secret_is_written_for(image: str, secret: str) -> None:
    assert final_user(image) == init_owner(secret)


def test_softphone_uid_is_the_same_under_compose_and_k8s() -> None:
    docs = list(yaml.safe_load_all((ROOT / "k8s/base/softphone.yaml").read_text()))
    pod = next(d for d in docs if d and d.get("kind") == "Deployment")["spec"]["template"]["spec"]
    assert str(pod["securityContext"]["runAsUser"]) == final_user("softphone")
