"""Pytest fixtures on the real engine, for the test suites that need it (imported by their
conftest.py): the packaged Whisper, loaded once per test run and shared by every suite."""

from __future__ import annotations

import pytest

from .providers.faster_whisper import FasterWhisperSTT
from .testing import packaged_whisper


@pytest.fixture(scope="session")
def whisper() -> FasterWhisperSTT:
    return packaged_whisper()
