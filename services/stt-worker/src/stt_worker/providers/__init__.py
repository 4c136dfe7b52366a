"""STT providers: a plain registry from STT_PROVIDER to a factory."""

from __future__ import annotations

import os

from pipeline.envparse import Registry

from ..errors import ConfigError
from ..settings import STTSettings
from .base import STTCapabilities, STTProvider, Transcript, normalize_language


def _faster_whisper(s: STTSettings) -> STTProvider:
    from .faster_whisper import FasterWhisperSTT

    return FasterWhisperSTT(
        s.model_ref(),
        device=s.device,
        compute_type=s.compute_type,
        cpu_threads=s.cpu_threads,
        beam_size=s.beam_size,
        max_audio_s=s.max_audio_s,
        min_rms_dbfs=s.min_rms_dbfs,
        window_s=s.window_s,
        min_window_s=s.min_window_s,
        **s.engine_options(),
    )


def _fake(s: STTSettings) -> STTProvider:
    from ..testing import FakeSTT

    # A fixed question, so a pipeline on fakes (tests, `make up` smoke runs) has a turn;
    # STT_FAKE_TEXT replaces it (a test that needs the model's answer, not the hours').
    return FakeSTT(
        default=os.environ.get("STT_FAKE_TEXT") or "Qual é o horário de atendimento?",
        min_rms_dbfs=s.min_rms_dbfs,
        **s.engine_options(),
    )


REGISTRY: Registry[STTSettings, STTProvider] = Registry(
    "STT_PROVIDER", ConfigError, {"faster_whisper": _faster_whisper, "fake": _fake}
)


def build_provider(settings: STTSettings) -> STTProvider:
    """The provider STT_PROVIDER names (not loaded yet: call ``load()`` once)."""
    return REGISTRY.build(settings.provider, settings)


__all__ = [
    "REGISTRY",
    "STTCapabilities",
    "STTProvider",
    "Transcript",
    "build_provider",
    "normalize_language",
]
