"""Output audio: resample once per sentence, cut into 20 ms-aligned PCM16 chunks.

Pure functions (no I/O). The engines speak at their own rate (Kokoro 24 kHz, Piper
22.05 kHz, espeak-ng 22.05 kHz); the session wants 8 kHz (phone) or 16 kHz (wideband).
Each sentence is resampled in one call to soxr (no stream state to flush) and cut into
chunks whose length is a whole number of 20 ms frames, so sip-edge can hand them to the
RTP clock without re-framing. The last chunk is padded with silence to a whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from .errors import AudioFormatError

Samples = npt.NDArray[np.float32]
"""Mono float32 samples in [-1, 1]."""

FRAME_MS = 20
SESSION_RATES: tuple[int, ...] = (8_000, 16_000)


@dataclass(frozen=True)
class AudioChunk:
    """One piece of a response's audio: PCM16 little-endian mono."""

    seq: int
    pcm: bytes
    sample_rate: int

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration_ms(self) -> float:
        return self.samples * 1000 / self.sample_rate


def check_session_rate(rate: int) -> None:
    if rate not in SESSION_RATES:
        rates = ", ".join(str(r) for r in SESSION_RATES)
        raise AudioFormatError(f"session rate {rate} Hz is not supported (use {rates})")


def frame_bytes(sample_rate: int, chunk_ms: int = FRAME_MS) -> int:
    """Bytes of PCM16 in ``chunk_ms`` milliseconds; chunk_ms must be a multiple of 20."""
    if chunk_ms <= 0 or chunk_ms % FRAME_MS:
        raise AudioFormatError(f"chunk of {chunk_ms} ms is not a multiple of {FRAME_MS} ms")
    if sample_rate <= 0 or (sample_rate * FRAME_MS) % 1000:
        raise AudioFormatError(f"{sample_rate} Hz has no whole number of samples per 20 ms")
    return sample_rate * chunk_ms // 1000 * 2


def resample(samples: npt.ArrayLike, from_rate: int, to_rate: int) -> Samples:
    """Resample float mono samples in one go (HQ soxr); returns float32."""
    if from_rate <= 0 or to_rate <= 0:
        raise AudioFormatError(f"invalid rates {from_rate} -> {to_rate}")
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if from_rate == to_rate or x.size == 0:
        return x
    return np.asarray(soxr.resample(x, from_rate, to_rate, quality="HQ"), dtype=np.float32)


def float_to_pcm16(samples: npt.ArrayLike) -> bytes:
    """float samples in [-1, 1] -> PCM16 little-endian (clipped, rounded)."""
    x = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 32767 / 32768)
    return np.round(x * 32768.0).astype("<i2").tobytes()


def chunk_pcm(
    pcm: bytes, sample_rate: int, *, chunk_ms: int = FRAME_MS, start_seq: int = 0
) -> list[AudioChunk]:
    """Cut PCM16 into chunks of exactly ``chunk_ms`` (the last padded with silence).

    Sequence numbers run from ``start_seq``, so a response's sentences continue one
    numbering. Empty input gives no chunks.
    """
    if len(pcm) % 2:
        raise AudioFormatError(f"odd byte count {len(pcm)}: PCM16 needs 2 bytes per sample")
    if start_seq < 0:
        raise AudioFormatError("start_seq must be >= 0")
    size = frame_bytes(sample_rate, chunk_ms)
    data = bytes(pcm)
    remainder = len(data) % size
    if remainder:
        data += b"\x00" * (size - remainder)
    return [
        AudioChunk(start_seq + i, data[off : off + size], sample_rate)
        for i, off in enumerate(range(0, len(data), size))
    ]


def render(
    samples: npt.ArrayLike,
    native_rate: int,
    session_rate: int,
    *,
    chunk_ms: int = FRAME_MS,
    start_seq: int = 0,
) -> list[AudioChunk]:
    """One sentence of engine output -> ordered chunks at the session rate."""
    check_session_rate(session_rate)
    pcm = float_to_pcm16(resample(samples, native_rate, session_rate))
    return chunk_pcm(pcm, session_rate, chunk_ms=chunk_ms, start_seq=start_seq)
