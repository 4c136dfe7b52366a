"""sip-edge as a process in model turn mode, without Asterisk: a PJSUA2 caller speaks one
question; the end-of-turn model is asked and the turn ends. And without its model file,
sip-edge says so and runs in silence mode."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import redis
from asp.messages import Utterance
from sip_edge.testing import (
    REDIS_URL,
    EdgeProcess,
    caller_result,
    dial,
    metric,
    read_wav,
    session_messages,
    speech_wav,
    wait_session_end,
)

pytestmark = pytest.mark.integration  # sip-edge as its own process, the end-of-turn model


def checks(metrics: str) -> float:
    total = 0.0
    for verdict in ("complete", "incomplete", "stale", "error"):
        with contextlib.suppress(KeyError):  # a verdict never seen has no sample
            total += metric(metrics, f'sip_edge_turn_checks_total{{verdict="{verdict}"}}')
    return total


def test_a_call_in_model_mode_asks_the_model_and_ends_the_turn(
    tmp_path: Path, r: redis.Redis
) -> None:
    speech_path = speech_wav("Qual é o horário de atendimento?", tmp_path / "speech.wav")
    speech_s = len(read_wav(speech_path)[0]) / 8000
    env = {"REDIS_URL": REDIS_URL, "SIP_EDGE_TURN_MODE": "model"}
    with EdgeProcess(tmp_path / "edge.log", **env) as edge:
        caller, sid = dial(
            r, edge, "--play", str(speech_path), "--play-at", "0.5",
            "--hangup-at", f"{speech_s + 3.0:.1f}",
        )  # fmt: skip
        wait_session_end(r, sid, edge, caller_result(caller))
        _types, msgs = session_messages(r, sid)
        metrics = edge.metrics()
    log = edge.log()
    assert "turn mode: model" in log, log[-2000:]
    utts = [m for m in msgs if isinstance(m, Utterance)]
    assert len(utts) == 1
    assert checks(metrics) >= 1
    assert metric(metrics, "sip_edge_turn_model_seconds_count") >= 1
    assert edge.returncode == 0, log[-2000:]


def test_without_the_model_file_it_says_so_and_runs_in_silence_mode(tmp_path: Path) -> None:
    env = {
        "REDIS_URL": REDIS_URL,
        "SIP_EDGE_TURN_MODE": "model",
        "SIP_EDGE_TURN_MODEL_PATH": str(tmp_path / "absent.onnx"),
    }
    with EdgeProcess(tmp_path / "edge.log", **env) as edge:
        assert edge.metrics()
    log = edge.log()
    assert "absent.onnx not found" in log
    assert "falls back to silence" in log
    assert edge.returncode == 0, log[-2000:]
