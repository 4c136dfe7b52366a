"""faster-whisper with the packaged Whisper base, on speech made by the project's TTS.

Portuguese comes from Kokoro (the agent's own voice), English from Piper; both are
resampled to the phone's 8 kHz exactly as tts-worker sends them, so this is the audio
the STT hears on a call. espeak-ng speech is not used: too robotic to judge an STT.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from stt_worker.errors import AudioFormatError, ConfigError, ProviderError, STTError
from stt_worker.providers.faster_whisper import FasterWhisperSTT
from stt_worker.testing import word_error_rate
from tts_worker.providers.base import Synthesis
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.providers.piper import PiperTTS

PT_SENTENCES = [
    "Bom dia, eu gostaria de falar com o setor financeiro, por favor.",
    "Qual é o horário de funcionamento da loja no sábado?",
]
TONE = (np.sin(np.arange(1600) / 8000 * 2 * np.pi * 300) * 8000).astype("<i2").tobytes()
EN_SENTENCE = "Hello, I would like to check the status of my order."


async def _speech(tts: KokoroTTS | PiperTTS, text: str, rate: int, lang: str) -> bytes:
    syn = await tts.synthesize(text, language=lang)
    return b"".join(c.pcm for c in syn.render(rate))


@pytest.fixture(scope="module")
def pt_speech(kokoro: KokoroTTS) -> list[Synthesis]:
    async def speak() -> list[Synthesis]:
        return [await kokoro.synthesize(t, language="pt-br") for t in PT_SENTENCES]

    return asyncio.run(speak())


async def test_portuguese_from_kokoro_at_8khz(
    whisper: FasterWhisperSTT, pt_speech: list[Synthesis]
) -> None:
    hyps = []
    for syn in pt_speech:
        pcm = b"".join(c.pcm for c in syn.render(8000))
        result = await whisper.transcribe(pcm, 8000, "pt-BR")
        assert result.language == "pt"
        assert result.audio_s == pytest.approx(len(pcm) / 2 / 8000, abs=0.01)
        hyps.append(result.text)
    wer = word_error_rate(" ".join(PT_SENTENCES), " ".join(hyps))
    assert wer <= 0.15, (wer, hyps)


async def test_portuguese_at_16khz(whisper: FasterWhisperSTT, pt_speech: list[Synthesis]) -> None:
    pcm = b"".join(c.pcm for c in pt_speech[0].render(16000))
    result = await whisper.transcribe(pcm, 16000)  # the provider's default language: pt
    assert word_error_rate(PT_SENTENCES[0], result.text) <= 0.15, result.text


async def test_english_from_piper_at_8khz(whisper: FasterWhisperSTT, piper: PiperTTS) -> None:
    pcm = await _speech(piper, EN_SENTENCE, 8000, "en")
    result = await whisper.transcribe(pcm, 8000, "en")
    assert word_error_rate(EN_SENTENCE, result.text) <= 0.15, result.text


async def test_silence_gives_no_words(whisper: FasterWhisperSTT) -> None:
    result = await whisper.transcribe(b"\x00\x00" * 8000, 8000)
    assert result.text == ""


async def test_repetition_loops_are_dropped(whisper: FasterWhisperSTT) -> None:
    # Whisper base answers a second of faint hum with "o que é o que é ..." when the
    # silence gate is off: the no-speech and compression-ratio filters must catch it.
    gate = whisper.min_rms_dbfs
    whisper.min_rms_dbfs = -200.0
    try:
        result = await whisper.transcribe(b"\x00\x00" * 8000, 8000)
    finally:
        whisper.min_rms_dbfs = gate
    assert len(result.text.split()) <= 3, result.text


@pytest.mark.parametrize(
    ("pcm", "rate", "message"),
    [
        (b"", 8000, "empty audio"),
        (b"\x00" * 321, 8000, "odd byte count 321"),
        (b"\x00\x00" * 800, 44100, "44100 Hz is not supported"),
        (b"\x00\x00" * 8000 * 31, 8000, "longer than the 30 s limit"),
    ],
)
async def test_malformed_audio_is_rejected_clearly(
    whisper: FasterWhisperSTT, pcm: bytes, rate: int, message: str
) -> None:
    with pytest.raises(AudioFormatError, match=message) as info:
        await whisper.transcribe(pcm, rate)
    assert not info.value.retryable


async def test_unknown_language_is_not_retried(whisper: FasterWhisperSTT) -> None:
    with pytest.raises(ProviderError, match="does not know language 'xx'") as info:
        await whisper.transcribe(TONE, 8000, "xx")
    assert not info.value.retryable


async def test_invalid_language_code(whisper: FasterWhisperSTT) -> None:
    with pytest.raises(STTError, match="invalid language code"):
        await whisper.transcribe(b"\x00\x00" * 1600, 8000, "p0rtugues")


async def test_missing_model_directory_says_how_to_fix(tmp_path: object) -> None:
    stt = FasterWhisperSTT(f"{tmp_path}/nowhere", timeout_s=30, retries=0)
    with pytest.raises(ConfigError, match=r"lacks model\.bin.*assemble-models\.sh"):
        stt.load()
    with pytest.raises(ConfigError, match=r"lacks model\.bin"):
        await stt.transcribe(TONE, 8000)
