"""``asp-debug connect`` against the real gateway, Redis and workers (fake engines): the
handshake, what the server accepted, a spoken question in either binary framing and the
answer saved; and the clear errors of a refused token and a rejected configuration."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from asp_clients_support import Agent, check_answer_wav, check_turn_in_redis, sessions

pytestmark = pytest.mark.slow
ASP_DEBUG = Path(sys.executable).with_name("asp-debug")


def asp_debug(
    agent: Agent | None, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ASP_GATEWAY_TOKEN"}
    if agent is not None:
        env["ASP_GATEWAY_TOKEN"] = agent.token
    return subprocess.run(
        [str(ASP_DEBUG), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("framing", ["spec", "seed"])
def test_a_spoken_question_gets_an_answer(
    agent: Agent, questions: dict[int, Path], tmp_path: Path, framing: str
) -> None:
    before = sessions(agent.redis_url)
    answer = tmp_path / "answer.wav"
    out = asp_debug(
        agent,
        "connect",
        agent.url,
        "--sample-rate",
        "16000",
        "--vad-silence",
        "700",
        "--framing",
        framing,
        "--send",
        str(questions[16000]),
        "--save",
        str(answer),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert "<- protocol.capabilities" in lines[0]
    started = next(line for line in lines if "<- session.started" in line)
    assert '"status":"accepted"' in started
    assert '"silence_threshold_ms":700' in started  # what the server accepted
    assert any("<- response.end" in line for line in lines)
    assert "<- session.ended" in lines[-1]
    check_answer_wav(answer, 16000)
    sid = check_turn_in_redis(agent.redis_url, before)
    # and asp-debug tail reads what the gateway and the workers wrote for it
    tail = asp_debug(None, "tail", sid, "--no-follow", "--redis-url", agent.redis_url)
    assert tail.returncode == 0, tail.stderr
    assert "!!" not in tail.stdout
    utterance = next(line for line in tail.stdout.splitlines() if " utterance " in line)
    assert re.search(r"\| audio \d+ bytes, \d+ ms, -\d+\.\d dBFS$", utterance), utterance
    assert '"text":"Qual é o horário de atendimento?"' in tail.stdout


def test_json_output_and_an_adjusted_vad(agent: Agent, questions: dict[int, Path]) -> None:
    out = asp_debug(
        agent,
        "connect",
        agent.url,
        "--json",
        "--vad-silence",
        "2500",
        "--send",
        str(questions[8000]),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    started = next(
        r["message"] for r in records if r.get("message", {}).get("type") == "session.started"
    )
    assert started["status"] == "accepted_with_changes"
    assert started["negotiated"]["audio"]["sample_rate"] == 8000
    (adj,) = started["negotiated"]["adjustments"]
    assert (adj["field"], adj["applied"]) == ("vad.silence_threshold_ms", 2000)
    assert any(r.get("message", {}).get("type") == "response.end" for r in records)


def test_the_token_in_the_query_is_accepted(agent: Agent) -> None:
    out = asp_debug(agent, "connect", agent.url, "--token-in-query")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "<- session.started" in out.stdout


def test_a_wrong_or_missing_token_is_refused(agent: Agent) -> None:
    out = asp_debug(None, "connect", agent.url, "--token", "wrong")
    assert out.returncode == 3
    assert "HTTP 401: the token was refused" in out.stderr
    out = asp_debug(None, "connect", agent.url)
    assert out.returncode == 3
    assert "HTTP 401: the server requires a token" in out.stderr


def test_an_unsupported_rate_is_rejected_with_its_code(agent: Agent) -> None:
    out = asp_debug(agent, "connect", agent.url, "--sample-rate", "11025")
    assert out.returncode == 4
    assert "session rejected: 2001" in out.stderr


def test_a_bad_wav_never_reaches_the_gateway(agent: Agent, tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 6400)
    before = sessions(agent.redis_url)
    out = asp_debug(agent, "connect", agent.url, "--send", str(stereo))
    assert out.returncode == 2
    assert "2 channel(s) of 16-bit samples" in out.stderr
    assert sessions(agent.redis_url) == before
