from __future__ import annotations

from pathlib import Path

import pytest
from sip_edge.call.turn_end import TurnEndParams
from sip_edge.settings import Settings, SettingsError

ENV_EXAMPLE = Path(__file__).parents[1] / ".env.example"


def test_defaults_work_without_any_variable() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert s.sip_port == 5070
    assert s.max_calls == 50
    assert s.vad == "gate"
    assert s.barge_in_min_ms == 120
    assert s.metrics_port == 9091


def test_values_are_read() -> None:
    s = Settings.from_env(
        {
            "SIP_EDGE_SIP_PORT": "5099",
            "SIP_EDGE_MAX_CALLS": "7",
            "SIP_EDGE_VAD": "silero",
            "SIP_EDGE_WIDEBAND": "yes",
            "SIP_EDGE_REGISTRAR": "127.0.0.1:5160",
            "EXT_2000_PASSWORD": "s3cret",
            "SIP_EDGE_ECHO_GUARD_DB": "0",
        }
    )
    assert (s.sip_port, s.max_calls, s.vad, s.wideband) == (5099, 7, "silero", True)
    assert s.registrar == "127.0.0.1:5160"
    assert s.password == "s3cret"  # noqa: S105 - a test value, not a secret
    assert s.echo_guard_db == 0


def test_redis_settings_are_shared_with_the_workers() -> None:
    """REDIS_URL, REDIS_SOCKET_TIMEOUT_S and KEEP_CALL_AUDIO: the same reader as the workers."""
    s = Settings.from_env(
        {"REDIS_URL": "redis://r:6380/2", "REDIS_SOCKET_TIMEOUT_S": "9", "KEEP_CALL_AUDIO": "1"}
    )
    o = s.redis_options
    assert (o.url, o.socket_timeout_s, o.keep_call_audio) == (
        "redis://r:6380/2",
        9.0,
        True,
    )
    assert Settings.from_env({}).redis_options.keep_call_audio is False


def test_redis_sentinel_settings_reach_the_edge() -> None:
    """REDIS_SENTINELS and REDIS_SENTINEL_MASTER: the edge finds the master as the workers do."""
    s = Settings.from_env(
        {"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "pabx"}
    )
    assert s.redis_options.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379))
    assert s.redis_options.sentinel_master == "pabx"
    assert Settings.from_env({}).redis_options.sentinels == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIP_EDGE_SIP_PORT", "http"),
        ("SIP_EDGE_SIP_PORT", "70000"),
        ("SIP_EDGE_MAX_CALLS", "0"),
        ("SIP_EDGE_MAX_CALLS", "1e3"),
        ("SIP_EDGE_VAD", "magic"),
        ("SIP_EDGE_WIDEBAND", "maybe"),
        ("SIP_EDGE_BARGE_IN_MIN_MS", "-5"),
        ("SIP_EDGE_DRAIN_GRACE_S", "nan-ish"),
        ("SIP_EDGE_EXTENSION", "20 00"),
        ("SIP_EDGE_ECHO_GUARD_DB", "99"),
        ("SIP_EDGE_TURN_MODE", "smart"),
        ("SIP_EDGE_TURN_PAUSE_MS", "0"),
        ("SIP_EDGE_TURN_PAUSE_MS", "fast"),
        ("SIP_EDGE_TURN_MAX_SILENCE_MS", "50"),
        ("SIP_EDGE_TURN_THRESHOLD", "1.5"),
        ("SIP_EDGE_TURN_THRESHOLD", "nan"),
        ("SIP_EDGE_TURN_THREADS", "0"),
        ("SIP_EDGE_NO_ANSWER_S", "-1"),
        ("SIP_EDGE_NO_ANSWER_S", "oito"),
        ("SIP_EDGE_MAX_UTTERANCE_S", "0.5"),
        ("SIP_EDGE_MAX_CALL_S", "5"),
        ("SIP_EDGE_MAX_CALL_S", "99999999"),
        ("REDIS_URL", "localhost:6379"),
        ("REDIS_SOCKET_TIMEOUT_S", "1"),
        ("REDIS_SOCKET_TIMEOUT_S", "never"),
        ("KEEP_CALL_AUDIO", "forever"),
        ("REDIS_SENTINELS", "sentinel-without-port"),
        ("REDIS_SENTINEL_MASTER", "pabx"),  # without REDIS_SENTINELS
    ],
)
def test_malformed_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_turn_settings_are_read() -> None:
    s = Settings.from_env(
        {
            "SIP_EDGE_TURN_MODE": " Model ",
            "SIP_EDGE_TURN_PAUSE_MS": "300",
            "SIP_EDGE_TURN_MAX_SILENCE_MS": "1500",
            "SIP_EDGE_TURN_THRESHOLD": "0.7",
            "SIP_EDGE_TURN_MODEL_PATH": "/models/st.onnx",
            "SIP_EDGE_TURN_THREADS": "2",
        }
    )
    assert s.turn_params() == TurnEndParams("model", 300, 1500, 0.7)
    assert s.turn_model_file() == Path("/models/st.onnx")
    assert s.turn_threads == 2


def test_turn_defaults_and_the_packaged_model_path(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings.from_env({})
    assert s.turn_params() == TurnEndParams("silence", 200, 1200, 0.5)
    monkeypatch.setenv("PABX_CACHE", "/cache")
    assert s.turn_model_file() == Path(
        "/cache/models/smart-turn-v3.2-pipecat-1.14.0/smart-turn-v3.2-cpu.onnx"
    )


def test_turn_cap_shorter_than_the_pause_is_refused() -> None:
    env = {"SIP_EDGE_TURN_PAUSE_MS": "800", "SIP_EDGE_TURN_MAX_SILENCE_MS": "600"}
    with pytest.raises(SettingsError, match="SIP_EDGE_TURN_MAX_SILENCE_MS"):
        Settings.from_env(env)


def test_every_variable_is_in_env_example() -> None:
    import inspect

    from sip_edge import settings

    source = inspect.getsource(settings.Settings.from_env)
    names = set()
    for token in source.replace("(", " ").replace(",", " ").split():
        token = token.strip("\"'")
        if token.isupper() and "_" in token:
            names.add(token)
    documented = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert names <= documented, names - documented


def test_speculative_pause_is_read_off_by_default_and_reaches_both_turn_modes() -> None:
    assert Settings.from_env({}).speculative_pause_ms == 0
    s = Settings.from_env({"SIP_EDGE_SPECULATIVE_PAUSE_MS": "200"})
    assert s.speculative_pause_ms == 200
    assert s.turn_params().speculative_pause_ms == 200
    with pytest.raises(SettingsError, match="SIP_EDGE_SPECULATIVE_PAUSE_MS"):
        Settings.from_env({"SIP_EDGE_SPECULATIVE_PAUSE_MS": "-5"})


def test_every_turn_ends_in_speech_and_the_call_bounds_are_read() -> None:
    d = Settings.from_env({})
    assert (d.no_answer_s, d.max_utterance_s, d.max_call_s) == (8.0, 30.0, 14400.0)
    s = Settings.from_env(
        {
            "SIP_EDGE_NO_ANSWER_S": "5",
            "SIP_EDGE_MAX_UTTERANCE_S": "0",
            "SIP_EDGE_MAX_CALL_S": "3600",
            "SIP_EDGE_GOODBYE_WAV": "/x/despedida-{rate}.wav",
        }
    )
    assert (s.no_answer_s, s.max_utterance_s, s.max_call_s) == (5.0, 0.0, 3600.0)
    assert s.goodbye_wav == "/x/despedida-{rate}.wav"
