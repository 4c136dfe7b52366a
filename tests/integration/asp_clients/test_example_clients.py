"""The two example clients of docs/ASP_INTEGRATION.md (Python and Node.js) hold a
conversation turn with the real gateway, Redis and workers (fake engines): each connects
with the token, negotiates, waits for the greeting, asks a spoken question and saves the
agent's answer, then ends the session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from asp_clients_support import EXAMPLES, Agent, check_answer_wav, check_turn_in_redis, sessions

pytestmark = pytest.mark.slow


def _run(args: list[str], agent: Agent, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASP_GATEWAY_TOKEN": agent.token}
    return subprocess.run(
        args, cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("rate", [16000, 8000])
def test_the_python_client_holds_a_turn(
    agent: Agent, questions: dict[int, Path], tmp_path: Path, rate: int
) -> None:
    before = sessions(agent.redis_url)
    answer = tmp_path / "answer.wav"
    out = _run([sys.executable, "client.py", agent.url, str(questions[rate]), str(answer)], agent)
    assert out.returncode == 0, out.stdout + out.stderr
    for kind in ("session.started", "response.start", "response.end", "session.ended"):
        assert f"<- {kind}" in out.stdout
    check_answer_wav(answer, rate)
    check_turn_in_redis(agent.redis_url, before)


def test_the_javascript_client_holds_a_turn(
    agent: Agent, questions: dict[int, Path], tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is not installed (scripts/setup.d/55-asp-client-example.sh)"
    assert (EXAMPLES / "node_modules" / "ws").is_dir(), "run make bootstrap (npm ci of ws)"
    before = sessions(agent.redis_url)
    answer = tmp_path / "answer.wav"
    out = _run([node, "client.mjs", agent.url, str(questions[16000]), str(answer)], agent)
    assert out.returncode == 0, out.stdout + out.stderr
    for kind in ("session.started", "response.start", "response.end", "session.ended"):
        assert f"<- {kind}" in out.stdout
    check_answer_wav(answer, 16000)
    check_turn_in_redis(agent.redis_url, before)


def test_a_client_without_the_token_is_refused(
    agent: Agent, questions: dict[int, Path], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ASP_GATEWAY_TOKEN"}
    out = subprocess.run(
        [sys.executable, "client.py", agent.url, str(questions[16000]), str(tmp_path / "a.wav")],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert "401" in out.stderr
    assert not (tmp_path / "a.wav").exists()
