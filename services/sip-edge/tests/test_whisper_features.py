"""Whisper log-mel features in NumPy against values computed by the reference,
transformers 4.57.1's ``WhisperFeatureExtractor(chunk_length=8)`` (padding="max_length",
max_length=128000, truncation=True, do_normalize=True), on the signal below. The values
were computed once outside the project (transformers is no dependency) and written here."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from sip_edge.whisper_features import N_MELS, N_SAMPLES, log_mel


def signal() -> npt.NDArray[np.float32]:
    """3 s of a chirp, an amplitude-modulated tone and a square buzz, zero-padded at the
    start to 8 s (as Smart Turn's input is)."""
    rate = 16000
    t = np.arange(int(3.0 * rate)) / rate
    chirp = np.sin(2 * np.pi * (200 * t + (3000 - 200) / (2 * 3.0) * t**2))
    tone = 0.5 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    buzz = 0.2 * np.sign(np.sin(2 * np.pi * 130 * t))
    x = 0.3 * (chirp + tone + buzz)
    return np.pad(x, (8 * rate - x.size, 0)).astype(np.float32)


# fmt: off
ROW_SUMS = [
    89.9428, 248.9619, 318.2137, 308.0743, 267.1497, 130.5089, 65.7719, 78.8782,
    207.1892, 263.4262, 295.6312, 300.3814, 252.2298, 62.8439, 48.6216, 157.8634,
    222.7263, 212.0022, 169.1219, 62.9558, 57.2276, 53.7456, 158.8202, 193.9045,
    199.1318, 136.2942, 37.4645, 59.2294, 82.9231, 159.2729, 185.3373, 151.5499,
    50.5462, 59.0667, 124.8687, 169.0668, 147.4241, 58.1153, 72.7168, 148.5642,
    152.1656, 52.0054, 84.6798, 148.0756, 124.6436, 61.4045, 129.7631, 130.0340,
    55.7910, 128.3139, 116.6184, 79.7907, 128.6068, 79.2227, 106.5099, 80.3074,
    71.6908, 74.7841, 64.9770, 68.6497, 65.7253, 56.8244, 68.3054, 49.7033,
    61.4234, 55.0083, 49.7122, 52.7079, 52.3116, 46.4004, 46.2005, 44.7245,
    44.5580, 43.3466, 41.7190, 40.5050, 39.6335, 39.0698, 38.9337, 38.2840,
]
COLUMN_SUMS = {
    400: -18.4164, 425: -18.4164, 450: -18.4164, 475: -18.4164, 500: 61.8508, 525: 59.0931,
    550: 61.7218, 575: 62.8395, 600: 62.1051, 625: 59.0894, 650: 60.3747, 675: 60.6051,
    700: 60.3834, 725: 58.5713, 750: 60.0623, 775: 60.2258,
}
SPOTS = {
    (0, 0): -0.23021, (0, 500): 1.44174, (0, 650): 0.68713, (0, 799): 0.86557,
    (19, 0): -0.23021, (19, 500): 0.95509, (19, 650): 0.49444, (19, 799): 0.52047,
    (48, 0): -0.23021, (48, 500): 0.52362, (48, 650): 0.44334, (48, 799): 0.46889,
    (79, 0): -0.23021, (79, 500): 0.42924, (79, 650): 0.51071, (79, 799): 0.51179,
}
# fmt: on


@pytest.fixture(scope="module")
def features() -> npt.NDArray[np.float32]:
    return log_mel(signal())


def test_shape_and_type(features: npt.NDArray[np.float32]) -> None:
    assert features.shape == (N_MELS, 800)
    assert features.dtype == np.float32


def test_matches_transformers_per_mel_band(features: npt.NDArray[np.float32]) -> None:
    np.testing.assert_allclose(features.sum(axis=1), ROW_SUMS, atol=2e-3)


def test_matches_transformers_per_frame(features: npt.NDArray[np.float32]) -> None:
    sums = features.sum(axis=0)
    for frame, expected in COLUMN_SUMS.items():
        assert sums[frame] == pytest.approx(expected, abs=2e-3), frame


def test_matches_transformers_point_by_point(features: npt.NDArray[np.float32]) -> None:
    for (mel, frame), expected in SPOTS.items():
        assert features[mel, frame] == pytest.approx(expected, abs=1e-4), (mel, frame)
    assert features.max() == pytest.approx(1.7697947, abs=1e-5)
    assert features.min() == pytest.approx(-0.2302053, abs=1e-5)  # max - 8, scaled


def test_short_audio_is_padded_at_the_end_and_long_audio_cut_to_its_start() -> None:
    x = signal()
    tail = x[-N_SAMPLES // 2 :]
    np.testing.assert_array_equal(log_mel(tail), log_mel(np.pad(tail, (0, N_SAMPLES // 2))))
    longer = np.concatenate([x, np.ones(16000, dtype=np.float32)])
    np.testing.assert_array_equal(log_mel(longer), log_mel(x))


def test_silence_gives_finite_features() -> None:
    out = log_mel(np.zeros(1000, dtype=np.float32))
    assert np.isfinite(out).all()


def test_two_dimensional_audio_is_refused() -> None:
    with pytest.raises(ValueError, match="1-D"):
        log_mel(np.zeros((2, 100), dtype=np.float32))
