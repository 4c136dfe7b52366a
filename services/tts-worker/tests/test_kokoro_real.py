"""Kokoro-82M (packaged int8 weights, default voice pm_alex) speaking Portuguese.

What it says is transcribed back from the 8 kHz chunks that would go to the caller by the
project's ear for what a phone heard (:func:`stt_worker.testing.judge_whisper`: Whisper base
with its own 30 s window): the words must survive the whole output path.

The ear is not the STT service's latency configuration (10 s encoder window, int8): with
that, which words of this sentence come back depends on the CPU's int8 kernels. On an Intel
Xeon with AVX-512 it heard "os setor" where the same model with float32 arithmetic, the
same model with the generic int8 kernels, and the ear all heard "o setor" (2026-12-08,
WER 0.111 against 0.056). The bound on the original sentence is unchanged.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest
from stt_worker.providers.faster_whisper import FasterWhisperSTT
from stt_worker.testing import judge_whisper, word_error_rate
from tts_worker.errors import ConfigError, TTSError
from tts_worker.providers.base import Synthesis
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.settings import TTSSettings

pytestmark = pytest.mark.integration  # the packaged Kokoro model

SENTENCE = (
    "Claro, vou transferir a sua ligação para o setor de vendas, "
    "aguarde um momento na linha, por favor."
)


@pytest.fixture(scope="module")
def spoken(kokoro: KokoroTTS) -> Synthesis:
    return asyncio.run(kokoro.synthesize(SENTENCE, language="pt-BR"))


def test_engine_output(spoken: Synthesis) -> None:
    assert spoken.sample_rate == 24_000
    assert spoken.provider == "kokoro"
    assert spoken.voice_id == "kokoro:kokoro-v1.0.int8.onnx+voices_ptbr_ja.npz:pm_alex:pt-br"
    assert 3.0 < spoken.audio_s < 12.0
    assert float(np.max(np.abs(spoken.samples))) > 0.05


async def test_transcribed_back_at_8khz(spoken: Synthesis) -> None:
    pcm = b"".join(c.pcm for c in spoken.render(8000))
    result = await judge_whisper().transcribe(pcm, 8000, "pt")
    wer = word_error_rate(SENTENCE, result.text)
    assert wer <= 0.10, (wer, result.text)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_chunks_are_ordered_20ms_aligned_at_the_session_rate(spoken: Synthesis, rate: int) -> None:
    chunks = spoken.render(rate, start_seq=7)
    assert [c.seq for c in chunks] == list(range(7, 7 + len(chunks)))
    assert {c.sample_rate for c in chunks} == {rate}
    assert {len(c.pcm) for c in chunks} == {rate // 50 * 2}
    total_s = sum(c.duration_ms for c in chunks) / 1000
    assert spoken.audio_s <= total_s < spoken.audio_s + 0.02 + 0.005


def test_larger_chunks_stay_frame_aligned(spoken: Synthesis) -> None:
    chunks = spoken.render(8000, chunk_ms=100)
    assert {len(c.pcm) for c in chunks} == {1600}


async def test_unknown_voice_is_a_clear_error(kokoro: KokoroTTS) -> None:
    with pytest.raises(TTSError, match="unknown Kokoro voice 'pf_nobody'"):
        await kokoro.synthesize("Olá.", voice="pf_nobody")


async def test_empty_text_is_rejected(kokoro: KokoroTTS) -> None:
    with pytest.raises(TTSError, match="empty text"):
        await kokoro.synthesize("  \n ")


def test_missing_model_says_how_to_fix(tmp_path: Path) -> None:
    s = TTSSettings.from_env({})
    tts = KokoroTTS(tmp_path / "none.onnx", s.kokoro_voices)
    with pytest.raises(ConfigError, match=r"none\.onnx not found.*assemble-models\.sh"):
        tts.load()


def test_official_voices_file_name_is_accepted(tmp_path: Path) -> None:
    # Kokoro's own voices-v1.0.bin is the same NumPy archive format under another name.
    s = TTSSettings.from_env({})
    official = tmp_path / "voices-v1.0.bin"
    shutil.copy(s.kokoro_voices, official)
    tts = KokoroTTS(s.kokoro_model, official, voice="jf_alpha")
    tts.load()
    assert "jm_kumo" in tts.voices
    assert tts.voice_id("pt") == "kokoro:kokoro-v1.0.int8.onnx+voices-v1.0.bin:jf_alpha:pt-br"


def test_voice_missing_from_the_file_fails_at_load(tmp_path: Path) -> None:
    s = TTSSettings.from_env({})
    tts = KokoroTTS(s.kokoro_model, s.kokoro_voices, voice="af_heart")
    with pytest.raises(ConfigError, match=r"voice 'af_heart' is not in .*jm_kumo, pf_dora"):
        tts.load()


def test_packaged_file_has_the_pt_br_voices_and_the_japanese_ones(kokoro: KokoroTTS) -> None:
    assert kokoro.voices == [
        "jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo",
        "pf_dora", "pm_alex", "pm_santa",
    ]  # fmt: skip


@pytest.mark.parametrize("voice", ["jm_kumo", "pf_dora"])
async def test_other_voices_stay_selectable(
    kokoro: KokoroTTS, whisper: FasterWhisperSTT, voice: str
) -> None:
    text = "A consulta custa duzentos e cinquenta reais."
    syn = await kokoro.synthesize(text, voice=voice, language="pt-BR")
    assert syn.voice_id == f"kokoro:kokoro-v1.0.int8.onnx+voices_ptbr_ja.npz:{voice}:pt-br"
    result = await whisper.transcribe(b"".join(c.pcm for c in syn.render(8000)), 8000, "pt")
    assert "consulta" in result.text.lower(), result.text
