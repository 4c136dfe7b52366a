"""The TTS stage on the ``tts-workers`` group: response.text -> response.audio.

Each sentence is synthesized as soon as it arrives (replicas synthesize a response's
sentences in parallel), resampled once to the session's rate and cut into 20 ms-aligned
chunks. Publication is ordered per response through ``asp:turn:{session}:{response}``
(next sentence, next chunk seq): a replica publishes a sentence only when it is that
sentence's turn, so the caller hears the sentences in order and chunk seqs are contiguous.
A redone sentence (a replica died mid-way) reuses the same seqs, so the edge can drop
duplicates. A cancelled response stops within one chunk: the cancelled set is read
before each publication (``group_chunks`` chunks, one by default).
Fixed phrases (greeting, apologies) are cached in Redis by (text, voice, rate).

While it synthesizes a response's first clause (seq 0) the worker holds the session's
TTS-priority flag (``first_clause_priority_ms``, renewed at the start, cleared when the
audio is ready): a local LLM generating the rest of that reply waits meanwhile, so on a
small host the first words get the CPU.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asp import ResponseAudio, ResponseCancel, ResponseEnd, ResponseText, Stage
from asp import streams as layout
from pipeline import Bus, Job, StreamWorker
from pipeline.logs import for_session

from .audio import chunk_pcm, float_to_pcm16, resample
from .cache import phrase_cache_key
from .router import TTSRouter

log = logging.getLogger(__name__)

FIXED_PHRASE_IDS = ("greeting", "apology")
PHRASE_TTL_S = 7 * 24 * 3600
TURN_TTL_S = 3600


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
        first_clause_priority_ms: int = 0,
        **kw: int,
    ) -> None:
        super().__init__(bus, consumer, **kw)
        self.first_clause_priority_ms = first_clause_priority_ms
        self.tts = tts
        self.language = language
        self.sample_rate = sample_rate
        self.chunk_ms = chunk_ms
        self.group_chunks = group_chunks
        self.turn_timeout_s = turn_timeout_s

    async def handle(self, job: Job) -> None:
        msg = job.msg
        if isinstance(msg, ResponseCancel):
            await self.bus.publish(
                ResponseEnd(session_id=msg.session_id, response_id=msg.response_id,
                            interrupted=True),
                stages=(),
            )
            return
        if not isinstance(msg, ResponseText):
            return
        sid, rid = msg.session_id, msg.response_id
        if await self.bus.is_cancelled(sid, rid):
            return
        state = await self.bus.state(sid)
        rate = int(state.get("sample_rate") or self.sample_rate)
        language = state.get("language") or self.language
        pcm = await self._synthesize(msg, language, rate) if msg.text.strip() else b""
        chunks = [c.pcm for c in chunk_pcm(pcm, rate, chunk_ms=self.chunk_ms)]
        turn = layout.turn_key(sid, rid)
        await self._wait_turn(turn, msg.seq, sid)
        raw = await self.bus.redis.hget(turn, "next_chunk")
        base = int(raw or 0)
        if not chunks and msg.is_final:
            chunks = [b""]  # the end of the response still needs its final chunk
        advance: list[tuple[Any, ...]] = [
            ("hset", turn, "next_chunk", base + len(chunks)),
            ("hset", turn, "next_sentence", msg.seq + 1),
            ("expire", turn, TURN_TTL_S),
        ]
        for start in range(0, max(len(chunks), 1), self.group_chunks):
            if start and await self.bus.is_cancelled(sid, rid):
                await self.bus.redis.hset(turn, "next_sentence", msg.seq + 1)
                return
            group = chunks[start : start + self.group_chunks]
            last_group = start + self.group_chunks >= len(chunks)
            audio = [
                ResponseAudio(
                    session_id=sid,
                    response_id=rid,
                    seq=base + start + i,
                    audio=c,
                    is_final=msg.is_final and last_group and i == len(group) - 1,
                )
                for i, c in enumerate(group)
            ]
            await self.bus.publish_many(audio, advance if last_group else ())
        if msg.is_final:
            await self.bus.publish(
                ResponseEnd(session_id=sid, response_id=rid, interrupted=False), stages=()
            )

    async def _synthesize(self, msg: ResponseText, language: str, rate: int) -> bytes:
        """The sentence's PCM; a reply's first clause under the session's priority flag."""
        first = (
            msg.seq == 0
            and self.first_clause_priority_ms > 0
            and not msg.response_id.startswith(FIXED_PHRASE_IDS)
        )
        if not first:
            return await self._pcm(msg, language, rate)
        await self.bus.set_tts_priority(msg.session_id, self.first_clause_priority_ms)
        try:
            return await self._pcm(msg, language, rate)
        finally:
            await self.bus.clear_tts_priority(msg.session_id)

    async def _pcm(self, msg: ResponseText, language: str, rate: int) -> bytes:
        fixed = msg.response_id.startswith(FIXED_PHRASE_IDS)
        key = None
        if fixed:
            voice = self.tts.voice_id(language)
            key = phrase_cache_key(msg.text, voice, rate, prefix=layout.cache_key("tts", "v1"))
            cached = await self.bus.redis.get(key)
            if cached is not None:
                return bytes(cached)
        synthesis = await self.tts.synthesize(msg.text, language=language)
        pcm = float_to_pcm16(resample(synthesis.samples, synthesis.sample_rate, rate))
        for_session(log, msg.session_id).info(
            "response %s sentence %d: %.2f s of audio in %.0f ms", msg.response_id, msg.seq,
            synthesis.audio_s, synthesis.elapsed_s * 1000,
        )
        if key is not None:
            await self.bus.redis.set(key, pcm, ex=PHRASE_TTL_S)
        return pcm

    async def _wait_turn(self, turn: str, seq: int, session_id: str) -> None:
        """Waits until the previous sentences of the response are out (bounded)."""
        if seq == 0:
            return
        deadline = asyncio.get_running_loop().time() + self.turn_timeout_s
        while True:
            raw = await self.bus.redis.hget(turn, "next_sentence")
            if int(raw or 0) >= seq:
                return
            if asyncio.get_running_loop().time() > deadline:
                for_session(log, session_id).warning(
                    "sentence %d waited %.0f s for the previous ones; going on", seq,
                    self.turn_timeout_s,
                )
                return
            await asyncio.sleep(0.005)
