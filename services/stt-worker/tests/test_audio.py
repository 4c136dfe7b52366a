from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stt_worker.audio import WHISPER_RATE, pcm16_to_float32, prepare_for_whisper, validate_pcm16
from stt_worker.errors import AudioFormatError


def _tone(rate: int, seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * hz * t) * 10000).astype("<i2").tobytes()


def test_narrowband_is_upsampled_to_16khz_keeping_the_tone() -> None:
    out = prepare_for_whisper(_tone(8000, 1.0), 8000)
    assert out.dtype == np.float32
    assert len(out) == WHISPER_RATE
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) == pytest.approx(440, abs=1)  # 1 Hz bins over 1 s


def test_wideband_passes_through() -> None:
    pcm = _tone(16000, 0.5)
    out = prepare_for_whisper(pcm, 16000)
    np.testing.assert_array_equal(out, pcm16_to_float32(pcm))


def test_pcm16_scaling() -> None:
    pcm = np.array([-32768, 0, 16384], dtype="<i2").tobytes()
    np.testing.assert_allclose(pcm16_to_float32(pcm), [-1.0, 0.0, 0.5])


@pytest.mark.parametrize(
    ("pcm", "rate", "message"),
    [
        (b"", 8000, "empty audio"),
        (b"\x01\x02\x03", 8000, "odd byte count 3"),
        (b"\x00\x00", 11025, "11025 Hz is not supported"),
        (b"\x00\x00", 0, "0 Hz is not supported"),
    ],
)
def test_malformed(pcm: bytes, rate: int, message: str) -> None:
    with pytest.raises(AudioFormatError, match=message):
        validate_pcm16(pcm, rate)


def test_not_bytes() -> None:
    with pytest.raises(AudioFormatError, match="must be bytes"):
        validate_pcm16("hello", 8000)  # type: ignore[arg-type]


def test_too_long() -> None:
    with pytest.raises(AudioFormatError, match="longer than the 1 s limit"):
        validate_pcm16(b"\x00\x00" * 8001, 8000, max_seconds=1)


@given(
    st.binary(min_size=2, max_size=4000).filter(lambda b: len(b) % 2 == 0),
    st.sampled_from([8000, 16000]),
)
def test_any_even_buffer_converts(pcm: bytes, rate: int) -> None:
    out = prepare_for_whisper(pcm, rate)
    assert out.dtype == np.float32
    assert abs(len(out) - len(pcm) // 2 * WHISPER_RATE // rate) <= 1
