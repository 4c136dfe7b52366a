"""Input audio checks and conversion for Whisper (pure functions, no I/O).

The caller's audio arrives as PCM16 little-endian mono at the session rate (8 kHz on
the phone, 16 kHz for wideband). Whisper wants float32 at 16 kHz, so narrowband audio
is upsampled once per utterance with soxr (a proper anti-alias filter; ``audioop`` has
none).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from .errors import AudioFormatError

Samples = npt.NDArray[np.float32]
"""Mono float32 samples in [-1, 1)."""

WHISPER_RATE = 16_000
SUPPORTED_RATES: tuple[int, ...] = (8_000, 16_000)


def validate_pcm16(pcm: bytes, sample_rate: int, *, max_seconds: float | None = None) -> None:
    """Raise AudioFormatError unless ``pcm`` is usable PCM16 mono at ``sample_rate``."""
    if not isinstance(pcm, bytes | bytearray | memoryview):
        raise AudioFormatError(f"audio must be bytes, got {type(pcm).__name__}")
    if sample_rate not in SUPPORTED_RATES:
        rates = ", ".join(str(r) for r in SUPPORTED_RATES)
        raise AudioFormatError(f"sample rate {sample_rate} Hz is not supported (use {rates})")
    n = len(pcm)
    if n == 0:
        raise AudioFormatError("empty audio: nothing to transcribe")
    if n % 2:
        raise AudioFormatError(f"odd byte count {n}: PCM16 needs 2 bytes per sample")
    seconds = n / 2 / sample_rate
    if max_seconds is not None and seconds > max_seconds:
        raise AudioFormatError(
            f"utterance of {seconds:.1f} s is longer than the {max_seconds:g} s limit"
        )


def pcm16_to_float32(pcm: bytes) -> Samples:
    """PCM16 little-endian bytes -> float32 samples in [-1, 1)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def prepare_for_whisper(
    pcm: bytes, sample_rate: int, *, max_seconds: float | None = None
) -> Samples:
    """Validate, decode and resample one utterance to 16 kHz float32."""
    validate_pcm16(pcm, sample_rate, max_seconds=max_seconds)
    samples = pcm16_to_float32(bytes(pcm))
    if sample_rate != WHISPER_RATE:
        samples = soxr.resample(samples, sample_rate, WHISPER_RATE, quality="HQ")
    return np.ascontiguousarray(samples, dtype=np.float32)


def rms_dbfs(samples: Samples) -> float:
    """Loudness of float samples in dB relative to full scale (-inf for digital silence)."""
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")
