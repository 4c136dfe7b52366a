from __future__ import annotations

from pathlib import Path

import pytest
from tts_worker.errors import ConfigError
from tts_worker.providers import build_tts
from tts_worker.providers.espeak import EspeakTTS
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.providers.piper import PiperTTS
from tts_worker.settings import TTSSettings
from tts_worker.testing import FakeTTS


def test_offline_defaults() -> None:
    s = TTSSettings.from_env({"PABX_CACHE": "/c"})
    assert (s.provider, s.lang, s.voice, s.sample_rate, s.chunk_ms) == (
        "auto",
        "pt",
        "pm_alex",
        8000,
        100,
    )
    assert s.kokoro_model == Path("/c/models/kokoro-82m-int8-0.1.0/kokoro-v1.0.int8.onnx")
    assert s.kokoro_voices == Path("/c/models/kokoro-voices-ptbr-ja-1.2.1/voices_ptbr_ja.npz")
    assert s.piper_model == Path("/c/models/piper-en_US-joe-medium-1.0.0/en_US-joe-medium.onnx")


def test_auto_routes_english_to_piper_and_falls_back_to_espeak() -> None:
    router = build_tts(TTSSettings.from_env({}))
    assert isinstance(router.provider_for("pt-BR"), KokoroTTS)
    assert isinstance(router.provider_for(None), KokoroTTS)
    assert isinstance(router.provider_for("en-US"), PiperTTS)
    assert isinstance(router.fallback, EspeakTTS)
    assert not any(p.loaded for p in router.providers)  # loading is explicit


def test_own_files_and_voice() -> None:
    env = {
        "TTS_PROVIDER": "kokoro",
        "TTS_MODEL_PATH": "/m/k.onnx",
        "TTS_VOICES_PATH": "/m/voices-v1.0.bin",
        "TTS_VOICE": "pf_dora",
        "TTS_FALLBACK": "none",
    }
    router = build_tts(TTSSettings.from_env(env))
    kokoro = router.default
    assert isinstance(kokoro, KokoroTTS)
    assert (kokoro.model_path, kokoro.voices_path) == (
        Path("/m/k.onnx"),
        Path("/m/voices-v1.0.bin"),
    )
    assert router.voice_id() == "kokoro:k.onnx+voices-v1.0.bin:pf_dora:pt-br"
    assert router.fallback is None


def test_voice_identity_names_what_changes_the_sound() -> None:
    # The phrase cache keys on voice_id: tags Kokoro speaks alike share it, speed does not.
    router = build_tts(TTSSettings.from_env({}))
    assert router.voice_id("pt") == router.voice_id("pt-BR") == router.voice_id("pt_br")
    assert router.voice_id("pt-PT") != router.voice_id("pt")
    faster = build_tts(TTSSettings.from_env({"TTS_SPEED": "1.2"}))
    assert faster.voice_id("pt") == router.voice_id("pt").replace(".npz:", ".npz@1.2x:")
    other = build_tts(TTSSettings.from_env({"TTS_VOICE": "jf_alpha"}))
    assert other.voice_id("pt") != router.voice_id("pt")


def test_fake_provider_for_benchmarks() -> None:
    router = build_tts(TTSSettings.from_env({"TTS_PROVIDER": "fake"}))
    assert isinstance(router.default, FakeTTS)
    assert router.fallback is None


def test_phrase_cache_settings() -> None:
    s = TTSSettings.from_env({})
    assert s.cache_phrases == ("Claro.", "Certo.", "Um momento.")
    assert (s.cache_max_phrases, s.cache_ttl_s, s.cache_refresh_s) == (128, 7 * 86400, 60.0)
    s = TTSSettings.from_env({"TTS_CACHE_PHRASES": " Pois não. |  | Só um momento.|Pois não."})
    assert s.cache_phrases == ("Pois não.", "Só um momento.")
    assert TTSSettings.from_env({"TTS_CACHE_PHRASES": "-"}).cache_phrases == ()


def test_first_clause_priority_setting() -> None:
    assert TTSSettings.from_env({}).first_clause_priority_ms == 2000
    assert TTSSettings.from_env({"TTS_FIRST_CLAUSE_PRIORITY_MS": "0"}).first_clause_priority_ms == 0
    for bad in ("-1", "600000", "soon"):
        with pytest.raises(ConfigError):
            TTSSettings.from_env({"TTS_FIRST_CLAUSE_PRIORITY_MS": bad})
