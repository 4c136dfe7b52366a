"""The phrase cache on a real Redis with the fake engine: filled when the worker starts,
served without synthesis, keyed so that a voice change never serves stale audio."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from asp import ResponseAudio, ResponseEnd, ResponseText, TurnTiming
from asp import streams as layout
from pipeline import Bus
from pipeline.bus import MAX_REGISTERED_PHRASES
from pipeline.testing import until
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from tts_worker.audio import SESSION_RATES
from tts_worker.cache import KEY_PREFIX, PhraseCache
from tts_worker.router import TTSRouter
from tts_worker.testing import FakeTTS
from tts_worker.worker import TTSWorker

GREETING = "Olá! Você ligou para a recepção. Em que posso ajudar?"
APOLOGY = "Desculpe, tive um problema técnico agora. Pode repetir, por favor?"
GOODBYE = "Obrigado pela ligação. Até logo!"
ACKS = ("Claro.", "Certo.", "Um momento.")


def counter(name: str) -> float:
    return REGISTRY.get_sample_value(f"pabx_tts_phrase_cache_{name}_total") or 0.0


PHRASE_TIMING: dict[str, Any] = {
    "phrase_refresh_s": 0.05,
    "phrase_poll_s": 1.0,
    "fill_quiet_s": 0.05,
    "fill_defer_s": 3600.0,
}
"""The workers' phrase timings here, unless a test names its own (TTSWorker's keywords):
phrases synced at once and filled 50 ms after the last live sentence, and never between
turns of calls that are up (an hour's deferral)."""


def make_worker(
    bus: Bus, engine: FakeTTS, cache: dict[str, Any] | None = None, **timing: Any
) -> TTSWorker:
    """A worker on ``engine`` whose phrase cache has :data:`ACKS` (``cache``: more of the
    cache's keywords) and whose phrase timings are :data:`PHRASE_TIMING` updated by
    ``timing``."""
    router = TTSRouter(engine)
    # The sessions below speak pt-BR. (Kokoro says "pt" and "pt-BR" alike, so with it the
    # default TTS_LANG=pt keys match too: test_settings checks its voice identity.)
    phrases = PhraseCache(bus, router, phrases=ACKS, **{"language": "pt-BR", **(cache or {})})
    return TTSWorker(
        bus, "tts-t", router, chunk_ms=100, phrases=phrases, **(PHRASE_TIMING | timing)
    )


async def started(worker: TTSWorker) -> asyncio.Task[None]:
    task = asyncio.create_task(worker.run(grace_s=2))
    while not worker.ready:
        assert not task.done(), task
        await asyncio.sleep(0.01)
    return task


async def stopped(worker: TTSWorker, task: asyncio.Task[None]) -> None:
    worker.stop()
    await asyncio.wait_for(task, 10)


async def new_session(bus: Bus, rate: int = 8000) -> str:
    sid = str(uuid.uuid4())
    await bus.set_state(sid, {"sample_rate": rate, "language": "pt-BR"})
    return sid


async def say(bus: Bus, sid: str, rid: str, *sentences: str) -> list[ResponseAudio]:
    """Publishes a response's sentences (the last one final) and waits for its end."""
    for seq, text in enumerate(sentences):
        await bus.publish(
            ResponseText(
                session_id=sid,
                response_id=rid,
                seq=seq,
                text=text,
                is_final=seq == len(sentences) - 1,
            )
        )

    async def ended() -> bool:
        return any(
            isinstance(m, ResponseEnd) and m.response_id == rid for m in await bus.session_log(sid)
        )

    await until(ended, f"the end of {rid}", timeout=30, interval=0.01)
    return [
        m
        for m in await bus.session_log(sid)
        if isinstance(m, ResponseAudio) and m.response_id == rid
    ]


async def cache_keys(redis: Redis) -> list[bytes]:
    return sorted(await redis.keys(f"{KEY_PREFIX}:*"))


async def test_the_greeting_of_a_new_session_comes_from_the_cache(
    bus: Bus, raw_redis: Redis
) -> None:
    # The llm-worker registered its persona's phrases (greeting, apology, goodbye).
    await bus.register_phrases("pt-BR", [GREETING, APOLOGY, GOODBYE])
    engine = FakeTTS()
    worker = make_worker(bus, engine)
    task = await started(worker)
    try:
        # Filled before the worker took work: every phrase once, at both session rates.
        spoken = sorted(text for text, _, _ in engine.calls)
        assert spoken == sorted([GREETING, APOLOGY, GOODBYE, *ACKS])
        assert len(await cache_keys(raw_redis)) == 6 * len(SESSION_RATES)
        engine.calls.clear()
        hits, misses = counter("hits"), counter("misses")

        sid = await new_session(bus)
        audio = await say(bus, sid, "greeting", GREETING)
        assert engine.calls == []  # the engine was not asked for the greeting
        assert counter("hits") - hits == 1
        assert counter("misses") == misses
        # The same audio a synthesis gives: 50 ms per character, at 8 kHz, 100 ms chunks.
        samples = sum(len(a.audio) for a in audio) // 2
        assert abs(samples - len(GREETING) * 50 * 8) <= 800
        (timing,) = [m for m in await bus.session_log(sid) if isinstance(m, TurnTiming)]
        assert (timing.stage, timing.response_id) == ("tts", "greeting")
        assert timing.tts_first_audio_ms is not None

        # The goodbye and an acknowledgement, inside a response, also come from Redis.
        await say(bus, sid, "r-u1", "  Claro. ", "Vou verificar para você.", GOODBYE)
        assert [text for text, _, _ in engine.calls] == ["Vou verificar para você."]
        assert counter("hits") - hits == 3
    finally:
        await stopped(worker, task)


async def test_a_voice_change_never_serves_stale_audio(bus: Bus, raw_redis: Redis) -> None:
    first = make_worker(bus, FakeTTS())
    task = await started(first)
    await stopped(first, task)
    keys = await cache_keys(raw_redis)
    assert len(keys) == len(ACKS) * len(SESSION_RATES)

    engine = FakeTTS(voice="other", ms_per_char=80)
    second = make_worker(bus, engine)
    task = await started(second)
    try:
        assert len(engine.calls) == len(ACKS)  # its own voice: filled again, not reused
        engine.calls.clear()
        sid = await new_session(bus, rate=16000)
        audio = await say(bus, sid, "r-1", "Certo.")
        assert engine.calls == []
        samples = sum(len(a.audio) for a in audio) // 2
        assert abs(samples - len("Certo.") * 80 * 16) <= 1600  # the new voice's length
    finally:
        await stopped(second, task)
    assert len(await cache_keys(raw_redis)) == 2 * len(keys)


async def test_only_the_phrases_are_cached_and_a_sentence_must_match_exactly(
    bus: Bus, raw_redis: Redis
) -> None:
    engine = FakeTTS()
    worker = make_worker(bus, engine)
    task = await started(worker)
    try:
        before = await cache_keys(raw_redis)
        engine.calls.clear()
        sid = await new_session(bus)
        await say(bus, sid, "r-1", "Claro!", "Qualquer outra frase.", "Claro, posso sim.")
        assert len(engine.calls) == 3  # none of them is a cached phrase
        assert await cache_keys(raw_redis) == before  # and none was stored: the cache is bounded
    finally:
        await stopped(worker, task)


async def test_a_phrase_registered_later_is_filled_by_the_refresh(bus: Bus) -> None:
    engine = FakeTTS()
    worker = make_worker(bus, engine)
    task = await started(worker)
    try:
        await bus.register_phrases("pt-BR", [GOODBYE])

        async def filled() -> bool:
            return any(text == GOODBYE for text, _, _ in engine.calls)

        await until(filled, "the refresh", timeout=30, interval=0.01)
        engine.calls.clear()
        sid = await new_session(bus)
        await say(bus, sid, "r-1", GOODBYE)
        assert engine.calls == []
        # The refresh does not synthesize again what is there.
        await asyncio.sleep(0.3)
        assert engine.calls == []
    finally:
        await stopped(worker, task)


async def test_a_used_phrase_does_not_expire_and_a_lost_one_is_refilled(
    bus: Bus, raw_redis: Redis
) -> None:
    engine = FakeTTS()
    worker = make_worker(bus, engine, {"ttl_s": 3600})
    task = await started(worker)
    try:
        sid = await new_session(bus)
        key = worker.phrases.key("Claro.", "pt-BR", 8000)
        await raw_redis.expire(key, 5)
        await say(bus, sid, "r-1", "Claro.")
        assert await raw_redis.ttl(key) > 3000  # each use renews it

        # Gone (evicted, or Redis restarted without persistence): the refresh puts it back.
        await raw_redis.delete(*await cache_keys(raw_redis))

        async def refilled() -> bool:
            return int(await raw_redis.exists(key)) == 1

        await until(refilled, "the refill", timeout=30, interval=0.01)
    finally:
        await stopped(worker, task)


async def test_fallback_audio_is_never_cached(bus: Bus, raw_redis: Redis) -> None:
    broken = FakeTTS(failures=1000, retryable=False)
    fallback = FakeTTS(voice="robot")
    router = TTSRouter(broken, fallback=fallback)
    cache = PhraseCache(bus, router, phrases=ACKS)
    assert await cache.fill() == 0
    assert await cache_keys(raw_redis) == []
    assert len(fallback.calls) == len(ACKS)  # it spoke, but its audio is not the voice's
    syn = await router.synthesize("Claro.")
    assert not await cache.store("Claro.", "pt", 8000, b"\x00\x01" * 80, syn.voice_id)


async def test_registered_phrases_are_bounded_and_malformed_members_ignored(
    bus: Bus, raw_redis: Redis
) -> None:
    many = [f"Frase {i}." for i in range(MAX_REGISTERED_PHRASES + 10)]
    await bus.register_phrases("pt-BR", [*many, "", "x" * 400])
    registered = await bus.registered_phrases()
    # the bound keeps the first ones given, in the order given
    assert [text for _, text in registered] == many[:MAX_REGISTERED_PHRASES]
    await raw_redis.zadd(
        "asp:cache:tts:phrases",
        {b"not json": 1e12, b'{"a": 1, "b": 2}': 1e12, b'["pt"]': 1e12, b'["pt", 5]': 1e12},
    )
    assert all(isinstance(t, str) for _, t in await bus.registered_phrases())
    cache = PhraseCache(bus, TTSRouter(FakeTTS()), phrases=ACKS, max_phrases=5)
    assert len(await cache.to_keep()) == 5
    assert (await cache.to_keep())[:3] == [("pt", a) for a in ACKS]  # the configured first
    off = PhraseCache(bus, TTSRouter(FakeTTS()), phrases=ACKS, max_phrases=0)
    assert await off.fill() == 0
    assert await off.lookup("Claro.", "pt", 8000) is None
    assert layout.cache_key("tts", "phrases") == "asp:cache:tts:phrases"


# The pieces the llm-worker sends to the TTS for the shipped facts' week hours (its
# registered phrases, llm_worker.cached_answers).
HOURS = (
    "Nosso horário de atendimento:",
    "de segunda a sexta, das oito às dezoito horas;",
    "sábado, das oito ao meio-dia;",
    "domingo, fechado.",
)


def gauge(name: str) -> float:
    return REGISTRY.get_sample_value(f"pabx_tts_phrase_cache_{name}") or 0.0


async def test_a_fact_answer_registered_later_is_served_from_the_cache_at_once(
    bus: Bus,
) -> None:
    """The llm-worker (re)loads its facts after the TTS started: the new pieces are filled
    within a poll of the registry's version, not at the next periodic refresh (an hour
    here), and an answer whose first sentence is one of them is a cache hit, no synthesis."""
    engine = FakeTTS()
    worker = make_worker(bus, engine, phrase_refresh_s=3600, phrase_poll_s=0.05)
    task = await started(worker)
    try:
        engine.calls.clear()
        assert await bus.register_phrases("pt-BR", HOURS) == len(HOURS)

        async def filled() -> bool:
            return {text for text, _, _ in engine.calls} == set(HOURS)

        await until(filled, "the new phrases filled", timeout=5, interval=0.01)
        assert gauge("pending") == 0
        engine.calls.clear()
        hits = counter("hits")
        sid = await new_session(bus)
        audio = await say(bus, sid, "r-u1", *HOURS)
        assert engine.calls == []  # every piece from Redis
        assert counter("hits") - hits == len(HOURS)
        assert audio
        assert audio[-1].is_final
        (timing,) = [m for m in await bus.session_log(sid) if isinstance(m, TurnTiming)]
        assert timing.tts_first_audio_ms is not None
        # registering them again (each session start does) adds nothing: no refill
        version = await bus.phrases_version()
        assert await bus.register_phrases("pt-BR", HOURS) == 0
        assert await bus.phrases_version() == version
    finally:
        await stopped(worker, task)


async def test_live_turns_come_before_filling_the_cache(bus: Bus) -> None:
    """While a call is up, registered phrases are looked up but not synthesized in the
    background (the next question's STT and reply keep the CPU); a live sentence that is
    one of them is synthesized once and stored, so the next time it is a hit. Once no call
    is up, the rest are filled."""
    engine = FakeTTS()
    worker = make_worker(bus, engine, phrase_refresh_s=3600, phrase_poll_s=0.02, fill_quiet_s=0.05)
    task = await started(worker)
    try:
        call = await new_session(bus)
        await bus.activate_session(call)  # a call is up
        engine.calls.clear()
        await bus.register_phrases("pt-BR", HOURS)

        async def synced() -> bool:
            return gauge("pending") == len(HOURS)

        await until(synced, "the new phrases seen", timeout=5, interval=0.01)
        await asyncio.sleep(0.3)  # many polls
        assert engine.calls == []  # nothing synthesized behind the call's back

        hits = counter("hits")
        await say(bus, call, "r-u1", HOURS[0])
        assert [text for text, _, _ in engine.calls] == [HOURS[0]]  # live: synthesized
        engine.calls.clear()
        await say(bus, call, "r-u2", HOURS[0])
        assert engine.calls == []  # and stored: a hit the next time
        assert counter("hits") - hits == 1

        await bus.deactivate_session(call)  # the call ended: the rest are filled

        async def rest_filled() -> bool:
            return len(engine.calls) == len(HOURS)

        await until(rest_filled, "the rest filled", timeout=5, interval=0.01)
        # the first one is only filled at the rate the call did not use (16 kHz)
        assert sorted(text for text, _, _ in engine.calls) == sorted(HOURS)
    finally:
        await stopped(worker, task)


async def test_phrases_that_waited_long_are_filled_between_turns_with_calls_up(
    bus: Bus,
) -> None:
    """A PBX that always has a call up still gets its cache filled: once the pending
    phrases have waited ``fill_defer_s``, they are synthesized between turns, never while
    a reply is being generated."""
    engine = FakeTTS()
    worker = make_worker(
        bus, engine, phrase_refresh_s=3600, phrase_poll_s=0.02, fill_quiet_s=0.05, fill_defer_s=0.5
    )
    task = await started(worker)
    try:
        call = await new_session(bus)
        await bus.activate_session(call)  # a call is up, and stays up
        await bus.begin_turn(call, "r-1", ttl_s=60)  # its reply is being generated
        engine.calls.clear()
        await bus.register_phrases("pt-BR", HOURS)
        await asyncio.sleep(0.8)  # past the deferral, but a reply is in progress
        assert engine.calls == []
        await bus.end_turn(call, "r-1")  # between turns, the call still up

        async def filled() -> bool:
            return len(engine.calls) == len(HOURS)

        await until(filled, "the phrases filled with the call up", timeout=5, interval=0.01)
        assert sorted(text for text, _, _ in engine.calls) == sorted(HOURS)
        assert await bus.active_sessions()
    finally:
        await stopped(worker, task)


async def test_no_fill_while_a_reply_is_generated_or_a_sentence_is_voiced(bus: Bus) -> None:
    engine = FakeTTS()
    worker = make_worker(bus, engine, phrase_refresh_s=3600, phrase_poll_s=0.02, fill_quiet_s=0.05)
    task = await started(worker)
    try:
        assert await worker.idle()
        sid = str(uuid.uuid4())
        await bus.begin_turn(sid, "r-1", ttl_s=60)  # a model is generating a reply
        assert not await worker.idle()
        await bus.end_turn(sid, "r-1")
        assert await worker.idle()
        worker._live = 1  # a live sentence in hand
        assert not await worker.idle()
        worker._live = 0
        worker._live_ended = asyncio.get_running_loop().time()  # one just voiced
        assert not await worker.idle()
        await asyncio.sleep(0.06)
        assert await worker.idle()
    finally:
        await stopped(worker, task)


async def test_only_the_first_phrases_are_filled_before_taking_work(bus: Bus) -> None:
    from tts_worker.worker import START_FILL_PHRASES

    many = [f"Frase número {i}." for i in range(START_FILL_PHRASES + 8)]
    await bus.register_phrases("pt-BR", many)
    engine = FakeTTS()
    call = await new_session(bus)
    await bus.activate_session(call)  # a call is up: the background fill waits
    worker = make_worker(bus, engine, phrase_refresh_s=3600, phrase_poll_s=0.02)
    task = await started(worker)
    try:
        first = [*ACKS, *many][:START_FILL_PHRASES]
        assert [text for text, _, _ in engine.calls] == first  # in order, configured first
        await asyncio.sleep(0.2)
        assert len(engine.calls) == START_FILL_PHRASES
        await bus.deactivate_session(call)

        async def all_filled() -> bool:
            return len(engine.calls) == len(ACKS) + len(many)

        await until(all_filled, "the rest filled", timeout=5, interval=0.01)
    finally:
        await stopped(worker, task)


async def test_a_worker_stopped_while_filling_at_start_synthesizes_no_more_phrases(
    bus: Bus,
) -> None:
    """SIGTERM during the first fill: the phrase being synthesized ends, the rest wait for
    another replica (each synthesis of a real voice takes seconds; 16 of them could outlast
    the orchestrator's grace period)."""
    many = [f"Frase número {i}." for i in range(8)]
    await bus.register_phrases("pt-BR", many)
    engine = FakeTTS(delay_s=0.2)
    worker = make_worker(bus, engine, phrase_refresh_s=3600)
    task = asyncio.create_task(worker.run(grace_s=2))

    async def first_begun() -> bool:
        return len(engine.calls) >= 1

    await until(first_begun, "the first phrase begun", timeout=5, interval=0.01)
    worker.stop()
    await asyncio.wait_for(task, 10)
    assert len(engine.calls) <= 2  # the one in hand (and at most the next), not 11
    assert not worker.ready
