"""Real models, loaded once per test run (they are what is under test here): the fixtures
of stt_worker.pytest_plugin and tts_worker.pytest_plugin (speech to transcribe)."""

from stt_worker.pytest_plugin import whisper
from tts_worker.pytest_plugin import kokoro, piper

__all__ = ["kokoro", "piper", "whisper"]
