"""The TTS stage on a real Redis: ordered chunks at the session rate, and cancellation."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.asyncio as aioredis
from asp import Message, ResponseAudio, ResponseCancel, ResponseEnd, ResponseText, Stage
from asp import streams as layout
from pipeline import Bus
from pipeline.testing import RedisServer
from tts_worker.router import TTSRouter
from tts_worker.testing import FakeTTS
from tts_worker.worker import TTSWorker

SENTENCE = "Esta é uma frase longa o bastante para durar muitos blocos de áudio. " * 4


async def run_until(bus: Bus, worker: TTSWorker, done) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(worker.run(grace_s=2))
    try:
        async with asyncio.timeout(30):
            while not await done():
                await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def publish_reply(bus: Bus, sid: str, texts: list[str]) -> None:
    """Publishes response r-1 as the LLM does: one text a clause, then an empty final one."""
    for seq, text in enumerate([*texts, ""]):
        await bus.publish(
            ResponseText(session_id=sid, response_id="r-1", seq=seq, text=text, is_final=text == "")
        )


async def run_until_ended(bus: Bus, worker: TTSWorker, sid: str) -> None:
    async def ended() -> bool:
        return any(isinstance(m, ResponseEnd) for m in await bus.session_log(sid))

    await run_until(bus, worker, ended)


async def test_chunks_are_ordered_aligned_and_at_the_session_rate(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    await bus.set_state(sid, {"sample_rate": 16000, "language": "pt-BR"})
    worker = TTSWorker(bus, "tts-t", TTSRouter(FakeTTS()), chunk_ms=100)
    await publish_reply(bus, sid, ["Bom dia.", "Como posso ajudar?"])
    await run_until_ended(bus, worker, sid)
    audio = [m for m in await bus.session_log(sid) if isinstance(m, ResponseAudio)]
    assert [a.seq for a in audio] == list(range(len(audio)))
    assert all(len(a.audio) == 3200 for a in audio[:-1])  # 100 ms at 16 kHz, PCM16
    assert audio[-1].is_final
    assert [a.is_final for a in audio].count(True) == 1


async def test_a_cancel_stops_the_output_within_one_chunk(bus: Bus) -> None:
    sid = str(uuid.uuid4())
    worker = TTSWorker(bus, "tts-t", TTSRouter(FakeTTS()), chunk_ms=20)
    await bus.publish(
        ResponseText(session_id=sid, response_id="r-1", seq=0, text=SENTENCE, is_final=True)
    )
    task = asyncio.create_task(worker.run(grace_s=2))
    try:
        async with asyncio.timeout(30):
            while not any(isinstance(m, ResponseAudio) for m in await bus.session_log(sid)):
                await asyncio.sleep(0.001)
        await bus.publish(ResponseCancel(session_id=sid, response_id="r-1", reason="barge_in"))
        async with asyncio.timeout(30):
            while not any(
                isinstance(m, ResponseEnd) and m.interrupted for m in await bus.session_log(sid)
            ):
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # anything still coming would show up now
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
    log = await bus.session_log(sid)
    cancel_at = next(i for i, m in enumerate(log) if isinstance(m, ResponseCancel))
    after = [m for m in log[cancel_at:] if isinstance(m, ResponseAudio)]
    total = [m for m in log if isinstance(m, ResponseAudio)]
    assert len(after) <= 1, f"{len(after)} chunks after the cancel"
    assert len(total) < len(SENTENCE) * 50 // 20  # far from the whole sentence
    assert not any(isinstance(m, ResponseEnd) and not m.interrupted for m in log)


async def redeliver(bus: Bus, raw: aioredis.Redis, msg: ResponseText) -> None:
    """``msg``'s work again, as after an attempt that published and then failed (Redis went
    away before replying): the attempt was not recorded as done. A new replica runs it."""
    await raw.delete(layout.processed_key(Stage.TTS, msg.session_id))
    await bus.publish(msg)
    await run_until_drained(bus, raw)


async def run_until_drained(bus: Bus, raw: aioredis.Redis) -> None:
    """Runs a worker (a new replica) until the work stream is empty (entries go once done)."""

    async def drained() -> bool:
        return int(await raw.xlen(layout.work_stream(Stage.TTS))) == 0

    await run_until(bus, TTSWorker(bus, "tts-2", TTSRouter(FakeTTS()), chunk_ms=100), drained)


async def test_a_sentence_redelivered_after_its_publication_landed_is_not_published_again(
    bus: Bus, raw_redis: aioredis.Redis
) -> None:
    """Redis restarted between running a sentence's transaction and replying (drills,
    restart-redis with Kokoro): the worker saw an error and the entry came back, but the audio
    and the turn's progress are in Redis. Published again, the sentence went out after the
    later ones under new seqs (heard twice, out of order, or after the response's end)."""
    sid = str(uuid.uuid4())
    worker = TTSWorker(bus, "tts-t", TTSRouter(FakeTTS()), chunk_ms=100)
    await publish_reply(bus, sid, ["Bom dia.", "Como posso ajudar?"])
    await run_until_ended(bus, worker, sid)

    def audio(log: list[Message]) -> list[tuple[str, int, bytes]]:
        return [(m.response_id, m.seq, m.audio) for m in log if isinstance(m, ResponseAudio)]

    async def redeliver_the_end() -> list[Message]:
        """The final sentence's entry redelivered: the session's log after it."""
        final = ResponseText(session_id=sid, response_id="r-1", seq=2, text="", is_final=True)
        await redeliver(bus, raw_redis, final)
        return await bus.session_log(sid)

    said = audio(await bus.session_log(sid))
    assert [seq for _, seq, _ in said] == list(range(len(said)))
    # the first sentence's entry again, as a redelivery; then the final one, its end lost
    await redeliver(
        bus,
        raw_redis,
        ResponseText(session_id=sid, response_id="r-1", seq=0, text="Bom dia.", is_final=False),
    )
    stream = layout.session_stream(sid)
    ends = [i for i, f in await raw_redis.xrange(stream) if f[b"type"] == b"response.end"]
    await raw_redis.xdel(stream, *ends)
    log = await redeliver_the_end()
    assert audio(log) == said
    assert [m.interrupted for m in log if isinstance(m, ResponseEnd)] == [False]
    # redelivered once more with its end in place: still one end
    log = await redeliver_the_end()
    assert audio(log) == said
    assert len([m for m in log if isinstance(m, ResponseEnd)]) == 1


@pytest.fixture
def sid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def seen() -> list[tuple[str, bool]]:
    """What a flag-watching TTS saw: (text, whether the priority flag was up)."""
    return []


def flag_watching_tts(redis_url: str, sid: str, seen: list[tuple[str, bool]]) -> FakeTTS:
    """A FakeTTS that records, for each text, whether the session's priority flag was up
    while it was synthesized (it runs in a thread: it asks Redis on a connection of its own)."""

    class Watching(FakeTTS):
        def _synthesize(self, text: str, voice: str, language: str):  # type: ignore[no-untyped-def]
            client = redis.Redis.from_url(redis_url)
            try:
                seen.append((text, bool(client.exists(layout.tts_priority_key(sid)))))
            finally:
                client.close()
            return super()._synthesize(text, voice, language)

    return Watching()


async def test_the_first_clause_is_synthesized_under_the_priority_flag(
    bus: Bus, redis_server: RedisServer, sid: str, seen: list[tuple[str, bool]]
) -> None:
    """A local LLM holds the rest of the reply while this flag is up (llm_worker.priority)."""
    tts = flag_watching_tts(redis_server.url, sid, seen)
    # one at a time: in a call the next clause only comes once the LLM is no longer held
    worker = TTSWorker(bus, "tts-t", TTSRouter(tts), first_clause_priority_ms=5000, concurrency=1)
    await publish_reply(bus, sid, ["Nosso horário começa", "às oito."])
    await run_until_ended(bus, worker, sid)
    assert seen == [("Nosso horário começa", True), ("às oito.", False)]
    assert not await bus.has_tts_priority(sid)  # cleared once the first clause was ready


async def test_fixed_phrases_and_a_disabled_priority_raise_no_flag(
    bus: Bus, redis_server: RedisServer, sid: str, seen: list[tuple[str, bool]]
) -> None:
    tts = flag_watching_tts(redis_server.url, sid, seen)
    worker = TTSWorker(bus, "tts-t", TTSRouter(tts), first_clause_priority_ms=0)
    await bus.publish(
        ResponseText(session_id=sid, response_id="r-2", seq=0, text="Sim.", is_final=True)
    )
    await run_until_ended(bus, worker, sid)
    tts = flag_watching_tts(redis_server.url, sid, seen)
    on = TTSWorker(bus, "tts-u", TTSRouter(tts), first_clause_priority_ms=5000)
    await bus.publish(
        ResponseText(session_id=sid, response_id="greeting", seq=0, text="Olá!", is_final=True)
    )

    async def greeted() -> bool:
        return len([m for m in await bus.session_log(sid) if isinstance(m, ResponseEnd)]) == 2

    await run_until(bus, on, greeted)
    assert seen == [("Sim.", False), ("Olá!", False)]


class BrokenOn(FakeTTS):
    """Fails every time on sentences with ``word`` (hand-written fake of a broken voice)."""

    def __init__(self, word: str) -> None:
        super().__init__(ms_per_char=5.0)
        self.word = word

    def _synthesize(self, text: str, voice: str, language: str):  # type: ignore[no-untyped-def]
        if self.word in text:
            from tts_worker.errors import ProviderError

            raise ProviderError("scripted failure", retryable=False)
        return super()._synthesize(text, voice, language)


async def test_a_sentence_that_never_voices_closes_its_response_and_the_caller_hears_the_apology(
    bus: Bus, raw_redis: aioredis.Redis
) -> None:
    sid = str(uuid.uuid4())
    await bus.set_state(sid, {"sample_rate": 8000, "language": "pt-BR"})
    worker = TTSWorker(
        bus, "tts-t", TTSRouter(BrokenOn("QUEBRA")), claim_idle_ms=200, max_deliveries=2
    )
    await publish_reply(bus, sid, ["Bom dia.", "Isto QUEBRA a voz."])

    async def apologised() -> bool:
        return any(
            isinstance(m, ResponseAudio) and m.response_id.startswith("apology-") and m.is_final
            for m in await bus.session_log(sid)
        )

    await run_until(bus, worker, apologised)
    log = await bus.session_log(sid)
    (closed,) = [m for m in log if isinstance(m, ResponseCancel)]
    assert (closed.response_id, closed.reason) == ("r-1", "failed")
    first = [m for m in log if isinstance(m, ResponseAudio) and m.response_id == "r-1"]
    assert first
    assert not any(m.is_final for m in first)
    apology = [
        m for m in log if isinstance(m, ResponseAudio) and m.response_id.startswith("apology")
    ]
    assert [m.seq for m in apology] == list(range(len(apology)))
    # The whole apology sentence (the fake speaks 5 ms a character, 16 bytes a ms at 8 kHz).
    assert sum(len(m.audio) for m in apology) >= len(worker.apology) * 5 * 16 * 0.9
    assert await raw_redis.xlen(layout.dead_letter_stream(layout.Stage.TTS)) >= 1


async def test_a_stale_first_sentence_of_a_live_call_is_answered_with_the_apology(
    bus: Bus, raw_redis: aioredis.Redis
) -> None:
    sid = str(uuid.uuid4())
    await raw_redis.zadd(layout.ACTIVE_SESSIONS, {sid: 1.0})
    worker = TTSWorker(bus, "tts-t", TTSRouter(FakeTTS(ms_per_char=5.0)), max_age_s=60)
    await bus.publish(
        ResponseText(
            session_id=sid,
            response_id="r-old",
            seq=0,
            text="Velha.",
            is_final=True,
            timestamp="2026-01-01T00:00:00.000000Z",
        )
    )

    async def apologised() -> bool:
        return any(
            isinstance(m, ResponseEnd) and m.response_id.startswith("apology-")
            for m in await bus.session_log(sid)
        )

    try:
        await run_until(bus, worker, apologised)
    finally:
        await bus.deactivate_session(sid)
    log = await bus.session_log(sid)
    assert not [m for m in log if isinstance(m, ResponseAudio) and m.response_id == "r-old"]
