from __future__ import annotations

import struct

import numpy as np
import pytest
from tts_worker.errors import ConfigError, ProviderError
from tts_worker.providers.espeak import EspeakTTS, parse_wav_stream
from tts_worker.providers.piper import PiperTTS


def _wav(samples: list[int], rate: int = 22050, fmt: tuple[int, int, int] = (1, 1, 16)) -> bytes:
    code, channels, bits = fmt
    fmt_chunk = struct.pack("<HHIIHH", code, channels, rate, rate * 2, 2, bits)
    data = struct.pack(f"<{len(samples)}h", *samples)
    return (
        b"RIFF"
        + b"\xff\xff\xff\x7f"
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt_chunk
        + b"LIST"
        + struct.pack("<I", 3)
        + b"abc\x00"
        + b"data"
        + b"\xff\xff\xff\x7f"
        + data
    )


def test_parse_wav_stream_with_placeholder_sizes() -> None:
    samples, rate = parse_wav_stream(_wav([0, 16384, -32768]))
    assert rate == 22050
    np.testing.assert_allclose(samples, [0.0, 0.5, -1.0])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "did not write a WAV"),
        (b"RIFF\x00\x00\x00\x00WAVX", "did not write a WAV"),
        (_wav([1], fmt=(3, 1, 32)), "unexpected WAV format 3/1/32"),
        (_wav([1], fmt=(1, 2, 16)), "unexpected WAV format 1/2/16"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00", "data before fmt"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01", "truncated WAV fmt"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk\x00\x00\x00\x00", "without data"),
    ],
)
def test_parse_wav_stream_malformed(data: bytes, message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        parse_wav_stream(data)


async def test_espeak_speaks_portuguese(espeak: EspeakTTS) -> None:
    syn = await espeak.synthesize("-v en Bom dia.", language="pt-BR")  # text never reaches argv
    assert syn.sample_rate == 22050
    assert syn.audio_s > 0.5
    chunks = syn.render(16000)
    assert {len(c.pcm) for c in chunks} == {640}


async def test_espeak_unknown_voice_is_an_error(espeak: EspeakTTS) -> None:
    with pytest.raises(ProviderError, match="espeak-ng exited"):
        await espeak.synthesize("oi", voice="xx-nonexistent")


def test_espeak_missing_binary() -> None:
    with pytest.raises(ConfigError, match="apt-get install espeak-ng"):
        EspeakTTS(binary="espeak-ng-not-installed").load()


async def test_piper_speaks_english_at_its_own_rate(piper: PiperTTS) -> None:
    syn = await piper.synthesize("Good morning.")
    assert (syn.sample_rate, syn.provider) == (22050, "piper")
    assert syn.voice_id == "piper:en_US-joe-medium.onnx:en_US-joe-medium:en"
    assert 0.3 < syn.audio_s < 3.0


def test_piper_missing_model(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match=r"Piper file .* not found"):
        PiperTTS(f"{tmp_path}/voice.onnx").load()
