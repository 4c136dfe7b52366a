"""The STT stage on a real Redis with the fake engine: each transcript goes out with its
turn.timing (stt_ms), in the same transaction, and only the transcript goes to the LLM."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
from asp import Stage, Transcript, TurnTiming, Utterance
from asp import streams as layout
from pipeline import Bus
from prometheus_client import REGISTRY
from stt_worker.testing import FakeSTT
from stt_worker.worker import STTWorker


def tone_utterance(session_id: str, utterance_id: str) -> Utterance:
    t = np.arange(8000) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    return Utterance(
        session_id=session_id,
        utterance_id=utterance_id,
        sample_rate=8000,
        encoding="pcm_s16le",
        duration_ms=1000,
        audio=pcm,
    )


async def test_transcript_and_its_timing(bus: Bus) -> None:
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
    entries = await bus.redis.xrange(layout.work_stream(Stage.LLM))
    assert [f[b"type"] for _, f in entries] == [b"transcript"]
