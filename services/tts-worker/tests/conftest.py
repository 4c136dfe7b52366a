"""Real models, loaded once per test run (they are what is under test here): the fixtures
of tts_worker.pytest_plugin and stt_worker.pytest_plugin (what the speech says)."""

from stt_worker.pytest_plugin import whisper
from tts_worker.pytest_plugin import espeak, kokoro, piper

__all__ = ["espeak", "kokoro", "piper", "whisper"]
