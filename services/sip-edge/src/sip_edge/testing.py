"""Helpers for tests and benchmarks: audio made offline (espeak-ng speech resampled by
sox; both Debian packages, installed by scripts/setup.d/31-sip-edge-test-audio.sh) and how
it is compared (normalized cross-correlation)."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np


def speech_wav(text: str, path: Path, voice: str = "pt-br", rate: int = 8000) -> Path:
    """Speaks ``text`` with espeak-ng into a mono PCM16 WAV at ``rate``."""
    raw = path.with_suffix(".espeak.wav")
    espeak = ["espeak-ng", "-v", voice, "-s", "160", "-w", str(raw), text]
    sox = ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)]
    # Fixed Debian tools found on PATH, arguments from the caller's own code.
    subprocess.run(espeak, check=True, timeout=30)  # noqa: S603
    subprocess.run(sox, check=True, timeout=30)  # noqa: S603
    raw.unlink()
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        assert w.getnchannels() == 1
        data = w.readframes(w.getnframes())
        return np.frombuffer(data, dtype="<i2").astype(np.float64), w.getframerate()


def pcm(samples: np.ndarray) -> bytes:
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def from_pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def best_correlation(haystack: np.ndarray, needle: np.ndarray) -> tuple[float, int]:
    """Max normalized correlation of ``needle`` against every same-length window of
    ``haystack`` (which must be at least as long), and the offset where it is found."""
    n = len(needle)
    if len(haystack) < n:
        haystack = np.concatenate([haystack, np.zeros(n - len(haystack))])
    size = 1 << int(np.ceil(np.log2(len(haystack) + n)))
    spectrum = np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size))
    dots = np.fft.irfft(spectrum, size)[: len(haystack) - n + 1]
    energy = np.concatenate([[0.0], np.cumsum(haystack**2)])
    norms = np.sqrt(energy[n:] - energy[:-n]) * np.sqrt(np.sum(needle**2))
    scores = np.where(norms > 0, dots / np.maximum(norms, 1e-9), 0.0)
    i = int(np.argmax(scores))
    return float(scores[i]), i


def windowed_match(
    haystack: np.ndarray, needle: np.ndarray, rate: int = 8000, window_s: float = 0.25
) -> list[tuple[float, int]]:
    """Finds each voiced window of ``needle`` in ``haystack``: (score, offset) per window.

    Real-time transport may insert or drop a 20 ms frame (jitter buffer), which ruins one
    correlation over a whole utterance but not this: every part of the speech must be
    there, in order."""
    n = int(rate * window_s)
    peak = float(np.max(np.abs(needle))) or 1.0
    out = []
    for start in range(0, len(needle) - n + 1, n):
        seg = needle[start : start + n]
        if float(np.max(np.abs(seg))) < 0.05 * peak:
            continue
        out.append(best_correlation(haystack, seg))
    return out
