"""PCM levels and WAV files (sans-I/O but for the file reads and writes)."""

from __future__ import annotations

import math
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path


def dbfs(pcm: bytes) -> float | None:
    """RMS level of 16-bit little-endian PCM in dBFS; None for silence or no samples."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return None
    mean_square = sum(s * s for s in samples) / len(samples)
    if mean_square == 0:
        return None
    return round(10 * math.log10(mean_square / (32768.0 * 32768.0)), 1)


def format_dbfs(level: float | None) -> str:
    return "-inf dBFS" if level is None else f"{level:.1f} dBFS"


class WavError(ValueError):
    """A WAV file that cannot be sent: unreadable, not mono 16-bit PCM, unsupported rate."""


@dataclass(frozen=True, slots=True)
class Wav:
    sample_rate: int
    pcm: bytes

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) * 1000 // (2 * self.sample_rate)


def read_wav(path: Path) -> Wav:
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            if w.getcomptype() != "NONE":
                raise WavError(f"{path}: compressed WAV ({w.getcomptype()}); use 16-bit PCM")
            pcm = w.readframes(w.getnframes())
    except FileNotFoundError as e:
        raise WavError(f"{path}: no such file") from e
    except (wave.Error, EOFError) as e:
        raise WavError(f"{path}: not a WAV file ({e})") from e
    except OSError as e:
        raise WavError(f"{path}: cannot read ({e.strerror or e})") from e
    if channels != 1 or width != 2:
        raise WavError(
            f"{path}: {channels} channel(s) of {8 * width}-bit samples; ASP wants mono 16-bit PCM "
            f"(sox in.wav -c 1 -b 16 out.wav)"
        )
    if not pcm:
        raise WavError(f"{path}: the WAV holds no audio")
    return Wav(rate, pcm)


def write_wav(path: Path, sample_rate: int, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)


def frames_of(pcm: bytes, frame_bytes: int) -> list[bytes]:
    """Cuts PCM into whole frames; the last one is padded with silence."""
    out = [pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]
    if out and len(out[-1]) < frame_bytes:
        out[-1] = out[-1] + b"\x00" * (frame_bytes - len(out[-1]))
    return out
