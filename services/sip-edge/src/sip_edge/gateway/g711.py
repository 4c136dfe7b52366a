"""G.711 (mu-law and A-law) to and from 16-bit PCM, for gateway clients that negotiate
``mulaw`` or ``alaw`` (the pipeline works in PCM16). Pure: lookup tables built once, with
the classic segment search of ITU-T G.711 (as in Sun's reference g711.c)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["decode", "encode"]

_SEG_U_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_A_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for i, end in enumerate(ends):
        if value <= end:
            return i
    return len(ends)


def _ulaw_byte(sample: int) -> int:
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, 8159) + (0x84 >> 2)
    seg = _segment(value, _SEG_U_END)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & 0xF)) ^ mask


def _alaw_byte(sample: int) -> int:
    value = sample >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask, value = 0x55, -value - 1
    seg = _segment(value, _SEG_A_END)
    if seg >= 8:
        return 0x7F ^ mask
    low = (value >> 1) & 0xF if seg < 2 else (value >> seg) & 0xF
    return ((seg << 4) | low) ^ mask


def _ulaw_sample(byte: int) -> int:
    u = ~byte & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return (0x84 - t) if u & 0x80 else (t - 0x84)


def _alaw_sample(byte: int) -> int:
    a = byte ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


@functools.cache
def _tables(encoding: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(int16 sample -> byte, indexed by sample + 32768; byte -> int16 sample)."""
    to_byte, to_sample = (
        (_ulaw_byte, _ulaw_sample) if encoding == "mulaw" else (_alaw_byte, _alaw_sample)
    )
    enc = np.array([to_byte(s) for s in range(-32768, 32768)], dtype=np.uint8)
    dec = np.array([to_sample(b) for b in range(256)], dtype="<i2")
    return enc, dec


def decode(data: bytes, encoding: str) -> bytes:
    """G.711 bytes (``mulaw`` or ``alaw``) -> PCM16 LE."""
    _, dec = _tables(encoding)
    return bytes(dec[np.frombuffer(data, dtype=np.uint8)].tobytes())


def encode(pcm: bytes, encoding: str) -> bytes:
    """PCM16 LE -> G.711 bytes (``mulaw`` or ``alaw``)."""
    enc, _ = _tables(encoding)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32) + 32768
    return bytes(enc[samples].tobytes())
