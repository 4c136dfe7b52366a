"""Real models, loaded once per test run (they are what is under test here).

The loaders are cached per process and shared with the stt-worker suite.
"""

from __future__ import annotations

import pytest
from stt_worker.providers.faster_whisper import FasterWhisperSTT
from stt_worker.testing import packaged_whisper
from tts_worker.providers.espeak import EspeakTTS
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.providers.piper import PiperTTS
from tts_worker.testing import packaged_kokoro, packaged_piper


@pytest.fixture(scope="session")
def kokoro() -> KokoroTTS:
    return packaged_kokoro()


@pytest.fixture(scope="session")
def piper() -> PiperTTS:
    return packaged_piper()


@pytest.fixture(scope="session")
def espeak() -> EspeakTTS:
    tts = EspeakTTS(timeout_s=300, retries=0)
    tts.load()
    return tts


@pytest.fixture(scope="session")
def whisper() -> FasterWhisperSTT:
    return packaged_whisper()
