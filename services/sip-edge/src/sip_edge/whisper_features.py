"""Whisper log-mel features of 8 s of 16 kHz audio, in NumPy only (Smart Turn's input).

The same numbers as ``transformers.WhisperFeatureExtractor(chunk_length=8)(audio,
sampling_rate=16000, padding="max_length", max_length=128000, truncation=True,
do_normalize=True)`` (80 mel bands, 400-point FFT, hop 160, Slaney mel scale and area
normalisation, periodic Hann window, reflect padding, log10 clamped at max - 8, scaled to
about -1..1), without the transformers and torch dependencies. Pipecat (BSD-2-Clause) vendors
the same computation in ``pipecat/audio/turn/smart_turn/_whisper_features.py``, derived from
transformers' ``feature_extraction_whisper.py`` and ``audio_utils.py`` (Apache-2.0); this
module follows them. services/sip-edge/tests/test_whisper_features.py checks it against
values transformers 4.57.1 computed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["N_MELS", "N_SAMPLES", "SAMPLE_RATE", "log_mel"]

SAMPLE_RATE = 16_000
N_SAMPLES = 8 * SAMPLE_RATE
N_FFT = 400
HOP = 160
N_MELS = 80
N_FRAMES = N_SAMPLES // HOP  # 800


def _hz_to_mel(freqs: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(freqs, dtype=np.float64)
    mel: npt.NDArray[np.float64] = 3.0 * hz / 200.0
    log_part = hz >= 1000.0
    mel[log_part] = 15.0 + np.log(hz[log_part] / 1000.0) * (27.0 / np.log(6.4))
    return mel


def _mel_to_hz(mels: npt.ArrayLike) -> npt.NDArray[np.float64]:
    mel = np.asarray(mels, dtype=np.float64)
    hz: npt.NDArray[np.float64] = 200.0 * mel / 3.0
    log_part = mel >= 15.0
    hz[log_part] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel[log_part] - 15.0))
    return hz


def _mel_filters() -> npt.NDArray[np.float64]:
    """(N_FFT // 2 + 1, N_MELS) triangular filters with Slaney area normalisation."""
    edges_mel = np.linspace(_hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([8000.0]))[0],
                            N_MELS + 2)  # fmt: skip
    edges = _mel_to_hz(edges_mel)
    fft_hz = np.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    slopes = edges[None, :] - fft_hz[:, None]
    widths = np.diff(edges)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    normalised: npt.NDArray[np.float64] = filters * (2.0 / (edges[2:] - edges[:-2]))[None, :]
    return normalised


_WINDOW = np.hanning(N_FFT + 1)[:-1]  # periodic Hann (torch.hann_window)
_FILTERS_T = np.ascontiguousarray(_mel_filters().T)  # (N_MELS, bins)


def log_mel(audio: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """(80, 800) float32 features of ``audio`` (1-D float, 16 kHz, -1..1): cut to its first
    8 s or zero-padded at the end to 8 s, normalised to zero mean and unit variance."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected 1-D audio, got shape {x.shape}")
    x = np.pad(x, (0, N_SAMPLES - x.size)) if x.size < N_SAMPLES else x[:N_SAMPLES]
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = sliding_window_view(padded, N_FFT)[::HOP]  # (801, 400), no copy
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=-1)) ** 2  # (801, 201)
    mel = np.log10(np.maximum(1e-10, _FILTERS_T @ power.T))[:, :-1]  # (80, 800)
    mel = np.maximum(mel, mel.max() - 8.0)
    features: npt.NDArray[np.float32] = ((mel + 4.0) / 4.0).astype(np.float32)
    return features
