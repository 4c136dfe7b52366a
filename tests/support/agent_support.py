"""Helpers of the agent tests with the real workers through Asterisk (tests/integration/agent):
the three workers as their own processes on the tests' Redis, speech made by the project's
Kokoro, what a phone heard transcribed by the project's Whisper, and waits for a spoken turn.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis
from asp.messages import ResponseEnd
from pipeline.proc_watch import WATCH
from pipeline.testing import WorkerProcess
from pipeline.testing import start_worker as start_process
from sip_edge.testing import frame_rms, session_messages
from sipphone import FRAME_SAMPLES, SAMPLE_RATE, PhoneCall, poll_until
from stt_worker.testing import judge_whisper
from tts_worker.testing import packaged_kokoro

Worker = WorkerProcess

FACTS = Path(__file__).resolve().parents[2] / "compose" / "agent" / "fatos.toml"
"""The shipped example facts, the file make up and compose give the llm-worker."""


def start_worker(module: str, tmp: Path, redis_url: str, **env: str) -> Worker:
    return start_process(
        module, tmp, redis_url, WORKER_NAME=f"e2e-{module}", LOG_LEVEL="INFO", **env
    )


def _proc_of(w: Worker) -> subprocess.Popen[bytes] | None:
    return w.proc


@contextmanager
def running_workers(
    tmp: Path, redis_url: str, llm_env: dict[str, str], healthy_within_s: float = 180
) -> Iterator[list[Worker]]:
    """stt_worker (Whisper base), llm_worker (with ``llm_env``) and tts_worker (Kokoro),
    healthy; afterwards each must stop with 0 and no traceback in its log."""
    started: list[Worker] = []
    try:
        started.append(start_worker("stt_worker", tmp, redis_url))
        started.append(start_worker("llm_worker", tmp, redis_url, **llm_env))
        started.append(start_worker("tts_worker", tmp, redis_url))
        for w in started:
            poll_until(w.healthy, healthy_within_s, f"{w.name} healthy", interval=0.5)
            WATCH.add_popen(w.name, "agent", functools.partial(_proc_of, w), w.log_path)
        yield started
    finally:
        for w in started:
            WATCH.remove(w.name)
        codes = {w.name: w.stop() for w in started}
    for w in started:
        assert "Traceback" not in w.log(), w.log()[-5000:]
    assert codes == {w.name: 0 for w in started}, codes


@contextmanager
def running_agent(
    tmp: Path, redis_url: str, healthy_within_s: float = 180, **llm_env: str
) -> Iterator[list[Worker]]:
    """:func:`running_workers`, the llm-worker reading the shipped example facts
    (:data:`FACTS`) as make up and compose run it; ``llm_env``: its other settings."""
    with running_workers(
        tmp, redis_url, {**llm_env, "LLM_FACTS_PATH": str(FACTS)}, healthy_within_s
    ) as workers:
        yield workers


def kokoro_says(text: str, voice: str | None = None, rate: int = SAMPLE_RATE) -> npt.NDArray[Any]:
    """``text`` spoken by the project's Kokoro (``voice``, else its default), as int16 at
    ``rate`` (the phones' 8 kHz by default)."""
    spoken = asyncio.run(packaged_kokoro().synthesize(text, language="pt-BR", voice=voice))
    pcm = b"".join(c.pcm for c in spoken.render(rate))
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)


def plain(text: str) -> str:
    """Lower case without accents: what key words are compared on."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def transcribe(samples: npt.NDArray[Any], rate: int = SAMPLE_RATE) -> str:
    """What the tests' ear (:func:`stt_worker.testing.judge_whisper`: Whisper's own 30 s
    window, beam 5) hears in int16 audio at ``rate`` (8 kHz by default), in :func:`plain`
    form."""
    pcm = samples.astype("<i2").tobytes()
    return plain(asyncio.run(judge_whisper().transcribe(pcm, rate, "pt")).text)


def wait_speech_then_quiet(
    call: PhoneCall,
    start: int,
    timeout: float,
    what: str,
    quiet_s: float = 1.5,
    quiet_after: int = 0,
) -> npt.NDArray[Any]:
    """Waits until the phone heard speech after sample ``start`` (at least 0.5 s of it),
    followed by ``quiet_s`` of silence that reaches at least ``quiet_s`` past sample
    ``quiet_after`` (where the recording was when all of the answer's audio was on the
    stream: a pause before that is the TTS still synthesizing, not the end); returns what it
    heard from 0.3 s before that speech on (a slow answer's silence before it would only
    lengthen what is transcribed)."""
    quiet_frames = int(quiet_s * SAMPLE_RATE / FRAME_SAMPLES)

    def done() -> bool:
        heard = call.recording()
        if len(heard) < quiet_after + quiet_s * SAMPLE_RATE:
            return False
        voiced = frame_rms(heard[start:]) > 300
        if voiced.sum() < 25:
            return False
        last = int(np.nonzero(voiced)[0][-1])
        return len(voiced) - 1 - last >= quiet_frames

    poll_until(done, timeout, what, interval=0.25)
    heard = call.recording()[start:]
    first = int(np.argmax(frame_rms(heard) > 300)) * FRAME_SAMPLES
    return heard[max(0, first - int(0.3 * SAMPLE_RATE)) :]


def hear_response(
    call: PhoneCall, r: redis.Redis, sid: str, start: int, greeting: bool, timeout: float
) -> npt.NDArray[Any]:
    """What the phone heard of the greeting (or of the first other response) from sample
    ``start`` on, once all of it was heard: its response.end (not interrupted) first, then
    a quiet that comes after the point where all of its audio was on the stream. A pause
    between its clauses while the TTS still synthesized is not its end: on a loaded machine
    the rest's audio reaches the phone after response.end, behind such a pause (a CI run
    heard only "o endereco de exemplo telecom e rua das flores" of the address)."""
    assert not wait_response_end(r, sid, greeting=greeting, timeout=timeout).interrupted
    sent = len(call.recording())
    what = "the greeting" if greeting else "the answer"
    return wait_speech_then_quiet(call, start, 30, what, quiet_after=sent)


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
