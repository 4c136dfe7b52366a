from __future__ import annotations

import wave
from pathlib import Path

import pytest
from tts_worker.cli import _main


@pytest.mark.integration  # espeak-ng
async def test_writes_what_a_call_would_hear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTS_PROVIDER", "espeak")
    out = tmp_path / "oi.wav"
    assert await _main("Bom dia.", str(out), 16000, "pt-BR") == 0
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() > 0
        assert w.getnframes() % 320 == 0
    assert "espeak:builtin:pt-br:pt-br" in capsys.readouterr().out


async def test_bad_rate_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTS_PROVIDER", "fake")
    assert await _main("Oi.", str(tmp_path / "x.wav"), 44100, None) == 1
    assert "44100 Hz is not supported" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()
