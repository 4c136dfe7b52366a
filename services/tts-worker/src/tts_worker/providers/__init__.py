"""TTS providers: a plain registry from TTS_PROVIDER to a factory, and the router."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pipeline.envparse import Registry

from ..errors import ConfigError
from ..settings import TTSSettings
from .base import Synthesis, TTSCapabilities, TTSProvider

if TYPE_CHECKING:  # the router imports providers.base: import it lazily, no cycle
    from ..router import TTSRouter


def make_kokoro(s: TTSSettings) -> TTSProvider:
    from .kokoro import KokoroTTS

    return KokoroTTS(
        s.kokoro_model,
        s.kokoro_voices,
        speed=s.speed,
        threads=s.threads,
        voice=s.voice,
        **s.engine_options(),
    )


def make_piper(s: TTSSettings) -> TTSProvider:
    from .piper import PiperTTS

    return PiperTTS(s.piper_model, threads=s.threads, timeout_s=s.timeout_s, retries=s.retries)


def make_espeak(s: TTSSettings) -> TTSProvider:
    from .espeak import EspeakTTS

    return EspeakTTS(language=s.lang, timeout_s=s.timeout_s, retries=0)


def make_fake(s: TTSSettings) -> TTSProvider:
    from ..testing import FakeTTS

    # TTS_FAKE_DELAY_S slows each sentence: lets tests kill a replica in the middle of a reply.
    delay = float(os.environ.get("TTS_FAKE_DELAY_S", "0") or 0)
    return FakeTTS(delay_s=delay, **s.engine_options())


REGISTRY: Registry[TTSSettings, TTSProvider] = Registry(
    "TTS_PROVIDER",
    ConfigError,
    {"kokoro": make_kokoro, "piper": make_piper, "espeak": make_espeak, "fake": make_fake},
)


def build_tts(settings: TTSSettings) -> TTSRouter:
    """The engines TTS_PROVIDER asks for, behind one router (not loaded yet)."""
    from ..router import TTSRouter

    fallback = make_espeak(settings) if settings.fallback == "espeak" else None
    if settings.provider == "auto":
        routes = {"en": make_piper(settings)}
        return TTSRouter(
            make_kokoro(settings), routes=routes, fallback=fallback, language=settings.lang
        )
    primary = REGISTRY.build(settings.provider, settings)
    if settings.provider in ("espeak", "fake"):
        fallback = None
    return TTSRouter(primary, fallback=fallback, language=settings.lang)


__all__ = ["REGISTRY", "Synthesis", "TTSCapabilities", "TTSProvider", "build_tts"]
