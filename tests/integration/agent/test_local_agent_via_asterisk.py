"""The offline default answers from the operator's facts, through the real Asterisk (issue 13):
a PJSUA2 phone registered as 1001 dials 2000 and asks for the company's address; what the
phone hears must be the address written in the shipped facts file. The same workers then
answer an ASP client of the WebSocket gateway at 16 kHz (issue 17's "the real models at
least once").

Since the facts step answers the address itself (llm_worker.company: no model request), the
question checks the facts path through the real speech engines and Asterisk; the local model
is still loaded, warmed and health-checked here, and its own answers are covered by
services/llm-worker/tests/test_local.py and bench/agent_eval.py.

Nothing is faked: sip-edge registered to Asterisk, ``python -m stt_worker`` (Whisper base),
``python -m llm_worker`` with the local model (the default Qwen GGUF, llama.cpp, one thread)
reading compose/agent/fatos.toml as make up and compose give it, and ``python -m
tts_worker`` (Kokoro). The question is Kokoro's speech; the caller's recording of the answer
is transcribed by Whisper. Deviations from the offline defaults: ``LLM_TEMPERATURE=0`` (the
same prompt gives the same answer on every run) and ``LLM_TIMEOUT_FIRST_S=240``.

The llm-worker becomes healthy once it has evaluated the system prompt (persona, facts and
today's line, about a thousand tokens) for the first time, the slow part of this module's
set-up (on the 2-core machine: 40 s at load 7, 123 s at load 12-14; a cold prompt took more
than 60 s, the local default first-token limit, at load 8-13): hence the longer limit. The
question then costs only its own tokens (the test: 25 s at load 7, most of it speech, 81 s at
load 12-14).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from agent_support import (
    FACTS,
    Worker,
    hear_response,
    kokoro_says,
    plain,
    running_agent,
    transcribe,
)
from asp.messages import CallAction, ResponseText, SessionStart, Transcript
from edge_support import dial_2000
from llm_worker.facts_store import load_facts
from pipeline.testing import RedisServer
from sip_edge.gateway.testing import AspClient, GatewayProcess, SessionAudio
from sip_edge.testing import EdgeProcess, session_messages, write_wav
from sipphone import SAMPLE_RATE, Phone, poll_until

# The example's address: "Rua das Flores, 123, Centro, Campinas, São Paulo"; the number may
# be heard as digits or as words.
STREET = "flores"
NUMBER = ("123", "cento e vinte e tres")


@pytest.fixture(scope="module")
def local_agent(redis_server: RedisServer, edge_dir: Path) -> Iterator[list[Worker]]:
    """The three workers with the offline engines, the llm-worker on the local model."""
    tmp = edge_dir / "local"
    tmp.mkdir(exist_ok=True)
    local = {"LLM_PROVIDER": "local", "LLM_TEMPERATURE": "0", "LLM_TIMEOUT_FIRST_S": "240"}
    # 240 s: loading the model and the first evaluation of the prompt on a busy 2-core host
    with running_agent(tmp, redis_server.url, healthy_within_s=240, **local) as workers:
        yield workers


def test_asking_the_address_by_voice_speaks_the_address_in_the_facts_file(
    sip_edge: EdgeProcess,
    local_agent: list[Worker],
    phones: dict[str, Phone],
    r: redis.Redis,
    tmp_path: Path,
) -> None:
    address = load_facts(FACTS).address
    assert STREET in plain(address)
    assert NUMBER[0] in address
    question = kokoro_says("Qual é o endereço de vocês?")
    call, sid = dial_2000(phones["1001"], r)
    hear_response(call, r, sid, 0, greeting=True, timeout=90)

    mark = len(call.recording())
    call.play(question)
    call.wait_played(30)
    answer = hear_response(call, r, sid, mark, greeting=False, timeout=120)
    _, log = session_messages(r, sid)
    transcripts = [m.text for m in log if isinstance(m, Transcript)]
    said = " ".join(
        m.text for m in log if isinstance(m, ResponseText) and m.response_id != "greeting"
    )
    heard = transcribe(answer) if len(answer) < 25 * SAMPLE_RATE else "(more than 25 s)"
    # how long the answer lasted at the phone tells a cut answer (a few seconds) from one
    # that Whisper transcribed only in part (the full sentence is about 6 s); the recording
    # stays in the test's tmp_path for listening
    write_wav(tmp_path / "answer.wav", answer)
    context = (
        f"asked {transcripts!r}; the model said {said!r}; the caller heard {heard!r} "
        f"({len(answer) / SAMPLE_RATE:.1f} s of audio from the first speech on, "
        f"{tmp_path / 'answer.wav'}); the session's events: {[m.TYPE for m in log]}"
    )
    assert len(transcripts) == 1, context
    assert "endereco" in plain(transcripts[0]), context
    assert not [m for m in log if isinstance(m, CallAction)], context  # answered, not transferred
    print(context)  # pytest -rP shows it
    # what the caller heard: the street and the number of the facts file
    assert STREET in heard, context
    assert any(n in heard for n in NUMBER), context
    call.hangup()
    poll_until(lambda: "session.end" in session_messages(r, sid)[0], 15, "session.end")


GATEWAY_RATE = 16000


async def _ask_over_websocket(
    gw: GatewayProcess, question: bytes, timeout: float
) -> tuple[str, bytes, bytes]:
    """One session on the gateway at 16 kHz: the greeting, then the question; returns the
    session id, the greeting's audio and the answer's audio as the client received them."""
    client = await AspClient.open(gw.url(token=gw.token))
    try:
        await client.wait_for(type="protocol.capabilities")
        sid = str(uuid.uuid4())
        audio = {"sample_rate": GATEWAY_RATE, "encoding": "pcm_s16le", "channels": 1}
        await client.send(
            {
                "type": "session.start",
                "session_id": sid,
                "call_id": f"ws-{sid[:8]}",
                "audio": {**audio, "frame_duration_ms": 20},
                "playback": "fast",
            }
        )
        await client.wait_for(type="session.started", session_id=sid, status="accepted")
        await client.wait_for(
            type="response.end", session_id=sid, response_id="greeting", within=timeout
        )
        greeting = client.audio_of(sid, "asp")
        # fast playback: the client got the greeting at once; it speaks once that has played
        # (speech before would be a barge-in)
        await asyncio.sleep(len(greeting) / (2 * GATEWAY_RATE))
        await client.send_pcm(sid, question, SessionAudio(GATEWAY_RATE), realtime=1.0)
        deadline = time.monotonic() + timeout
        while not (
            answers := [
                m
                for m in client.of(type="response.start", session_id=sid)
                if m["response_id"] != "greeting"
            ]
        ):
            assert time.monotonic() < deadline, f"no answer: {client.messages[-10:]}"
            await asyncio.sleep(0.1)
        start = answers[0]
        end = await client.wait_for(
            type="response.end",
            session_id=sid,
            response_id=start["response_id"],
            within=timeout,
        )
        assert end["interrupted"] is False, end
        answer = client.audio_of(sid, "asp")[len(greeting) :]
        await client.send({"type": "session.end", "session_id": sid, "reason": "call_hangup"})
        await client.wait_for(type="session.ended", session_id=sid)
        return sid, greeting, answer
    finally:
        await client.close()


def test_a_websocket_client_at_16_khz_hears_the_address_from_the_real_models(
    local_agent: list[Worker], redis_server: RedisServer, r: redis.Redis, tmp_path: Path
) -> None:
    """Issue 17 with the real models: an ASP client on the gateway (asp-gateway, 16 kHz, the
    spec's framing) asks the address by voice; the same Whisper, local LLM and Kokoro that
    answer the phones answer it, and what the client receives is the facts file's address."""
    spoken = kokoro_says("Qual é o endereço de vocês?", rate=GATEWAY_RATE)
    question = spoken.astype("<i2").tobytes() + bytes(GATEWAY_RATE * 2)  # then 1 s of quiet
    with GatewayProcess(tmp_path / "gateway.log", REDIS_URL=redis_server.url) as gw:
        sid, greeting, answer = asyncio.run(_ask_over_websocket(gw, question, timeout=180))
        log = gw.log()
    assert "Traceback" not in log, log[-5000:]
    _, messages = session_messages(r, sid)
    transcripts = [m.text for m in messages if isinstance(m, Transcript)]
    samples = np.frombuffer(answer, dtype="<i2")
    heard = transcribe(samples, GATEWAY_RATE) if len(samples) < 25 * GATEWAY_RATE else "(long)"
    context = f"asked {transcripts!r}; the client heard {heard!r}"
    print(context)  # pytest -rP shows it
    assert greeting, "no greeting audio"
    assert len(transcripts) == 1, context
    assert "endereco" in plain(transcripts[0]), context
    start = next(m for m in messages if isinstance(m, SessionStart))
    assert start.audio is not None
    assert start.audio.sample_rate == GATEWAY_RATE  # the utterances went to Whisper at 16 kHz
    assert STREET in heard, context
    assert any(n in heard for n in NUMBER), context
