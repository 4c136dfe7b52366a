"""Real models, loaded once per test session (they are what is under test here)."""

from __future__ import annotations

import pytest
from stt_worker.providers.faster_whisper import FasterWhisperSTT
from stt_worker.settings import STTSettings
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.providers.piper import PiperTTS
from tts_worker.settings import TTSSettings

# Generous: the machine is shared, and a timeout here would hide a wrong answer.
SLOW_OK_S = 300.0


@pytest.fixture(scope="session")
def whisper() -> FasterWhisperSTT:
    s = STTSettings.from_env({})
    stt = FasterWhisperSTT(s.model_ref(), timeout_s=SLOW_OK_S, retries=0)
    stt.load()
    return stt


@pytest.fixture(scope="session")
def kokoro() -> KokoroTTS:
    s = TTSSettings.from_env({})
    tts = KokoroTTS(s.kokoro_model, s.kokoro_voices, timeout_s=SLOW_OK_S, retries=0)
    tts.load()
    return tts


@pytest.fixture(scope="session")
def piper() -> PiperTTS:
    tts = PiperTTS(TTSSettings.from_env({}).piper_model, timeout_s=SLOW_OK_S, retries=0)
    tts.load()
    return tts
