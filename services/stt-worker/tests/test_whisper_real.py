"""faster-whisper with the packaged Whisper base, on speech made by the project's TTS.

Portuguese comes from Kokoro (the agent's own voice), English from Piper; both are
resampled to the phone's 8 kHz exactly as tts-worker sends them, so this is the audio
the STT hears on a call. espeak-ng speech is not used: too robotic to judge an STT.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest
from faster_whisper import WhisperModel
from stt_worker.audio import prepare_for_whisper
from stt_worker.errors import (
    AudioFormatError,
    ConfigError,
    ProviderError,
    STTError,
    TranscriptionCancelled,
)
from stt_worker.providers.faster_whisper import FasterWhisperSTT
from stt_worker.settings import STTSettings
from stt_worker.testing import word_error_rate
from tts_worker.providers.base import Synthesis
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.providers.piper import PiperTTS

pytestmark = pytest.mark.integration  # the packaged Whisper, Kokoro and Piper models

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


def _encoded_frames(whisper: FasterWhisperSTT, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the mel frames each encoder call gets (after the window cut)."""
    model = whisper._model
    seen: list[int] = []
    encode = type(model).encode

    def spy(features: Any) -> Any:
        out = encode(model, features)
        seen.append(int(out.shape[1]) * 2)  # the encoder halves the frames
        return out

    monkeypatch.setattr(model, "encode", spy)
    return seen


async def test_the_default_window_transcribes_portuguese_phone_audio(
    whisper: FasterWhisperSTT, pt_speech: list[Synthesis], monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = STTSettings()
    assert (whisper.window_s, whisper.min_window_s) == (defaults.window_s, defaults.min_window_s)
    seen = _encoded_frames(whisper, monkeypatch)
    hyps, audio_s = [], []
    for syn in pt_speech:
        pcm = b"".join(c.pcm for c in syn.render(8000))
        result = await whisper.transcribe(pcm, 8000, "pt-BR")
        hyps.append(result.text)
        audio_s.append(result.audio_s)
    expected = [whisper.window_frames(round(a * 16_000)) or 3000 for a in audio_s]
    assert seen == expected  # the default window reached the encoder
    wer = word_error_rate(" ".join(PT_SENTENCES), " ".join(hyps))
    assert wer <= 0.15, (wer, hyps)


async def test_a_short_window_encodes_only_the_utterance(
    whisper: FasterWhisperSTT, pt_speech: list[Synthesis], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whisper, "window_s", 2.0)
    monkeypatch.setattr(whisper, "min_window_s", 4.0)
    seen = _encoded_frames(whisper, monkeypatch)
    pcm = b"".join(c.pcm for c in pt_speech[1].render(8000))
    result = await whisper.transcribe(pcm, 8000, "pt")
    window = max(4.0, 2.0 * -(-result.audio_s // 2.0))
    assert seen == [round(window * 100)]
    assert seen[0] < 3000
    assert word_error_rate(PT_SENTENCES[1], result.text) <= 0.15, result.text


def test_a_cancel_while_the_encoder_runs_skips_the_decoder(
    whisper: FasterWhisperSTT, pt_speech: list[Synthesis], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A call's utterance is one window: a cancel set while its encoder runs stops it
    # before the decoder (the passes themselves cannot be interrupted).
    samples = prepare_for_whisper(b"".join(c.pcm for c in pt_speech[0].render(16000)), 16000)
    cancel = threading.Event()
    decoded: list[object] = []
    model = whisper._model
    decode = type(model).generate_with_fallback

    encode = WhisperModel.encode  # the encoder pass, under the window cut

    def encode_while_cancelled(self: Any, features: Any) -> Any:
        cancel.set()  # the utterance is cancelled while the encoder runs
        return encode(self, features)

    def record_decode(*args: Any) -> Any:
        decoded.append(args)
        return decode(model, *args)

    monkeypatch.setattr(WhisperModel, "encode", encode_while_cancelled)
    monkeypatch.setattr(model, "generate_with_fallback", record_decode)
    whisper.load()
    with pytest.raises(TranscriptionCancelled, match="before the decoder") as info:
        whisper._transcribe(samples, "pt", cancel)
    assert info.value.engine_ran
    assert decoded == []
    monkeypatch.setattr(WhisperModel, "encode", encode)
    cancel.clear()  # the same model transcribes the next utterance as before
    assert word_error_rate(PT_SENTENCES[0], whisper._transcribe(samples, "pt", cancel)) <= 0.15
    assert len(decoded) == 1


def test_a_cancel_between_windows_stops_a_long_transcription(
    whisper: FasterWhisperSTT, pt_speech: list[Synthesis], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 40 s is two windows (the provider caps a call's utterance at 30 s: one window): a
    # cancel set while the first window decodes stops it before the second is encoded.
    one = prepare_for_whisper(b"".join(c.pcm for c in pt_speech[0].render(16000)), 16000)
    samples = np.tile(one, int(40 * 16_000 / len(one)) + 1)
    cancel = threading.Event()
    seen = _encoded_frames(whisper, monkeypatch)
    model = whisper._model
    decode = type(model).generate_with_fallback

    def decode_then_cancel(*args: Any) -> Any:
        result = decode(model, *args)
        cancel.set()
        return result

    monkeypatch.setattr(model, "generate_with_fallback", decode_then_cancel)
    whisper.load()
    with pytest.raises(TranscriptionCancelled) as info:
        whisper._transcribe(samples, "pt", cancel)
    assert info.value.engine_ran
    assert len(seen) == 1  # the second window was never encoded


async def test_a_cancel_before_the_engine_takes_the_call_runs_nothing(
    whisper: FasterWhisperSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _encoded_frames(whisper, monkeypatch)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TranscriptionCancelled) as info:
        await whisper.transcribe(TONE, 8000, "pt", cancel=cancel)
    assert not info.value.engine_ran
    assert not info.value.retryable
    assert seen == []
