from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from stt_worker.cli import _main


def _wav(path: Path, rate: int = 8000, channels: int = 1) -> str:
    tone = (np.sin(np.arange(rate) / rate * 2 * np.pi * 300) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(tone, channels).tobytes())
    return str(path)


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STT_PROVIDER", "fake")


@pytest.mark.usefixtures("fake_env")
async def test_transcribes_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [_wav(tmp_path / "a.wav"), _wav(tmp_path / "b.wav", rate=16000)]
    assert await _main(files, "pt") == 0
    assert capsys.readouterr().out.count(".wav\t") == 2


@pytest.mark.usefixtures("fake_env")
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: _wav(p / "st.wav", channels=2), "needs PCM16 mono"),
        (lambda p: _wav(p / "cd.wav", rate=44100), "44100 Hz is not supported"),
        (lambda p: str(p / "missing.wav"), "No such file"),
        (lambda p: (p / "junk.wav").write_bytes(b"junk") and str(p / "junk.wav"), "erro"),
    ],
)
async def test_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    assert await _main([make(tmp_path)], None) == 1  # type: ignore[operator]
    assert message in capsys.readouterr().err
