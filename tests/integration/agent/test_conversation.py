"""A conversation end to end through the real Asterisk (issue 5): a PJSUA2 phone registered
as 1001 dials 2000, hears the greeting, asks a question in Portuguese (speech made by the
project's Kokoro TTS) and hears the answer.

Everything is real except the paid API: sip-edge registered to Asterisk, the three workers
as their own processes (``python -m stt_worker`` with Whisper base, ``python -m llm_worker``
with the Anthropic provider and the real SDK, ``python -m tts_worker`` with Kokoro), all on a
private Redis; the LLM's vendor is the fake Anthropic server (real Messages streaming API on
127.0.0.1) scripted to a known answer. What the phone heard is transcribed by the project's
STT (Whisper base), and the answer's key words must be in it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import redis
from asp import streams as layout
from asp.messages import ResponseAudio, ResponseEnd, Transcript, Utterance
from llm_worker.testing import FakeAnthropicServer, Script, Text, ToolUse
from pbx_support import wait_heard
from pipeline.proc_watch import WATCH
from pipeline.testing import RedisServer, free_port
from sip_edge.testing import (
    EdgeProcess,
    find_session,
    last_entry_id,
    session_messages,
)
from sipphone import FRAME_SAMPLES, SAMPLE_RATE, Phone, PhoneCall, make_signal, poll_until
from stt_worker.testing import packaged_whisper
from tts_worker.testing import packaged_kokoro

# Not about opening hours (answered from the facts, without the model: llm_worker.hours),
# and an answer without times, prices or numbers (the grounding guard would replace those
# the lab's default facts do not hold).
QUESTION = "Quais são as formas de pagamento de vocês?"
ANSWER_CHUNKS = (
    "Aceitamos boleto ",
    "e cartão de crédito, ",
    "e também o débito ",
    "automático em conta.",
)
ANSWER_KEY_WORDS = ("boleto", "cartao", "credito", "debito")
GREETING_KEY_WORDS = ("recepcao", "ajudar", "ligou")


class ThreadedAnthropic:
    """The fake Anthropic server on its own event loop thread (the test itself is sync)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-anthropic")
        self.server: FakeAnthropicServer | None = None

    def __enter__(self) -> FakeAnthropicServer:
        self.thread.start()

        async def start() -> FakeAnthropicServer:
            server = FakeAnthropicServer(default=Text(ANSWER_CHUNKS, delay_s=0.05))
            await server.start()
            return server

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        return self.server

    def push(self, script: Script) -> None:
        """The answer to the next request (then back to the default answer)."""
        assert self.server is not None
        self.loop.call_soon_threadsafe(self.server.push, script)

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@dataclass
class Agent:
    workers: list[Worker]
    anthropic: ThreadedAnthropic


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def start_worker(module: str, tmp: Path, redis_url: str, **env: str) -> Worker:
    port = free_port()
    log_path = tmp / f"{module}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "REDIS_URL": redis_url,
                "METRICS_HOST": "127.0.0.1",
                "METRICS_PORT": str(port),
                "WORKER_NAME": f"e2e-{module}",
                "WORKER_GRACE_S": "2",
                "LOG_LEVEL": "INFO",
                **env,
            },
        )
    return Worker(module, proc, port, log_path)


@pytest.fixture(scope="module")
def agent(redis_server: RedisServer, edge_dir: Path) -> Iterator[Agent]:
    """The three workers with their real engines (the LLM's vendor faked)."""
    fake = ThreadedAnthropic()
    with fake as anthropic:
        started: list[Worker] = []
        try:
            started.append(start_worker("stt_worker", edge_dir, redis_server.url))
            started.append(
                start_worker(
                    "llm_worker",
                    edge_dir,
                    redis_server.url,
                    LLM_PROVIDER="anthropic",
                    ANTHROPIC_API_KEY="test",
                    ANTHROPIC_BASE_URL=anthropic.url,
                )
            )
            started.append(start_worker("tts_worker", edge_dir, redis_server.url))
            for w in started:
                poll_until(w.healthy, 180, f"{w.name} healthy", interval=0.5)
                WATCH.add_popen(w.name, "agent", lambda w=w: w.proc, w.log_path)
            yield Agent(started, fake)
            assert len(anthropic.requests) >= 1
        finally:
            for w in started:
                WATCH.remove(w.name)
            codes = {w.name: w.stop() for w in started}
        for w in started:
            assert "Traceback" not in w.log(), w.log()[-5000:]
        assert codes == {w.name: 0 for w in started}, codes


@pytest.fixture(scope="module")
def question() -> np.ndarray:
    return kokoro_says(QUESTION)


def kokoro_says(text: str) -> np.ndarray:
    """``text`` spoken by the project's Kokoro, as int16 at 8 kHz."""
    spoken = asyncio.run(packaged_kokoro().synthesize(text, language="pt-BR"))
    pcm = b"".join(c.pcm for c in spoken.render(SAMPLE_RATE))
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)


def plain(text: str) -> str:
    """Lower case without accents: what key words are compared on."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def transcribe(samples: np.ndarray) -> str:
    pcm = samples.astype("<i2").tobytes()
    return plain(asyncio.run(packaged_whisper().transcribe(pcm, SAMPLE_RATE, "pt")).text)


def frame_rms(samples: np.ndarray) -> np.ndarray:
    n = len(samples) // FRAME_SAMPLES
    frames = samples[: n * FRAME_SAMPLES].astype(np.float64).reshape(n, FRAME_SAMPLES)
    return np.sqrt(np.mean(frames * frames, axis=1))


def wait_speech_then_quiet(
    call: PhoneCall, start: int, timeout: float, what: str, quiet_s: float = 1.5
) -> np.ndarray:
    """Waits until the phone heard speech after sample ``start`` (at least 0.5 s of it),
    followed by ``quiet_s`` of silence; returns what it heard from ``start`` on."""
    quiet_frames = int(quiet_s * SAMPLE_RATE / FRAME_SAMPLES)

    def done() -> bool:
        voiced = frame_rms(call.recording()[start:]) > 300
        if voiced.sum() < 25:
            return False
        last = int(np.nonzero(voiced)[0][-1])
        return len(voiced) - 1 - last >= quiet_frames

    poll_until(done, timeout, what, interval=0.25)
    return call.recording()[start:]


def wait_response_end(r: redis.Redis, sid: str, greeting: bool, timeout: float) -> ResponseEnd:
    """Waits for the TTS's response.end of the greeting (or of the first other response):
    all of its audio is on the stream, so a quiet phone after it means the turn was heard."""
    found: list[ResponseEnd] = []

    def ended() -> bool:
        found[:] = [
            m
            for m in session_messages(r, sid)[1]
            if isinstance(m, ResponseEnd) and (m.response_id == "greeting") == greeting
        ]
        return bool(found)

    poll_until(ended, timeout, "response.end", interval=0.25)
    return found[0]


def dial_2000(phone: Phone, r: redis.Redis) -> tuple[PhoneCall, str]:
    after = last_entry_id(r, layout.work_stream(layout.Stage.LLM))
    call = phone.call("2000")
    call.wait_confirmed(20)
    return call, find_session(r, after, phone.user, timeout=20)


def test_caller_hears_the_greeting_and_the_answer_to_a_question(
    sip_edge: EdgeProcess,
    agent: Agent,
    phones: dict[str, Phone],
    r: redis.Redis,
    question: np.ndarray,
) -> None:
    call, sid = dial_2000(phones["1001"], r)
    assert not wait_response_end(r, sid, greeting=True, timeout=90).interrupted
    greeting = wait_speech_then_quiet(call, 0, 30, "the greeting")
    heard_greeting = transcribe(greeting)
    assert sum(w in heard_greeting for w in GREETING_KEY_WORDS) >= 2, heard_greeting

    mark = len(call.recording())
    call.play(question)
    call.wait_played(30)
    assert not wait_response_end(r, sid, greeting=False, timeout=120).interrupted
    answer = wait_speech_then_quiet(call, mark, 30, "the answer")
    heard_answer = transcribe(answer)
    found = [w for w in ANSWER_KEY_WORDS if w in heard_answer]
    assert len(found) >= 3, heard_answer

    _, log = session_messages(r, sid)
    transcripts = [m for m in log if isinstance(m, Transcript)]
    assert len([m for m in log if isinstance(m, Utterance)]) == 1
    assert len(transcripts) == 1
    assert "pagamento" in plain(transcripts[0].text), transcripts[0].text
    answer_ids = {m.response_id for m in log if isinstance(m, ResponseAudio)} - {"greeting"}
    assert len(answer_ids) == 1

    call.hangup()
    poll_until(lambda: "session.end" in session_messages(r, sid)[0], 15, "session.end")


def _transfer_to_1002(
    call: PhoneCall, sid: str, request: np.ndarray, phones: dict[str, Phone], r: redis.Redis
) -> None:
    """Plays ``request``; 1002 must ring only after the caller heard the announcement, and
    once 1002 answers the two hear each other."""
    mark = len(call.recording())
    call.play(request)
    incoming = phones["1002"].wait_incoming(120)
    # sip-edge transferred only after the announcement had been played to the caller
    heard = transcribe(call.recording()[mark:])
    assert "transfer" in heard, heard
    incoming.answer()
    poll_until(lambda: "session.end" in session_messages(r, sid)[0], 15, "session.end")
    assert not call.disconnected.is_set()
    tone = make_signal(2.0, seed=11)
    incoming.play(tone, loop=True)
    wait_heard(call, tone[2000:10000], timeout=15)


def test_asking_for_support_by_voice_rings_1002(
    sip_edge: EdgeProcess, agent: Agent, phones: dict[str, Phone], r: redis.Redis
) -> None:
    """A plain request for a department of the facts' menu is decided before the model
    (llm_worker.intent): the caller hears "Transferindo para suporte..." and 1002 rings."""
    request = kokoro_says("Eu quero falar com o suporte técnico, por favor.")
    call, sid = dial_2000(phones["1001"], r)
    assert not wait_response_end(r, sid, greeting=True, timeout=90).interrupted
    wait_speech_then_quiet(call, 0, 30, "the greeting")
    _transfer_to_1002(call, sid, request, phones, r)


def test_the_agent_transfers_the_caller_to_1002_with_a_tool_call(
    sip_edge: EdgeProcess, agent: Agent, phones: dict[str, Phone], r: redis.Redis
) -> None:
    """A question the intent step leaves to the model; the fake Claude answers with a
    transfer_call tool use: the llm-worker turns it into call.action (its promise replaced by
    the announcement), sip-edge lets the caller hear it, then sends a REFER to Asterisk, and
    1002 rings."""
    request = kokoro_says("Quem pode resolver um problema na minha internet?")
    call, sid = dial_2000(phones["1001"], r)
    assert not wait_response_end(r, sid, greeting=True, timeout=90).interrupted
    wait_speech_then_quiet(call, 0, 30, "the greeting")
    agent.anthropic.push(
        ToolUse("transfer_call", {"extension": "1002"}, text=("Vou transferir a sua ligação.",))
    )
    _transfer_to_1002(call, sid, request, phones, r)


LONG_ANSWER = (
    "Temos vários planos para empresas pequenas e grandes e eu posso explicar cada um "
    "deles agora mesmo para você. ",
    "O plano empresarial inclui ramais ilimitados. ",
    "O plano completo tem atendimento prioritário. ",
    "Todos os planos têm suporte técnico incluído.",
)
CANCELLED_WORDS = ("empresarial", "ilimitados", "prioritario", "incluido")


def test_barge_in_stops_the_answer_and_the_interruption_is_the_next_turn(
    sip_edge: EdgeProcess, agent: Agent, phones: dict[str, Phone], r: redis.Redis
) -> None:
    """The caller speaks while a long answer plays: playback stops, response.cancel
    (barge_in) is published, the rest of that answer is never heard, and what the caller
    said becomes the next turn (answered with the default script)."""
    ask = kokoro_says("Quais são os planos?")
    interrupt = kokoro_says("Espera, e quais são as formas de pagamento?")
    call, sid = dial_2000(phones["1001"], r)
    assert not wait_response_end(r, sid, greeting=True, timeout=90).interrupted
    wait_speech_then_quiet(call, 0, 30, "the greeting")
    agent.anthropic.push(Text(LONG_ANSWER, delay_s=0.05))
    mark = len(call.recording())
    call.play(ask)
    call.wait_played(30)

    def answer_started() -> bool:
        return int((frame_rms(call.recording()[mark:]) > 300).sum()) >= 10  # 200 ms heard

    poll_until(answer_started, 120, "the long answer to start")
    cut = len(call.recording())
    call.play(interrupt)
    call.wait_played(30)

    def cancelled() -> bool:
        return any(
            m.TYPE == "response.cancel" and getattr(m, "reason", "") == "barge_in"
            for m in session_messages(r, sid)[1]
        )

    poll_until(cancelled, 15, "response.cancel(barge_in)")
    # the answer to the interruption: the default script (the ways to pay)
    after = wait_speech_then_quiet(call, cut + SAMPLE_RATE // 2, 150, "the next answer")
    heard = transcribe(after)
    assert not [w for w in CANCELLED_WORDS if w in heard], heard
    assert sum(w in heard for w in ANSWER_KEY_WORDS) >= 2, heard
    _, log = session_messages(r, sid)
    assert len([m for m in log if isinstance(m, Utterance)]) >= 2
    call.hangup()
