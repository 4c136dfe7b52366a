from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tts_worker.audio import (
    AudioChunk,
    chunk_pcm,
    float_to_pcm16,
    frame_bytes,
    render,
    resample,
)
from tts_worker.errors import AudioFormatError


@given(
    pcm=st.binary(max_size=5000).map(lambda b: b[: len(b) - len(b) % 2]),
    rate=st.sampled_from([8000, 16000]),
    frames=st.integers(1, 5),
    start=st.integers(0, 1000),
)
def test_chunks_cover_the_input_in_order_and_in_whole_frames(
    pcm: bytes, rate: int, frames: int, start: int
) -> None:
    chunks = chunk_pcm(pcm, rate, chunk_ms=20 * frames, start_seq=start)
    size = rate // 50 * 2 * frames
    assert [c.seq for c in chunks] == list(range(start, start + len(chunks)))
    assert all(len(c.pcm) == size and c.sample_rate == rate for c in chunks)
    joined = b"".join(c.pcm for c in chunks)
    assert joined[: len(pcm)] == pcm
    assert set(joined[len(pcm) :]) <= {0}  # padding is silence
    assert len(joined) - len(pcm) < size


def test_empty_input_gives_no_chunks() -> None:
    assert chunk_pcm(b"", 8000) == []


def test_chunk_properties() -> None:
    chunk = AudioChunk(0, b"\x00" * 320, 8000)
    assert (chunk.samples, chunk.duration_ms) == (160, 20.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pcm": b"\x00" * 3, "sample_rate": 8000}, "odd byte count 3"),
        ({"pcm": b"", "sample_rate": 8000, "chunk_ms": 30}, "30 ms is not a multiple of 20"),
        ({"pcm": b"", "sample_rate": 8000, "chunk_ms": 0}, "not a multiple"),
        ({"pcm": b"", "sample_rate": 22_025}, "no whole number of samples"),
        ({"pcm": b"", "sample_rate": 8000, "start_seq": -1}, "start_seq"),
    ],
)
def test_chunking_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AudioFormatError, match=message):
        chunk_pcm(**kwargs)  # type: ignore[arg-type]


def test_frame_bytes() -> None:
    assert frame_bytes(8000) == 320
    assert frame_bytes(16000, 60) == 1920


def test_render_resamples_once_keeping_pitch_and_length() -> None:
    native = 24_000
    t = np.arange(native) / native  # one second
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    chunks = render(tone, native, 8000)
    assert len(chunks) == 50
    pcm = np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2").astype(np.float64)
    assert np.argmax(np.abs(np.fft.rfft(pcm))) == pytest.approx(440, abs=1)
    assert np.max(np.abs(pcm)) == pytest.approx(0.5 * 32768, rel=0.02)


def test_render_rejects_unsupported_session_rates() -> None:
    with pytest.raises(AudioFormatError, match="session rate 44100 Hz is not supported"):
        render(np.zeros(10, dtype=np.float32), 24_000, 44_100)


def test_resample_identity_and_errors() -> None:
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    np.testing.assert_array_equal(resample(x, 8000, 8000), x)
    with pytest.raises(AudioFormatError, match="invalid rates"):
        resample(x, 0, 8000)


def test_float_to_pcm16_clips() -> None:
    pcm = float_to_pcm16(np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]))
    assert np.frombuffer(pcm, dtype="<i2").tolist() == [-32768, -32768, 0, 16384, 32767, 32767]
