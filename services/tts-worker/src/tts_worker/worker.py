"""The TTS stage on the ``tts-workers`` group: response.text -> response.audio.

Each sentence is synthesized as soon as it arrives (replicas synthesize a response's
sentences in parallel), resampled once to the session's rate and cut into 20 ms-aligned
chunks. Publication is ordered per response through ``asp:turn:{<session>}:<response>``
(next sentence, next chunk seq): a replica publishes a sentence only when it is that
sentence's turn, so the caller hears the sentences in order and chunk seqs are contiguous.
A redone sentence (a replica died mid-way) reuses the same seqs, so the edge can drop
duplicates; one that already went out (the first attempt's transaction ran, and only its
reply was lost: Redis restarted under it) is not published again (the turn key says so),
else its audio would follow the later sentences under new seqs. A cancelled response stops
within one chunk: the cancelled set is read before each publication (``group_chunks``
chunks, one by default).
A sentence that is a cached phrase (greeting, apology, goodbye, short acknowledgements, the
pieces of the facts' fixed answers) is served from Redis without synthesis
(``cache.PhraseCache``). Before the worker takes work it fills the first
``START_FILL_PHRASES`` missing phrases; the others, and the ones registered later (the registry's
version is polled every ``phrase_poll_s``, so a new phrase is looked up within a second), are
synthesized in the background, one at a time and only while the worker is idle: no live
sentence in hand or finished in the last ``FILL_QUIET_S``, no reply being generated
(``Bus.live_turns``) and no call up (``Bus.active_sessions``), or, once a phrase has waited
``fill_defer_s`` (a PBX that always has a call up would otherwise never fill its cache),
between turns with calls up. Live turns always come first;
at worst a live sentence that arrives while a phrase is being synthesized waits for that one
phrase (the engine speaks one sentence at a time). A phrase not filled yet is stored the
first time a live sentence synthesizes it. The first sentence of each response appends a
``turn.timing`` event with the time to its first audio (``tts_first_audio_ms``).

While it synthesizes a response's first clause (seq 0) the worker holds the session's
TTS-priority flag (``first_clause_priority_ms``, renewed at the start, cleared when the
audio is ready): a local LLM generating the rest of that reply waits meanwhile, so on a
small host the first words get the CPU.

This stage apologises itself (it is the last one before the caller): a sentence it gave up
on (dead-lettered) closes its response (``response.cancel`` with reason ``failed``: the edge
plays what arrived, the LLM stops, later sentences are dropped) and a response that waited
past the maximum age is dropped; either way the apology is voiced here, from the phrase
cache when it is there, and published as a response of its own (``apology-{entry}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Unpack

from asp import Message, ResponseAudio, ResponseCancel, ResponseEnd, ResponseText, Stage
from pipeline import Bus, Job, StreamWorker
from pipeline.bus import TurnAdvance
from pipeline.logs import for_session
from pipeline.redis_client import UNAVAILABLE as REDIS_ERRORS
from pipeline.worker import StreamWorkerOptions

from .audio import chunk_pcm, float_to_pcm16, resample
from .cache import PhraseCache
from .router import TTSRouter

log = logging.getLogger(__name__)

NOT_GENERATED_IDS = ("greeting", "apology")
"""Responses no LLM generates (nothing to hold while they are voiced)."""
TURN_TTL_S = 3600
START_FILL_PHRASES = 16
"""Missing phrases synthesized before the worker takes work, in the cache's order (the
configured acknowledgements, then the persona's greeting, apology and goodbye, the menu's
phrases, the first pieces of the fixed answers); the rest are filled when idle."""
FILL_QUIET_S = 1.0
"""How long after its last live sentence the worker waits before it fills a phrase."""
FILL_DEFER_S = 30.0
"""How long pending phrases wait for a moment with no call up; after that they are filled
between turns (no live sentence, no reply being generated) even with calls up."""


class TTSWorker(StreamWorker):
    stage = Stage.TTS

    def __init__(
        self,
        bus: Bus,
        consumer: str,
        tts: TTSRouter,
        *,
        language: str = "pt",
        sample_rate: int = 8000,
        chunk_ms: int = 20,
        group_chunks: int = 1,
        turn_timeout_s: float = 20.0,
        phrases: PhraseCache | None = None,
        phrase_refresh_s: float = 60.0,
        phrase_poll_s: float = 1.0,
        fill_quiet_s: float = FILL_QUIET_S,
        fill_defer_s: float = FILL_DEFER_S,
        first_clause_priority_ms: int = 0,
        **kw: Unpack[StreamWorkerOptions],
    ) -> None:
        super().__init__(bus, consumer, **kw)
        self.first_clause_priority_ms = first_clause_priority_ms
        self.tts = tts
        self.language = language
        self.sample_rate = sample_rate
        self.chunk_ms = chunk_ms
        self.group_chunks = group_chunks
        self.turn_timeout_s = turn_timeout_s
        self.phrases = phrases if phrases is not None else PhraseCache(bus, tts, language=language)
        self.phrase_refresh_s = phrase_refresh_s
        self.phrase_poll_s = min(phrase_poll_s, phrase_refresh_s)
        self.fill_quiet_s = fill_quiet_s
        self.fill_defer_s = fill_defer_s
        self._pending_since: float | None = None  # loop time phrases started to wait
        self._refresher: asyncio.Task[None] | None = None
        self._live = 0  # live sentences in hand
        self._live_ended = float("-inf")  # loop time the last one was done

    # --- the phrase cache, kept filled ----------------------------------------------------

    async def run(self, grace_s: float = 10.0) -> None:
        try:
            await super().run(grace_s)
        finally:
            if self._refresher is not None:
                self._refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._refresher
                self._refresher = None

    async def on_ready(self) -> None:
        """The first time: fills the first phrases of the cache before taking work (the
        first greeting is then a hit); afterwards a background task keeps it filled."""
        if self._refresher is None:
            version = await self.bus.phrases_version()
            await self.phrases.fill(limit=START_FILL_PHRASES, stop=self._stopping.is_set)
            self._refresher = asyncio.create_task(self._refresh(version), name="tts:phrases")

    async def _refresh(self, version: int) -> None:
        """Syncs when the registry's version changes and every ``phrase_refresh_s``;
        between polls, fills pending phrases one at a time while the worker is idle."""
        loop = asyncio.get_running_loop()
        next_sync = loop.time() + self.phrase_refresh_s
        while True:
            await asyncio.sleep(self.phrase_poll_s)
            try:
                now_version = await self.bus.phrases_version()
                if now_version != version or loop.time() >= next_sync:
                    version = now_version
                    next_sync = loop.time() + self.phrase_refresh_s
                    await self.phrases.sync()
                if not self.phrases.pending:
                    self._pending_since = None
                elif self._pending_since is None:
                    self._pending_since = loop.time()
                while self.phrases.pending and await self.idle():
                    await self.phrases.fill_next()
            except REDIS_ERRORS as e:
                log.warning(
                    "phrase cache refresh failed (%s); next try in %.0f s",
                    type(e).__name__,
                    self.phrase_poll_s,
                )
            except Exception:
                log.exception("phrase cache refresh failed")

    async def idle(self) -> bool:
        """Whether a phrase may be synthesized now without delaying live work: no live
        sentence in hand here or done within ``fill_quiet_s``, no reply being generated
        and no call up (the next question's STT and reply must not share the CPU with it),
        unless the pending phrases have waited ``fill_defer_s`` for that."""
        now = asyncio.get_running_loop().time()
        if self._live or now - self._live_ended < self.fill_quiet_s:
            return False
        if await self.bus.live_turns():
            return False
        deferred_long = self._pending_since is not None and (
            now - self._pending_since >= self.fill_defer_s
        )
        return deferred_long or not await self.bus.active_sessions()

    # --- apologies ----------------------------------------------------------------------------

    async def give_up(self, job: Job) -> None:
        msg = job.msg
        if isinstance(msg, ResponseText):
            await self.bus.publish(
                ResponseCancel(
                    session_id=msg.session_id, response_id=msg.response_id, reason="failed"
                )
            )
        await self.apologize(job)

    async def apologize(self, job: Job) -> None:
        """Voices the apology for the session of ``job`` and publishes it as a response."""
        sid = getattr(job.msg, "session_id", None)
        if sid is None:
            return
        state = await self.bus.state(sid)
        rate = int(state.get("sample_rate") or self.sample_rate)
        language = state.get("language") or self.language
        rid = f"apology-{job.entry_id}"
        try:
            pcm = await self._synthesize(
                ResponseText(
                    session_id=sid, response_id=rid, seq=0, text=self.apology, is_final=True
                ),
                language,
                rate,
            )
        except REDIS_ERRORS:
            raise
        except Exception:
            for_session(log, sid).exception("the apology could not be voiced")
            return
        chunks = [c.pcm for c in chunk_pcm(pcm, rate, chunk_ms=self.chunk_ms)] or [b""]
        await self.bus.publish_many(
            [
                ResponseAudio(
                    session_id=sid, response_id=rid, seq=i, audio=c, is_final=i == len(chunks) - 1
                )
                for i, c in enumerate(chunks)
            ]
        )
        await self.bus.publish(
            ResponseEnd(session_id=sid, response_id=rid, interrupted=False), stages=()
        )

    # --- work -----------------------------------------------------------------------------

    async def handle(self, job: Job) -> None:
        msg = job.msg
        if isinstance(msg, ResponseCancel):
            await self.bus.publish(
                ResponseEnd(
                    session_id=msg.session_id, response_id=msg.response_id, interrupted=True
                ),
                stages=(),
            )
            return
        if not isinstance(msg, ResponseText):
            return
        self._live += 1
        try:
            await self._respond(msg)
        finally:
            self._live -= 1
            self._live_ended = asyncio.get_running_loop().time()

    async def _respond(self, msg: ResponseText) -> None:
        started = time.perf_counter()
        sid, rid = msg.session_id, msg.response_id
        if await self.bus.is_cancelled(sid, rid):
            return
        if await self._went_out(msg):
            return
        state = await self.bus.state(sid)
        rate = int(state.get("sample_rate") or self.sample_rate)
        language = state.get("language") or self.language
        pcm = await self._synthesize(msg, language, rate) if msg.text.strip() else b""
        chunks = [c.pcm for c in chunk_pcm(pcm, rate, chunk_ms=self.chunk_ms)]
        await self._wait_turn(sid, rid, msg.seq)
        if await self._went_out(msg):
            return
        _, base = await self.bus.turn_progress(sid, rid)
        if not chunks and msg.is_final:
            chunks = [b""]  # the end of the response still needs its final chunk
        advance = TurnAdvance(
            sid, rid, next_sentence=msg.seq + 1, next_chunk=base + len(chunks), ttl_s=TURN_TTL_S
        )
        for start in range(0, max(len(chunks), 1), self.group_chunks):
            if start and await self.bus.is_cancelled(sid, rid):
                await self.bus.skip_sentence(sid, rid, msg.seq + 1, TURN_TTL_S)
                return
            group = chunks[start : start + self.group_chunks]
            last_group = start + self.group_chunks >= len(chunks)
            out: list[Message] = [
                ResponseAudio(
                    session_id=sid,
                    response_id=rid,
                    seq=base + start + i,
                    audio=c,
                    is_final=msg.is_final and last_group and i == len(group) - 1,
                )
                for i, c in enumerate(group)
            ]
            if start == 0 and msg.seq == 0 and pcm:
                # The response's first audio: where this stage's share of the turn ends.
                out.append(
                    self.turn_timing(
                        sid, {"tts_first_audio": time.perf_counter() - started}, response_id=rid
                    )
                )
            await self.bus.publish_many(out, advance_turn=advance if last_group else None)
        if msg.is_final:
            await self.bus.publish(
                ResponseEnd(session_id=sid, response_id=rid, interrupted=False), stages=()
            )

    async def _went_out(self, msg: ResponseText) -> bool:
        """The sentence was published already (or cut): a redelivered entry whose first
        attempt's publication landed although the worker saw an error (Redis went away
        between running the transaction and replying). Nothing more of it goes out but,
        for the last sentence, the response's end when the log lacks it (published after
        the audio, it may be what was lost; a rare path, so reading the log is fine)."""
        next_sentence, _ = await self.bus.turn_progress(msg.session_id, msg.response_id)
        if next_sentence <= msg.seq:
            return False
        for_session(log, msg.session_id).info(
            "response %s sentence %d went out already: not published again",
            msg.response_id,
            msg.seq,
        )
        ended = msg.is_final and any(
            isinstance(m, ResponseEnd) and m.response_id == msg.response_id
            for m in await self.bus.session_log(msg.session_id)
        )
        if msg.is_final and not ended:
            await self.bus.publish(
                ResponseEnd(
                    session_id=msg.session_id, response_id=msg.response_id, interrupted=False
                ),
                stages=(),
            )
        return True

    async def _synthesize(self, msg: ResponseText, language: str, rate: int) -> bytes:
        """The sentence's PCM: from the phrase cache, or synthesized (a reply's first clause
        under the session's priority flag, so a local LLM holds while it is voiced)."""
        cached = await self.phrases.lookup(msg.text, language, rate)
        if cached is not None:
            return cached
        first = (
            msg.seq == 0
            and self.first_clause_priority_ms > 0
            and not msg.response_id.startswith(NOT_GENERATED_IDS)
        )
        if not first:
            return await self._pcm(msg, language, rate)
        await self.bus.set_tts_priority(msg.session_id, self.first_clause_priority_ms)
        try:
            return await self._pcm(msg, language, rate)
        finally:
            await self.bus.clear_tts_priority(msg.session_id)

    async def _pcm(self, msg: ResponseText, language: str, rate: int) -> bytes:
        synthesis = await self.tts.synthesize(msg.text, language=language)
        pcm = float_to_pcm16(resample(synthesis.samples, synthesis.sample_rate, rate))
        for_session(log, msg.session_id).info(
            "response %s sentence %d: %.2f s of audio in %.0f ms",
            msg.response_id,
            msg.seq,
            synthesis.audio_s,
            synthesis.elapsed_s * 1000,
        )
        await self.phrases.store(msg.text, language, rate, pcm, synthesis.voice_id)
        return pcm

    async def _wait_turn(self, session_id: str, response_id: str, seq: int) -> None:
        """Waits until the previous sentences of the response are out (bounded)."""
        if seq == 0:
            return
        deadline = asyncio.get_running_loop().time() + self.turn_timeout_s
        while True:
            next_sentence, _ = await self.bus.turn_progress(session_id, response_id)
            if next_sentence >= seq:
                return
            if asyncio.get_running_loop().time() > deadline:
                for_session(log, session_id).warning(
                    "sentence %d waited %.0f s for the previous ones; going on",
                    seq,
                    self.turn_timeout_s,
                )
                return
            await asyncio.sleep(0.005)
