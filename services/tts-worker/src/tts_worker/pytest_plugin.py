"""Pytest fixtures on the real engines, for the test suites that need them (imported by
their conftest.py): the packaged Kokoro and Piper, loaded once per test run and shared by
every suite, and espeak-ng."""

from __future__ import annotations

import pytest

from .providers.espeak import EspeakTTS
from .providers.kokoro import KokoroTTS
from .providers.piper import PiperTTS
from .testing import packaged_kokoro, packaged_piper


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
