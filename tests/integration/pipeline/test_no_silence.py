"""Every turn ends in speech, whatever died: the real workers as processes (fake engines)
on a real Redis, and the edge's call logic (``CallSession``: VAD segmenter, pacer,
watchdog, Redis bridge; no SIP) on a media clock of the test's own, 20 ms a frame in real
time, recording what the caller hears.

The caller speaks one turn; a replica is SIGKILLed in the middle of the answer (after its
first sentence reached the caller); the caller must then hear the rest of the answer or
an apology, with no silence longer than the edge's bound (SIP_EDGE_NO_ANSWER_S, its
default 8 s) at any point from the end of the turn to the last audio.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TypeVar

import pytest
from asp import ResponseAudio, ResponseCancel, ResponseStart, Stage, Utterance
from asp import streams as layout
from pipeline import Bus
from pipeline.testing import RedisServer, spawn_replica, stop_processes
from sip_edge.settings import Settings
from sip_edge.testing import ScriptedCall

FRAME_S = 0.02
FB = 320  # 20 ms at 8 kHz, PCM16
VOICE = b"\x00\x30" * (FB // 2)
APOLOGY = b"\x11\x11" * 8000  # 1 s: the edge's own clip (SIP_EDGE_APOLOGY_WAV)
BOUND_S = Settings().no_answer_s  # the default, 8 s
QUESTION = "Como eu pago a minha conta?"
ANSWER = (
    "Você pode pagar no boleto ou no cartão de crédito. "
    "O boleto chega por e-mail todo mês, com o código de barras. "
    "Posso ajudar em algo mais?"
)
TOLERANCE_S = 0.6  # the test's clock and the event loop's turns
SLOW_TTS = {  # 1.5 s a sentence, no phrase cache (its fill would take as long per phrase)
    "TTS_FAKE_DELAY_S": "1.5",
    "TTS_CACHE_MAX_PHRASES": "0",
}
SLOW_LLM = {"LLM_FAKE_DELAY_S": "0.25"}  # a word every 0.25 s: sentences come one by one


@dataclasses.dataclass
class Heard:
    at: float
    response_id: str | None  # None: silence


class EdgeCall:
    """One call through the edge's call logic, its media clock run by the test."""

    def __init__(self, bus: Bus) -> None:
        call = ScriptedCall.start(bus, apologies={8000: APOLOGY})
        self.session, self.vad, self.metrics = call.session, call.vad, call.metrics
        self.heard: list[Heard] = []
        self.turn_ended_at: float | None = None
        self._clock: asyncio.Task[None] | None = None

    @property
    def sid(self) -> str:
        return self.session.session_id

    async def __aenter__(self) -> EdgeCall:
        self._clock = asyncio.create_task(self._media_clock())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._clock is not None:
            self._clock.cancel()
        self.session.on_ended("test over")
        await asyncio.sleep(0.2)

    async def _media_clock(self) -> None:
        turns = self.session.turns
        assert turns is not None
        start = time.monotonic()
        tick = 0
        while True:
            head = turns.pacer.current_response
            self.session.next_playout_frame()
            now = time.monotonic()
            self.heard.append(Heard(now, head if turns.pacer.audible else None))
            self.session.on_frame(VOICE if self.vad.speaking else bytes(FB))
            if self.turn_ended_at is None and turns.owed:
                self.turn_ended_at = now
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * FRAME_S - time.monotonic()))

    async def speak(self, seconds: float = 1.2) -> None:
        """The caller's turn, once the agent is silent (the greeting heard to its end)."""
        turns = self.session.turns
        assert turns is not None
        deadline = time.monotonic() + 20
        while turns.pacer.playing and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.vad.speaking = True
        await asyncio.sleep(seconds)
        self.vad.speaking = False

    def played(self, prefix: str) -> float:
        """Seconds of audio heard from responses whose id starts with ``prefix``."""
        ids = [h.response_id for h in self.heard if h.response_id]
        return FRAME_S * sum(rid.startswith(prefix) for rid in ids)

    def longest_silence_after_the_turn(self) -> float:
        """The longest silence the caller heard from the end of the turn to the last audio
        heard (what the bound is about)."""
        assert self.turn_ended_at is not None, "the turn never ended"
        longest, since = 0.0, self.turn_ended_at
        for h in self.heard:
            if h.at < self.turn_ended_at:
                continue
            if h.response_id is not None:
                longest = max(longest, h.at - since)
                since = h.at
        return longest


def spawn(kind: str, name: str, redis_url: str, **env: str) -> subprocess.Popen[bytes]:
    scripted = {"STT_FAKE_TEXT": QUESTION, "LLM_FAKE_TEXT": ANSWER, "LLM_FAKE_WORDS": "1"}
    return spawn_replica(kind, name, redis_url, **{**scripted, **env})


class Workers:
    def __init__(self, redis_url: str) -> None:
        self.url = redis_url
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, kind: str, name: str, **env: str) -> None:
        self.procs[name] = spawn(kind, name, self.url, **env)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)

    def stop(self) -> None:
        stop_processes(self.procs.values(), 15)


@pytest.fixture
def workers(redis_server: RedisServer) -> Iterator[Workers]:
    w = Workers(redis_server.url)
    try:
        yield w
    finally:
        w.stop()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen"
        await asyncio.sleep(0.02)


async def ready(bus: Bus, workers: Workers) -> None:
    """Every worker started reads its work stream (a worker takes work only once its
    engine and phrase cache are ready): a Redis connection of its own blocked in XREADGROUP.
    (A consumer shows in XINFO only once it got an entry, so that cannot tell.)"""

    async def reading() -> bool:
        clients: list[dict[str, str]] = await bus.redis.client_list()
        return sum(c.get("cmd") == "xreadgroup" for c in clients) >= len(workers.procs)

    # Generous: on a loaded 2-core machine a worker process takes a while to import.
    await until(reading, f"{len(workers.procs)} workers reading their streams", 120)


async def holder(bus: Bus, stage: Stage) -> str:
    """The consumer that holds the stage's oldest pending entry (the replica working on
    it), once there is one."""
    found: list[str] = []

    async def pending() -> bool:
        entries = await bus.redis.xpending_range(
            layout.work_stream(stage), f"{stage.value}-workers", min="-", max="+", count=10
        )
        found[:] = [e["consumer"].decode() for e in entries]
        return bool(found)

    await until(pending, f"work in progress at the {stage.value} stage", 10)
    return found[0]


async def hears(
    call: EdgeCall, prefix: str, seconds: float, what: str, timeout: float = 30
) -> None:
    """Waits until the caller heard ``seconds`` of responses whose id starts with ``prefix``."""

    async def heard() -> bool:
        return call.played(prefix) >= seconds

    await until(heard, what, timeout)


async def first_sentence_heard(call: EdgeCall, bus: Bus) -> None:
    await hears(call, "r-", 0.2, "the first sentence of the answer reaching the caller")


M = TypeVar("M")


def log_of(msgs: Sequence[object], kind: type[M]) -> list[M]:
    return [m for m in msgs if isinstance(m, kind)]


async def test_llm_killed_mid_reply_the_caller_hears_the_rest_from_another_replica(
    bus: Bus, workers: Workers
) -> None:
    workers.start("stt_worker", "stt-0")
    workers.start("tts_worker", "tts-0")
    for name in ("llm-a", "llm-b"):
        workers.start("llm_worker", name, **SLOW_LLM)
    await ready(bus, workers)
    async with EdgeCall(bus) as call:
        await hears(call, "greeting", 0.5, "the greeting")
        await call.speak()
        await first_sentence_heard(call, bus)
        workers.kill(await holder(bus, Stage.LLM))
        # The survivor claims the turn and answers it again (r-u1-2); r-u1 is closed.
        await hears(call, "r-u1-2", 3.0, "the rest of the answer", 40)
        await asyncio.sleep(1.0)
    log = await bus.session_log(call.sid)
    closes = [(m.response_id, m.reason) for m in log_of(log, ResponseCancel)]
    assert ("r-u1", "superseded") in closes
    assert call.metrics.no_answers._value.get() == 0
    assert call.longest_silence_after_the_turn() <= BOUND_S + TOLERANCE_S


async def test_the_only_llm_killed_mid_reply_the_caller_hears_the_apology_within_the_bound(
    bus: Bus, workers: Workers
) -> None:
    workers.start("stt_worker", "stt-0")
    workers.start("tts_worker", "tts-0")
    workers.start("llm_worker", "llm-a", **SLOW_LLM)
    await ready(bus, workers)
    async with EdgeCall(bus) as call:
        await hears(call, "greeting", 0.5, "the greeting")
        await call.speak()
        await first_sentence_heard(call, bus)
        workers.kill("llm-a")
        killed_at = time.monotonic()
        await hears(call, "local-", 0.5, "the apology", 20)
        apology_at = next(h.at for h in call.heard if (h.response_id or "").startswith("local-"))
        await asyncio.sleep(1.0)
    assert apology_at - killed_at <= BOUND_S + 3.0  # the rest of the first sentence + bound
    assert call.metrics.no_answers._value.get() == 1
    log = await bus.session_log(call.sid)
    assert ("r-u1", "no_audio") in [(m.response_id, m.reason) for m in log_of(log, ResponseCancel)]
    assert call.longest_silence_after_the_turn() <= BOUND_S + TOLERANCE_S


async def test_tts_killed_mid_reply_the_caller_hears_the_rest_from_another_replica(
    bus: Bus, workers: Workers
) -> None:
    workers.start("stt_worker", "stt-0")
    workers.start("llm_worker", "llm-a", **SLOW_LLM)
    for name in ("tts-a", "tts-b"):
        workers.start("tts_worker", name, **SLOW_TTS)
    await ready(bus, workers)
    async with EdgeCall(bus) as call:
        await hears(call, "greeting", 0.5, "the greeting", 40)
        await call.speak()
        await first_sentence_heard(call, bus)
        workers.kill(await holder(bus, Stage.TTS))  # in the middle of a sentence's 1.5 s

        async def finished() -> bool:
            return any(
                isinstance(m, ResponseAudio) and m.response_id == "r-u1" and m.is_final
                for m in await bus.session_log(call.sid)
            )

        await until(finished, "the rest of the answer voiced", 40)
        await asyncio.sleep(2.0)
    assert call.metrics.no_answers._value.get() == 0
    assert call.longest_silence_after_the_turn() <= BOUND_S + TOLERANCE_S
    assert call.played("r-u1") > 4.0  # more than the first sentence


async def test_the_only_tts_killed_mid_reply_the_caller_hears_the_apology(
    bus: Bus, workers: Workers
) -> None:
    workers.start("stt_worker", "stt-0")
    workers.start("llm_worker", "llm-a", **SLOW_LLM)
    workers.start("tts_worker", "tts-a", **SLOW_TTS)
    await ready(bus, workers)
    async with EdgeCall(bus) as call:
        await hears(call, "greeting", 0.5, "the greeting", 40)
        await call.speak()
        await first_sentence_heard(call, bus)
        workers.kill("tts-a")
        await hears(call, "local-", 0.5, "the apology", 20)
        await asyncio.sleep(1.0)
    assert call.longest_silence_after_the_turn() <= BOUND_S + TOLERANCE_S


async def test_a_stale_turn_is_answered_with_the_apology(bus: Bus, workers: Workers) -> None:
    workers.start("stt_worker", "stt-0", WORKER_MAX_AGE_S="30")
    workers.start("llm_worker", "llm-a")
    workers.start("tts_worker", "tts-a")
    await ready(bus, workers)
    async with EdgeCall(bus) as call:
        await hears(call, "greeting", 0.5, "the greeting", 40)
        # A turn that waited past the maximum age (the workers were down meanwhile).
        await bus.publish(
            Utterance(
                session_id=call.sid, utterance_id="u-old", sample_rate=8000,
                encoding="pcm_s16le", duration_ms=1000, audio=VOICE * 50,
                timestamp="2026-01-01T00:00:00.000000Z",
            )
        )  # fmt: skip
        await hears(call, "apology-", 1.0, "the pipeline's apology")
    log = await bus.session_log(call.sid)
    assert not [m for m in log_of(log, ResponseStart) if m.utterance_id == "u-old"]
