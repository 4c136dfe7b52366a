from __future__ import annotations

from pathlib import Path

import pytest
from pipeline.testing import refused_settings
from stt_worker.errors import ConfigError
from stt_worker.providers import build_provider
from stt_worker.providers.faster_whisper import FasterWhisperSTT, window_seconds
from stt_worker.settings import STTSettings


def test_offline_defaults() -> None:
    s = STTSettings.from_env({"PABX_CACHE": "/c"})
    assert (s.provider, s.model, s.device, s.compute_type) == (
        "faster_whisper",
        "base",
        "cpu",
        "int8",
    )
    assert (s.cpu_threads, s.beam_size, s.language) == (2, 5, "pt")
    # 10 s encoder windows, not Whisper's 30 s (docs/perf/speech.md)
    assert (s.window_s, s.min_window_s) == (10.0, 10.0)
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


def test_window_settings_reach_the_provider() -> None:
    stt = build_provider(STTSettings.from_env({"STT_WINDOW_S": "2.5", "STT_MIN_WINDOW_S": "4"}))
    assert isinstance(stt, FasterWhisperSTT)
    assert (stt.window_s, stt.min_window_s) == (2.5, 4.0)
    whisper = build_provider(STTSettings.from_env({"STT_WINDOW_S": "30"}))
    assert isinstance(whisper, FasterWhisperSTT)
    assert whisper.window_frames(16_000 * 3) is None  # Whisper's own 3000 frames


test_malformed_window_settings_are_clear_errors = refused_settings(
    STTSettings.from_env,
    ConfigError,
    [
        ({"STT_WINDOW_S": "cinco"}, r"STT_WINDOW_S='cinco' is not a number"),
        ({"STT_WINDOW_S": "5s"}, r"STT_WINDOW_S='5s' is not a number"),
        ({"STT_WINDOW_S": "0"}, r"STT_WINDOW_S must be more than 0 and at most 30"),
        ({"STT_WINDOW_S": "-2"}, r"STT_WINDOW_S must be more than 0 and at most 30"),
        ({"STT_WINDOW_S": "31"}, r"STT_WINDOW_S must be more than 0 and at most 30"),
        ({"STT_WINDOW_S": "nan"}, r"STT_WINDOW_S must be more than 0 and at most 30"),
        ({"STT_WINDOW_S": "inf"}, r"STT_WINDOW_S must be more than 0 and at most 30"),
        ({"STT_MIN_WINDOW_S": "quatro"}, r"STT_MIN_WINDOW_S='quatro' is not a number"),
        ({"STT_MIN_WINDOW_S": "-1"}, r"STT_MIN_WINDOW_S must be between 0 and 30"),
        ({"STT_MIN_WINDOW_S": "45"}, r"STT_MIN_WINDOW_S must be between 0 and 30"),
        ({"STT_MIN_WINDOW_S": "nan"}, r"STT_MIN_WINDOW_S must be between 0 and 30"),
    ],
)


@pytest.mark.parametrize(
    ("audio_s", "window_s", "min_window_s", "expected"),
    [
        (2.3, 30, 0, 30),  # today: always Whisper's 30 s
        (29.9, 30, 8, 30),
        (2.3, 2, 4, 4),  # rounded up to 4, the minimum
        (4.0, 2, 4, 4),  # an exact multiple stays
        (4.01, 2, 4, 6),
        (7.2, 5, 5, 10),
        (0.4, 5, 0, 5),  # at least one step
        (29.5, 10, 0, 30),
        (30.0, 7, 0, 30),  # never above 30 s (a multiple of 7 would be 35)
        (3.0, 1, 0, 3),  # no float drift: 3.0 / 1 is 3, not 4
        (6.0, 0.2, 0, 6),
    ],
)
def test_window_is_the_audio_rounded_up(
    audio_s: float, window_s: float, min_window_s: float, expected: float
) -> None:
    assert window_seconds(audio_s, window_s, min_window_s) == pytest.approx(expected)


def test_window_frames_cover_the_audio_and_are_even() -> None:
    stt = FasterWhisperSTT("/m", window_s=0.25, min_window_s=0)
    for samples in (1, 16_000, 16_001, 40_080, 16_000 * 7 + 3):
        frames = stt.window_frames(samples)
        assert frames is not None
        assert frames % 2 == 0
        assert frames >= samples / 160  # every frame of audio is seen
        assert frames <= samples / 160 + 0.25 * 100 + 2
