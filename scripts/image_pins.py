#!/usr/bin/env python3
"""Which third-party images the deployment names, and whether each is pinned by digest.

Usage:
    image_pins.py list [ROOT]     one line per image: "pinned NAME" or "unpinned NAME"
    image_pins.py check [ROOT]    exit 1, naming them, while any image is not pinned

The images: every FROM of services/Dockerfile, services/*/Dockerfile* and
compose/asterisk/Dockerfile (FROM another stage excluded), every `image:` of
compose/docker-compose.yml that is not built here, and every `image:` of k8s/ that is not
pabx/*. Pinned means NAME:TAG@sha256:<64 hex>: a tag can
be moved to other content by whoever controls the registry, a digest cannot. Resolve a
digest where a registry is reachable (docs/DEPLOY.md, "Imagens base fixadas por digest"):
    docker buildx imagetools inspect python:3.11.11-slim-bookworm \
      --format '{{json .Manifest.Digest}}'
    skopeo inspect --format '{{.Digest}}' docker://python:3.11.11-slim-bookworm
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def dockerfiles(root: Path) -> list[Path]:
    """services/Dockerfile (the Python services, a target each), the other services' own
    (services/*/Dockerfile*: softphone) and compose/asterisk/Dockerfile."""
    found = sorted([*root.glob("services/Dockerfile*"), *root.glob("services/*/Dockerfile*")])
    asterisk = root / "compose/asterisk/Dockerfile"
    return [*found, asterisk] if asterisk.exists() else found


def images(root: Path) -> set[str]:
    names: set[str] = set()
    for dockerfile in dockerfiles(root):
        text = dockerfile.read_text()
        stages = set(re.findall(r"(?im)^FROM \S+ AS (\S+)", text))
        names |= set(re.findall(r"(?im)^FROM (?:--platform=\S+ )?(\S+)", text)) - stages
    compose = root / "compose/docker-compose.yml"
    if compose.exists():
        doc = yaml.safe_load(compose.read_text())
        for service in doc.get("services", {}).values():
            image = service.get("image", "")
            if image and "build" not in service and not image.startswith("${PABX_IMAGE_PREFIX"):
                names.add(image)
    for manifest in sorted((root / "k8s").rglob("*.yaml")):
        for image in re.findall(r"(?m)^\s+(?:- )?image: (\S+)", manifest.read_text()):
            if not image.startswith("pabx/"):
                names.add(image)
    return names


def pinned(image: str) -> bool:
    return bool(DIGEST.search(image))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[1] not in ("list", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[2]) if len(argv) == 3 else Path(__file__).resolve().parents[1]
    found = sorted(images(root))
    if argv[1] == "list":
        for image in found:
            print(f"{'pinned' if pinned(image) else 'unpinned'} {image}")
        return 0
    loose = [i for i in found if not pinned(i)]
    for image in loose:
        print(f"sem digest: {image}", file=sys.stderr)
    return 1 if loose else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
