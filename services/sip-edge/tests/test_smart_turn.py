"""Smart Turn v3.2 on ONNX Runtime: the packaged model (scripts/assemble-models.sh puts it
in $PABX_CACHE), its input, thread safety, and the fallback when it cannot be loaded."""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soxr
from sip_edge.settings import Settings
from sip_edge.smart_turn import SmartTurn, load, model_input
from sip_edge.testing import pcm, read_wav, speech_wav

MODEL = Settings().turn_model_file()
SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"


@pytest.fixture(scope="module")
def model() -> SmartTurn:
    return SmartTurn(MODEL)


@pytest.fixture(scope="module")
def phrase(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A spoken question (espeak-ng, 8 kHz) followed by 200 ms of silence."""
    path = tmp_path_factory.mktemp("smart-turn") / "question.wav"
    x, _rate = read_wav(speech_wav("Qual é o horário de vocês?", path))
    return pcm(np.concatenate([x, np.zeros(1600)]))


def test_the_packaged_model_is_the_pinned_file() -> None:
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == SHA256


def test_8_khz_audio_is_resampled_and_padded_at_the_start_to_8_s() -> None:
    ramp = np.linspace(-8000, 8000, 8000)  # 1 s at 8 kHz
    x = model_input(pcm(ramp), 8000)
    assert x.shape == (128_000,)
    assert x.dtype == np.float32
    assert not x[: 128_000 - 16_000].any()  # 7 s of zeros first
    sent = np.frombuffer(pcm(ramp), dtype="<i2").astype(np.float32) / 32768
    expected = soxr.resample(sent, 8000, 16000, "HQ")
    np.testing.assert_allclose(x[-16_000:], expected, atol=1e-6)


def test_only_the_last_8_s_are_heard() -> None:
    rng = np.random.default_rng(3)
    ten_s = rng.integers(-3000, 3000, 160_000).astype(np.float64)  # 10 s at 16 kHz
    x = model_input(pcm(ten_s), 16000)
    np.testing.assert_array_equal(x, (ten_s[-128_000:] / 32768).astype(np.float32))


def test_empty_audio_is_all_padding() -> None:
    assert not model_input(b"", 8000).any()


@pytest.mark.integration  # the model, speech made by espeak-ng
def test_probability_is_a_deterministic_probability(model: SmartTurn, phrase: bytes) -> None:
    p = model.probability(phrase, 8000)
    assert 0.0 <= p <= 1.0
    assert model.probability(phrase, 8000) == p
    assert model.probability(bytes(16000), 8000) != p  # it does listen to the audio


@pytest.mark.integration  # the model, speech made by espeak-ng
def test_one_model_serves_threads_at_once(model: SmartTurn, phrase: bytes) -> None:
    clips = [phrase[: len(phrase) - i * 3200] for i in range(6)]
    alone = [model.probability(c, 8000) for c in clips]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda c: model.probability(c, 8000), clips * 2))
    assert together == alone * 2


def test_missing_file_falls_back_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert load(tmp_path / "nope.onnx") is None
    assert "not found" in caplog.text
    assert "falls back to silence" in caplog.text


@pytest.mark.parametrize("content", [b"", b"not an onnx model" * 100])
def test_broken_file_falls_back_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert load(path) is None
    assert "unusable" in caplog.text
    assert "falls back to silence" in caplog.text


@pytest.mark.integration  # loads the model
def test_load_gives_a_working_model() -> None:
    loaded = load(MODEL)
    assert loaded is not None
    assert 0.0 <= loaded.probability(bytes(8000), 8000) <= 1.0


@pytest.mark.integration  # a fresh interpreter as a process
def test_the_call_logic_does_not_import_the_model_runtime() -> None:
    """sip_edge.call (and the call session) stay free of model imports: onnxruntime and soxr
    are loaded only by sip_edge.smart_turn, which only the app imports, in model mode."""
    code = (
        "import sys, sip_edge.call, sip_edge.calls, sip_edge.app\n"
        "bad = {'onnxruntime', 'soxr', 'sip_edge.smart_turn'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
