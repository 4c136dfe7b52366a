"""Helpers of the deployment checks: reading built k8s workloads, and running a repository
script (loaded with pipeline.testing.load_script by the tests that use them)."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


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
