"""The real-time chain on Redis Streams: utterance -> transcript -> sentences -> audio.

The workers are the real ones; only the engines are the packages' fakes (the engines
are tested on their own with the real models). Replicas run in-process, and as real
processes for the SIGKILL case.
"""

from __future__ import annotations

import asyncio
import signal
import uuid

from asp import (
    AudioConfig,
    Message,
    ResponseAudio,
    ResponseEnd,
    ResponseText,
    SessionStart,
    SessionStarted,
    Stage,
    Transcript,
    Utterance,
)
from asp import streams as layout
from asp.testing import utterance as sample_utterance
from llm_worker.persona import load_persona
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.worker import LLMWorker
from pipeline import Bus, StreamWorker
from pipeline.testing import RedisServer, start_workers, stop_processes, stop_workers, until
from pipeline.testing import spawn_replica as spawn
from redis.exceptions import ResponseError
from stt_worker.testing import FakeSTT
from stt_worker.worker import STTWorker
from tts_worker.router import TTSRouter
from tts_worker.testing import FakeTTS
from tts_worker.worker import TTSWorker

# Not about opening hours (answered without the model), no time or price the lab facts lack.
ANSWER = "Você pode pagar no boleto ou no cartão. Posso ajudar em algo mais?"


def make_workers(bus: Bus, n: int, prefix: str = "") -> list[StreamWorker]:
    persona = load_persona()
    workers: list[StreamWorker] = []
    for i in range(n):
        workers.append(STTWorker(bus, f"{prefix}stt-{i}", FakeSTT(default="Como eu pago a conta?")))
        workers.append(
            LLMWorker(bus, f"{prefix}llm-{i}", FakeProvider(default_text=ANSWER), persona)
        )
        workers.append(TTSWorker(bus, f"{prefix}tts-{i}", TTSRouter(FakeTTS())))
    return workers


def audio_of(log: list[Message], response_id: str) -> list[ResponseAudio]:
    return [m for m in log if isinstance(m, ResponseAudio) and m.response_id == response_id]


def ended(log: list[Message], response_id: str) -> bool:
    return any(isinstance(m, ResponseEnd) and m.response_id == response_id for m in log)


def utterance(sid: str, n: int) -> Utterance:
    return sample_utterance(sid, f"u-{n}", b"\x00\x10\x00\xf0" * 2000)


def check_response_audio(log: list[Message], response_id: str) -> None:
    chunks = audio_of(log, response_id)
    assert chunks, f"no audio for {response_id}"
    seqs = [c.seq for c in chunks]
    assert seqs == list(range(len(seqs))), "chunks must arrive in order, each once"
    assert [c.is_final for c in chunks].count(True) == 1
    assert chunks[-1].is_final
    assert all(len(c.audio) % 320 == 0 for c in chunks)  # 20 ms at 8 kHz


async def test_a_turn_comes_back_as_ordered_audio_once(bus: Bus) -> None:
    workers = make_workers(bus, 1)
    tasks = await start_workers(*workers)
    sid = str(uuid.uuid4())
    await bus.publish(
        SessionStart(session_id=sid, audio=AudioConfig(), metadata={"language": "pt-BR"})
    )

    async def greeted() -> bool:
        return ended(await bus.session_log(sid), "greeting")

    await until(greeted, timeout=20)
    await bus.publish(utterance(sid, 1))

    async def answered() -> bool:
        return ended(await bus.session_log(sid), "r-u-1")

    await until(answered, timeout=20)
    await asyncio.sleep(0.3)  # anything duplicated would show up now
    await stop_workers(workers, tasks, 15)
    log = await bus.session_log(sid)
    started = [m for m in log if isinstance(m, SessionStarted)]
    assert len(started) == 1
    assert started[0].status == "accepted"
    check_response_audio(log, "greeting")
    check_response_audio(log, "r-u-1")
    (transcript,) = [m for m in log if isinstance(m, Transcript)]
    assert transcript.text == "Como eu pago a conta?"
    texts = [m for m in log if isinstance(m, ResponseText) and m.response_id == "r-u-1"]
    assert [t.seq for t in texts] == list(range(len(texts)))
    assert " ".join(t.text for t in texts if t.text) == ANSWER
    assert texts[-1].is_final
    # the event order of the turn: utterance, transcript, first sentence, first audio
    kinds = [m.TYPE for m in log]
    assert (
        kinds.index("utterance")
        < kinds.index("transcript")
        < kinds.index("response.text", kinds.index("transcript"))
    )
    assert (await bus.state(sid))["sample_rate"] == "8000"
    history = await bus.redis.get(layout.history_key(sid))
    assert "Como eu pago a conta?" in history.decode()


async def test_three_replicas_of_each_worker_share_the_work(bus: Bus) -> None:
    workers = make_workers(bus, 3)
    tasks = await start_workers(*workers)
    sessions = [str(uuid.uuid4()) for _ in range(12)]
    for sid in sessions:
        await bus.publish(SessionStart(session_id=sid))
        await bus.publish(utterance(sid, 1))

    async def all_answered() -> bool:
        for sid in sessions:
            if not ended(await bus.session_log(sid), "r-u-1"):
                return False
        return True

    await until(all_answered, timeout=60)
    await stop_workers(workers, tasks, 15)
    for sid in sessions:
        log = await bus.session_log(sid)
        check_response_audio(log, "r-u-1")
        check_response_audio(log, "greeting")
    for w in workers:
        assert w.jobs_done > 0, f"{w.consumer} took no work"


async def test_a_replica_killed_mid_reply_does_not_lose_the_turn(
    bus: Bus, redis_server: RedisServer
) -> None:
    stt = [spawn("stt_worker", "stt-p0", redis_server.url)]
    tts = [spawn("tts_worker", "tts-p0", redis_server.url)]
    llm = {
        name: spawn("llm_worker", name, redis_server.url, LLM_FAKE_DELAY_S="1.5")
        for name in ("llm-a", "llm-b")
    }
    try:
        sid = str(uuid.uuid4())
        await bus.publish(
            Transcript(
                session_id=sid, utterance_id="u-9", text="Oi?", language="pt", confidence=1.0
            )
        )

        async def taken() -> bool:
            try:
                info = await bus.redis.xpending_range(
                    layout.work_stream(Stage.LLM), "llm-workers", min="-", max="+", count=10
                )
            except ResponseError:  # NOGROUP: the replicas are still starting
                return False
            return bool(info)

        await until(taken, timeout=20)
        info = await bus.redis.xpending_range(
            layout.work_stream(Stage.LLM), "llm-workers", min="-", max="+", count=10
        )
        victim = info[0]["consumer"].decode()
        llm[victim].send_signal(signal.SIGKILL)
        llm[victim].wait(5)

        async def answered() -> bool:
            log = await bus.session_log(sid)
            return any(isinstance(m, ResponseEnd) and m.response_id == "r-u-9-2" for m in log)

        # The retried reply, taken over by the survivor, ends; the dead replica's half-sent
        # r-u-9 is closed first (superseded), so the edge never waits on it.
        await until(answered, timeout=30)
        log = await bus.session_log(sid)
        ends = [m.response_id for m in log if isinstance(m, ResponseEnd)]
        assert ends[-1] == "r-u-9-2", ends
        assert set(ends) <= {"r-u-9", "r-u-9-2"}, ends
        end = next(m for m in log if isinstance(m, ResponseEnd) and m.response_id == "r-u-9-2")
        check_response_audio(log, end.response_id)
        assert await bus.redis.xlen(layout.dead_letter_stream(Stage.LLM)) == 0
    finally:
        stop_processes([*stt, *tts, *llm.values()], 15)
