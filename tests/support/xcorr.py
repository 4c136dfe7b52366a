"""Sliding normalised cross-correlation by FFT (pure numpy), the core that the PBX tests'
audio check (sipphone.normalized_xcorr) and the barge-in alignment (barge_support) share."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def window_scores(
    needle: npt.NDArray[Any], haystack: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """For every lag of a zero-mean ``needle`` inside ``haystack`` (float64 both, the
    haystack at least as long): the normalised correlation, and the energy of that window
    of the haystack about its own mean (where it is near 0, the score means nothing)."""
    n = len(needle)
    size = 1 << int(np.ceil(np.log2(len(haystack) + n)))
    corr = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)
    corr = corr[: len(haystack) - n + 1]
    csum = np.concatenate([[0.0], np.cumsum(haystack)])
    csum2 = np.concatenate([[0.0], np.cumsum(haystack * haystack)])
    win_sum = csum[n:] - csum[:-n]
    win_energy = csum2[n:] - csum2[:-n] - win_sum * win_sum / n
    score = corr / np.sqrt(np.maximum(win_energy, 1e-9) * np.sum(needle * needle))
    return score, win_energy
