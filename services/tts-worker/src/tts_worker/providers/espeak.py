"""espeak-ng (the Debian package), the last-resort voice.

Robotic but instant (about 8 ms to first audio) and speaks about a hundred languages,
so the caller hears something when the neural engines fail. Runs the ``espeak-ng``
binary with the text on standard input (never on the command line).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from typing import Any, ClassVar

import numpy as np

from ..audio import Samples
from ..errors import ConfigError, ProviderError
from .base import TTSCapabilities, TTSProvider

# Session language -> espeak-ng voice.
ESPEAK_VOICES = {"pt": "pt-br", "en": "en-us", "es": "es", "fr": "fr", "it": "it", "de": "de"}


def parse_wav_stream(data: bytes) -> tuple[Samples, int]:
    """Decode the PCM16 mono WAV that espeak-ng writes to a pipe.

    Written to a pipe, its RIFF and data sizes are placeholders, so the ``wave`` module
    cannot be trusted with it: read the fmt chunk, then everything after ``data``.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ProviderError("espeak-ng did not write a WAV file", retryable=False)
    pos, rate = 12, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise ProviderError("truncated WAV fmt chunk", retryable=False)
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (fmt, channels, bits) != (1, 1, 16):
                raise ProviderError(
                    f"unexpected WAV format {fmt}/{channels}/{bits}", retryable=False
                )
            pos = body + size
        elif cid == b"data":
            if not rate:
                raise ProviderError("WAV data before fmt chunk", retryable=False)
            pcm = data[body:]
            pcm = pcm[: len(pcm) - len(pcm) % 2]
            return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0, rate
        else:
            pos = body + size + (size & 1)
    raise ProviderError("WAV without data chunk", retryable=False)


class EspeakTTS(TTSProvider):
    name: ClassVar[str] = "espeak"
    capabilities: ClassVar[TTSCapabilities] = TTSCapabilities(max_concurrency=4)

    def __init__(
        self, *, binary: str = "espeak-ng", words_per_minute: int = 160, **base: Any
    ) -> None:
        super().__init__(**base)
        self.binary = binary
        self.words_per_minute = words_per_minute
        self._path: str | None = None

    def resolve_voice(self, voice: str | None, language: str) -> str:
        if voice or self.default_voice:
            return voice or self.default_voice or ""
        return ESPEAK_VOICES.get(language.split("-")[0], language)

    def _load(self) -> None:
        self._path = shutil.which(self.binary)
        if self._path is None:
            raise ConfigError(f"{self.binary} not found: apt-get install espeak-ng")

    def _synthesize(self, text: str, voice: str, language: str) -> tuple[Samples, int]:
        assert self._path is not None
        res = subprocess.run(  # noqa: S603 - fixed binary, text goes through stdin
            [self._path, "-v", voice, "-s", str(self.words_per_minute), "--stdout"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=self.timeout_s,
            check=False,
        )
        if res.returncode != 0:
            err = res.stderr.decode("utf-8", "replace").strip()[:200]
            raise ProviderError(f"espeak-ng exited {res.returncode}: {err}", retryable=False)
        return parse_wav_stream(res.stdout)
