from __future__ import annotations

from pathlib import Path

import pytest
from stt_worker.errors import ConfigError
from stt_worker.providers import build_provider
from stt_worker.providers.faster_whisper import FasterWhisperSTT
from stt_worker.settings import STTSettings


def test_offline_defaults() -> None:
    s = STTSettings.from_env({"PABX_CACHE": "/c"})
    assert (s.provider, s.model, s.device, s.compute_type) == ("faster_whisper", "base", "cpu",
                                                               "int8")
    assert (s.cpu_threads, s.beam_size, s.language) == (2, 1, "pt")
    assert s.model_ref() == Path("/c/models/whisper-base-1.0.0")


def test_seed_names_are_accepted() -> None:
    s = STTSettings.from_env({"STT_PROVIDER": "whisper_local", "STT_MODEL": "base"})
    assert s.provider == "faster_whisper"


def test_gpu_settings_reach_the_provider() -> None:
    env = {"STT_DEVICE": "cuda", "STT_COMPUTE_TYPE": "float16", "STT_MODEL_PATH": "/m/w"}
    stt = build_provider(STTSettings.from_env(env))
    assert isinstance(stt, FasterWhisperSTT)
    assert (stt.device, stt.compute_type, stt.model_ref) == ("cuda", "float16", Path("/m/w"))
    assert stt.min_rms_dbfs == -60.0
    assert not stt.loaded  # loading is explicit, once per process


def test_other_model_names_stay_names() -> None:
    assert STTSettings.from_env({"STT_MODEL": "small"}).model_ref() == "small"
    assert STTSettings.from_env({"STT_MODEL": "/opt/w"}).model_ref() == Path("/opt/w")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STT_CPU_THREADS": "zero"}, "invalid STT setting"),
        ({"STT_TIMEOUT_S": "0"}, "STT_TIMEOUT_S must be positive"),
        ({"STT_RETRIES": "-1"}, "STT_RETRIES"),
        ({"STT_LANGUAGE": "brasil1"}, "STT_LANGUAGE must be a code"),
        ({"STT_PROVIDER": "deepgram"}, "unknown STT_PROVIDER 'deepgram'"),
    ],
)
def test_bad_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_provider(STTSettings.from_env(env))
