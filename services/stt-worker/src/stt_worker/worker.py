"""The STT stage: utterance (caller speech) -> transcript, on the ``stt-workers`` group.

The transcript goes out with a ``turn.timing`` event (``stt_ms``: from taking the utterance
to its transcript), in the same transaction.

A provisional utterance (speculative start, ASP 1.2) is transcribed at once, unless it is
already cancelled; its transcript is marked provisional, and is dropped if the utterance
was cancelled meanwhile. Time spent on an utterance that ends cancelled is counted as
wasted (``utterance.cancel``, ``asp_speculative_wasted_seconds``, ``turn.timing`` ``wasted_ms``).
"""

from __future__ import annotations

import logging
import time

from asp import Stage, Transcript, Utterance, UtteranceCancel
from asp import provisional as provisional_states
from pipeline import Bus, Job, StreamWorker, speculation
from pipeline.logs import for_session

from .errors import STTError
from .providers.base import STTProvider

log = logging.getLogger(__name__)


class STTWorker(StreamWorker):
    stage = Stage.STT

    def __init__(
        self, bus: Bus, consumer: str, provider: STTProvider, language: str = "pt", **kw: int
    ) -> None:
        super().__init__(bus, consumer, **kw)
        self.provider = provider
        self.language = language

    async def handle(self, job: Job) -> None:
        msg = job.msg
        if isinstance(msg, UtteranceCancel):
            await self.provisional_cancelled(msg)
            return
        if not isinstance(msg, Utterance):
            return
        started = time.perf_counter()
        lg = for_session(log, msg.session_id)
        if msg.provisional:
            fate = await speculation.state(self.bus.redis, msg.session_id, msg.utterance_id)
            if fate == provisional_states.CANCELLED:
                lg.info("provisional utterance %s already cancelled: skipped", msg.utterance_id)
                return
        if msg.encoding != "pcm_s16le":
            lg.warning("utterance %s in %s skipped: only pcm_s16le", msg.utterance_id, msg.encoding)
            return
        state = await self.bus.state(msg.session_id)
        language = state.get("language") or self.language
        try:
            result = await self.provider.transcribe(msg.audio, msg.sample_rate, language)
        except STTError as e:
            if getattr(e, "retryable", True):
                raise
            lg.warning("utterance %s cannot be transcribed: %s", msg.utterance_id, e)
            await self.give_up(job)
            return
        lg.info(
            "utterance %s: %.2f s of audio transcribed in %.0f ms (%d chars)",
            msg.utterance_id, result.audio_s, result.elapsed_s * 1000, len(result.text),
        )
        transcript = Transcript(
            session_id=msg.session_id,
            utterance_id=msg.utterance_id,
            text=result.text,
            language=result.language,
            confidence=1.0 if result.text else 0.0,
            provisional=msg.provisional or None,
        )
        spent = time.perf_counter() - started
        if msg.provisional and await self.spent_on_provisional(
            msg.session_id, msg.utterance_id, spent
        ):
            lg.info("provisional utterance %s cancelled: transcript dropped", msg.utterance_id)
            return
        timing = self.turn_timing(
            msg.session_id, {"stt": time.perf_counter() - started}, utterance_id=msg.utterance_id
        )
        await self.bus.publish_many([transcript, timing])
