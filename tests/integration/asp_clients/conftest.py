"""The agent behind the ASP WebSocket gateway, on real parts: a private redis-server, the
three workers (STT, LLM, TTS) as processes with their fake engines, and the gateway
(``python -m sip_edge.gateway``, issue 17) on a free port with a token. Clients under test
connect to ``agent.url``; every session goes through Redis like a phone call.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asp_clients_support import Agent
from pipeline.proc_watch import watching
from pipeline.testing import RedisServer

QUESTION = "Qual é o horário de atendimento?"
READY = re.compile(r"ASP_GATEWAY_READY port=(\d+)")


def _same(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    return proc


def _start(name: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    logs = tmp_path_factory.mktemp("asp-agent")
    token = secrets.token_urlsafe(24)
    procs: list[subprocess.Popen[bytes]] = []
    with RedisServer() as redis, contextlib.ExitStack() as watches:
        watches.enter_context(redis.watched("agent"))
        base = {**os.environ, "REDIS_URL": redis.url, "PYTHONUNBUFFERED": "1"}
        try:
            for kind in ("stt", "llm", "tts"):
                env = {
                    **base,
                    "STT_PROVIDER": "fake",
                    "LLM_PROVIDER": "fake",
                    "TTS_PROVIDER": "fake",
                    "TTS_FALLBACK": "none",
                    "METRICS_PORT": "0",
                    "WORKER_NAME": f"asp-clients-{kind}",
                }
                log = logs / f"{kind}.log"
                procs.append(_start(kind, [sys.executable, "-m", f"{kind}_worker"], env, log))
                proc = procs[-1]
                watches.enter_context(
                    watching(f"{kind}_worker", "agent", functools.partial(_same, proc), log)
                )
            env = {
                **base,
                "ASP_GATEWAY_TOKEN": token,
                "ASP_GATEWAY_HOST": "127.0.0.1",
                "ASP_GATEWAY_PORT": "0",
                "ASP_GATEWAY_METRICS_HOST": "127.0.0.1",
                "ASP_GATEWAY_METRICS_PORT": "0",
                "SIP_EDGE_DRAIN_GRACE_S": "1",  # a quick stop at the end of the module
            }
            log = logs / "gateway.log"
            gateway = _start("gateway", [sys.executable, "-m", "sip_edge.gateway"], env, log)
            procs.append(gateway)
            port = _ready_port(gateway, log, timeout=60)
            watches.enter_context(watching("asp-gateway", "agent", lambda: gateway, log))
            yield Agent(f"ws://127.0.0.1:{port}", token, redis.url, redis)
        finally:
            _stop(procs)


def _ready_port(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        m = READY.search(text)
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"no ASP_GATEWAY_READY line in {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def questions(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The spoken question (espeak-ng, pt-BR) as mono 16-bit WAVs at 8 and 16 kHz."""
    d = tmp_path_factory.mktemp("asp-questions")
    raw = d / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "pt-br", "-s", "150", "-w", str(raw), QUESTION], check=True)
    out: dict[int, Path] = {}
    for rate in (8000, 16000):
        out[rate] = d / f"question-{rate}.wav"
        subprocess.run(
            ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out[rate])], check=True
        )
    return out
