"""The STT stage on a real Redis with the fake engine: each transcript goes out with its
turn.timing (stt_ms), in the same transaction, and only the transcript goes to the LLM; a
cancelled provisional utterance whose transcription waits for the engine never reaches it."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from typing import Any, ClassVar

import numpy as np
from asp import Stage, Transcript, TurnTiming, Utterance, UtteranceCancel
from asp import streams as layout
from asp.testing import utterance
from pipeline import Bus
from pipeline.worker import Job
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from stt_worker.audio import Samples
from stt_worker.providers.base import STTCapabilities
from stt_worker.testing import FakeSTT
from stt_worker.worker import STTWorker


class GatedSTT(FakeSTT):
    """One transcription at a time (as Whisper), each held until ``gate`` opens."""

    capabilities: ClassVar[STTCapabilities] = STTCapabilities(max_concurrency=1)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.gate = threading.Event()
        self.busy = threading.Event()

    def _transcribe(
        self, samples: Samples, language: str, cancel: threading.Event | None = None
    ) -> str:
        self.busy.set()
        assert self.gate.wait(30)
        return super()._transcribe(samples, language, cancel)


async def until(check: Any, timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.01)


def gated_worker(bus: Bus, name: str) -> tuple[GatedSTT, STTWorker]:
    """A worker on a GatedSTT whose first transcription is "a primeira"."""
    stt = GatedSTT(["a primeira"], default="nunca dita")
    return stt, STTWorker(bus, name, stt)


async def cancel_utterance(bus: Bus, worker: STTWorker, sid: str, utterance_id: str) -> None:
    """Publishes the utterance's cancel and waits until the worker's job has seen it."""
    await bus.publish(UtteranceCancel(session_id=sid, utterance_id=utterance_id, reason="x"))
    await until(worker._cancels[(sid, utterance_id)].is_set)


def tone_utterance(
    session_id: str, utterance_id: str, provisional: bool | None = None
) -> Utterance:
    t = np.arange(8000) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    return dataclasses.replace(utterance(session_id, utterance_id, pcm), provisional=provisional)


async def test_transcript_and_its_timing(bus: Bus, raw_redis: Redis) -> None:
    sid = str(uuid.uuid4())
    worker = STTWorker(bus, "stt-t", FakeSTT(["Qual o horário?"], delay_s=0.06))
    before = REGISTRY.get_sample_value("asp_turn_step_seconds_count", {"step": "stt"}) or 0.0
    task = asyncio.create_task(worker.run(grace_s=2))
    try:
        await bus.publish(tone_utterance(sid, "u7"))
        async with asyncio.timeout(30):
            while not any(isinstance(m, TurnTiming) for m in await bus.session_log(sid)):
                await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
    log = await bus.session_log(sid)
    transcript, timing = log[1:]
    assert isinstance(transcript, Transcript)
    assert transcript.text == "Qual o horário?"
    assert isinstance(timing, TurnTiming)
    assert (timing.stage, timing.utterance_id, timing.response_id) == ("stt", "u7", None)
    assert timing.stt_ms is not None
    assert timing.stt_ms >= 60  # the engine's 60 ms at least
    assert timing.steps_ms() == {"stt_ms": timing.stt_ms}
    after = REGISTRY.get_sample_value("asp_turn_step_seconds_count", {"step": "stt"})
    assert after == before + 1
    # The LLM's work stream got the transcript and nothing else.
    entries = await raw_redis.xrange(layout.work_stream(Stage.LLM))
    assert [f[b"type"] for _, f in entries] == [b"transcript"]


async def test_a_provisional_utterance_cancelled_while_it_waits_never_reaches_the_engine(
    bus: Bus,
) -> None:
    sid = str(uuid.uuid4())
    stt, worker = gated_worker(bus, "stt-c")
    task = asyncio.create_task(worker.run(grace_s=2))
    try:
        await bus.publish(tone_utterance(sid, "u1"))  # a confirmed turn holds the engine
        await until(stt.busy.is_set)
        await bus.publish(tone_utterance(sid, "u2", provisional=True))
        await until(lambda: (sid, "u2") in worker._cancels)  # waiting for the engine
        await cancel_utterance(bus, worker, sid, "u2")
        stt.gate.set()
        await until(lambda: not worker._cancels)
        await until(lambda: bool(stt.calls))
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
    assert len(stt.calls) == 1  # u1 only: u2 never ran
    transcripts = [m for m in await bus.session_log(sid) if isinstance(m, Transcript)]
    assert [(t.utterance_id, t.text) for t in transcripts] == [("u1", "a primeira")]


async def test_a_cancel_taken_by_another_replica_stops_a_waiting_transcription(
    bus: Bus,
) -> None:
    # The cancel entry stays on the work stream (nobody here consumes it): the waiting
    # job sees the utterance cancelled in Redis.
    sid = str(uuid.uuid4())
    stt, worker = gated_worker(bus, "stt-d")
    busy = asyncio.create_task(stt.transcribe(tone_utterance(sid, "u0").audio, 8000))
    await until(stt.busy.is_set)
    msg = tone_utterance(sid, "u2", provisional=True)
    await bus.publish(msg)
    job = asyncio.create_task(worker.handle(Job("0-1", msg, 1)))
    await until(lambda: (sid, "u2") in worker._cancels)
    await cancel_utterance(bus, worker, sid, "u2")
    stt.gate.set()
    assert (await busy).text == "a primeira"
    await asyncio.wait_for(job, 10)
    assert len(stt.calls) == 1
    assert not [m for m in await bus.session_log(sid) if isinstance(m, Transcript)]


async def test_a_provisional_utterance_cancelled_while_it_runs_gives_no_transcript(
    bus: Bus,
) -> None:
    sid = str(uuid.uuid4())
    stt = GatedSTT(default="eu queria")
    worker = STTWorker(bus, "stt-e", stt)
    task = asyncio.create_task(worker.run(grace_s=2))
    try:
        await bus.publish(tone_utterance(sid, "u3", provisional=True))
        await until(stt.busy.is_set)  # the engine runs it
        await cancel_utterance(bus, worker, sid, "u3")
        stt.gate.set()
        log: list[Any] = []

        async def wasted() -> bool:
            log[:] = await bus.session_log(sid)
            return any(isinstance(m, TurnTiming) and m.wasted_ms is not None for m in log)

        async with asyncio.timeout(30):
            while not await wasted():  # the job counted its work as wasted: it is over
                await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
    assert len(stt.calls) == 1  # it ran (a running engine is not interrupted) ...
    assert not [m for m in log if isinstance(m, Transcript)]  # ... and its text is dropped
