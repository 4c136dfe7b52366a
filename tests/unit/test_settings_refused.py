"""Every speech stage refuses bad settings at start with its ConfigError, whose message says
what is wrong (most name the setting): one table for the STT, LLM and TTS workers. What
good settings give is checked in each service's own settings tests."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from llm_worker.errors import ConfigError as LLMConfigError
from llm_worker.settings import Settings as LLMSettings
from stt_worker.errors import ConfigError as STTConfigError
from stt_worker.providers import build_provider
from stt_worker.settings import STTSettings
from tts_worker.errors import ConfigError as TTSConfigError
from tts_worker.settings import TTSSettings


def _stt(env: dict[str, str]) -> object:
    return build_provider(STTSettings.from_env(env))  # some are refused by the provider


STAGES: dict[str, tuple[Callable[[dict[str, str]], object], type[Exception]]] = {
    "stt": (_stt, STTConfigError),
    "llm": (LLMSettings.from_env, LLMConfigError),
    "tts": (TTSSettings.from_env, TTSConfigError),
}

Case = tuple[str, dict[str, str], str]


def naming(stage: str, setting: str, *values: str) -> list[Case]:
    """``setting`` set to each of ``values`` alone, refused with a message naming it."""
    return [(stage, {setting: value}, re.escape(setting)) for value in values]


CASES: list[Case] = [
    ("stt", {"STT_CPU_THREADS": "zero"}, "invalid STT setting"),
    ("stt", {"STT_TIMEOUT_S": "0"}, "STT_TIMEOUT_S must be positive"),
    *naming("stt", "STT_RETRIES", "-1"),
    ("stt", {"STT_LANGUAGE": "brasil1"}, "STT_LANGUAGE must be a code"),
    ("stt", {"STT_PROVIDER": "deepgram"}, "unknown STT_PROVIDER 'deepgram'"),
    *naming("llm", "LLM_PROVIDER", "gpt5"),
    ("llm", {"LLM_MAX_HISTORY_TURNS": "muitos"}, "not an integer"),
    ("llm", {"LLM_MAX_HISTORY_TURNS": "0"}, "outside"),
    ("llm", {"LLM_TEMPERATURE": "quente"}, "not a number"),
    ("llm", {"LLM_TIMEOUT_FIRST_S": "-1"}, "outside"),
    ("llm", {"LLM_MAX_RETRIES": "50"}, "outside"),
    ("llm", {"LLM_FIRST_WORDS_MIN": "5", "LLM_FIRST_WORDS_MAX": "4"}, "LLM_FIRST_WORDS_MAX"),
    ("llm", {"LLM_FIRST_WORDS_MIN": "-1"}, "outside"),
    ("llm", {"LLM_STATE_CACHE_MB": "lots"}, "not an integer"),
    ("llm", {"LLM_N_THREADS_BATCH": "0.5"}, "not an integer"),
    ("llm", {"LLM_N_THREADS_BATCH": "0"}, "outside"),
    ("llm", {"LLM_MAX_SENTENCES": "-2"}, "outside"),
    ("llm", {"LLM_TTS_PRIORITY_MAX_WAIT_S": "nan"}, "outside"),
    # a held local generation must stay below the idle timeout
    ("llm", {"LLM_TTS_PRIORITY_MAX_WAIT_S": "10"}, "LLM_TIMEOUT_IDLE_S"),
    (
        "llm",
        {
            "LLM_TIMEOUT_IDLE_S": "1",
            "LLM_TTS_PRIORITY_MAX_WAIT_S": ".5",
            "POSTCALL_MAX_HOLD_S": "5",
        },
        "POSTCALL_MAX_HOLD_S",
    ),
    ("llm", {"POSTCALL_DEFER_MAX_S": "-1"}, "outside"),
    ("llm", {"LLM_TIMEZONE": "America/Campinas"}, "LLM_TIMEZONE='America/Campinas' is not a time"),
    *naming("llm", "LLM_TIMEZONE", "../etc/passwd"),
    ("tts", {"TTS_PROVIDER": "gtts"}, "gTTS needs Google's servers"),
    ("tts", {"TTS_PROVIDER": "polly"}, "unknown TTS_PROVIDER 'polly'"),
    *naming("tts", "TTS_SAMPLE_RATE", "44100"),
    *naming("tts", "TTS_CHUNK_MS", "30"),
    *naming("tts", "TTS_SPEED", "3"),
    ("tts", {"TTS_SPEED": "fast"}, "invalid TTS setting"),
    *naming("tts", "TTS_FALLBACK", "gtts"),
    *naming("tts", "TTS_RETRIES", "-1"),
    ("tts", {"TTS_LANG": "português"}, "TTS_LANG must be a language code"),
    *naming("tts", "TTS_CACHE_MAX_PHRASES", "-1", "1000"),
    *naming("tts", "TTS_CACHE_TTL_S", "10"),
    *naming("tts", "TTS_CACHE_REFRESH_S", "0"),
    *naming("tts", "TTS_CACHE_PHRASES", "Claro.|" + "a" * 301),
]


@pytest.mark.parametrize(("stage", "env", "message"), CASES)
def test_bad_settings_are_refused_with_a_clear_error(
    stage: str, env: dict[str, str], message: str
) -> None:
    parse, error = STAGES[stage]
    with pytest.raises(error, match=message):
        parse(env)
