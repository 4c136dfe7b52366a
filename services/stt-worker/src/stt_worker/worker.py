"""The STT stage: utterance (caller speech) -> transcript, on the ``stt-workers`` group.

The transcript goes out with a ``turn.timing`` event (``stt_ms``: from taking the utterance
to its transcript), in the same transaction.

A provisional utterance (speculative start, ASP 1.2) is transcribed at once, unless it is
already cancelled; its transcript is marked provisional, and is dropped if the utterance
was cancelled meanwhile. Time spent on an utterance that ends cancelled is counted as
wasted (``utterance.cancel``, ``asp_speculative_wasted_seconds``, ``turn.timing`` ``wasted_ms``).

While its transcription waits for the engine (one utterance at a time per replica), a
provisional utterance that gets cancelled (the ``utterance.cancel`` taken here, or its
state in Redis, read every ``CANCEL_POLL_S``, when another replica took the cancel) never
reaches the engine. Once Whisper runs, it runs to the end of its window (see
providers/faster_whisper.py) and the transcript is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Unpack

from asp import Stage, Transcript, Utterance, UtteranceCancel
from asp import provisional as provisional_states
from pipeline import Bus, Job, StreamWorker
from pipeline.logs import for_session
from pipeline.worker import StreamWorkerOptions

from .errors import EngineError, TranscriptionCancelled
from .providers.base import STTProvider

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.1  # how often a waiting provisional job reads its state in Redis


class STTWorker(StreamWorker):
    stage = Stage.STT

    def __init__(
        self,
        bus: Bus,
        consumer: str,
        provider: STTProvider,
        language: str = "pt",
        **kw: Unpack[StreamWorkerOptions],
    ) -> None:
        super().__init__(bus, consumer, **kw)
        self.provider = provider
        self.language = language
        # (session, utterance) -> set when that provisional utterance is cancelled
        self._cancels: dict[tuple[str, str], threading.Event] = {}

    async def handle(self, job: Job) -> None:
        msg = job.msg
        if isinstance(msg, UtteranceCancel):
            event = self._cancels.get((msg.session_id, msg.utterance_id))
            if event is not None:
                event.set()
            await self.provisional_cancelled(msg)
            return
        if not isinstance(msg, Utterance):
            return
        started = time.perf_counter()
        lg = for_session(log, msg.session_id)
        if msg.provisional:
            fate = await self.bus.provisional_state(msg.session_id, msg.utterance_id)
            if fate == provisional_states.CANCELLED:
                lg.info("provisional utterance %s already cancelled: skipped", msg.utterance_id)
                return
        if msg.encoding != "pcm_s16le":
            lg.warning("utterance %s in %s skipped: only pcm_s16le", msg.utterance_id, msg.encoding)
            return
        state = await self.bus.state(msg.session_id)
        language = state.get("language") or self.language
        key = (msg.session_id, msg.utterance_id)
        cancel = threading.Event() if msg.provisional else None
        watch = None
        if cancel is not None:
            self._cancels[key] = cancel
            watch = asyncio.create_task(self._watch_cancel(msg, cancel))
        try:
            result = await self.provider.transcribe(
                msg.audio, msg.sample_rate, language, cancel=cancel
            )
        except TranscriptionCancelled as e:
            lg.info("provisional utterance %s cancelled: %s", msg.utterance_id, e)
            if e.engine_ran:  # the windows it decoded were wasted work
                await self.spent_on_provisional(
                    msg.session_id, msg.utterance_id, time.perf_counter() - started
                )
            return
        except EngineError as e:
            if getattr(e, "retryable", True):
                raise
            lg.warning("utterance %s cannot be transcribed: %s", msg.utterance_id, e)
            await self.give_up(job)
            return
        finally:
            if cancel is not None:
                self._cancels.pop(key, None)
            if watch is not None:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
        lg.info(
            "utterance %s: %.2f s of audio transcribed in %.0f ms (%d chars)",
            msg.utterance_id,
            result.audio_s,
            result.elapsed_s * 1000,
            len(result.text),
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

    async def _watch_cancel(self, msg: Utterance, cancel: threading.Event) -> None:
        """Sets ``cancel`` once the utterance is cancelled in Redis (a cancel that another
        replica took); runs while the transcription waits or runs."""
        while not cancel.is_set():
            await asyncio.sleep(CANCEL_POLL_S)
            fate = await self.bus.provisional_state(msg.session_id, msg.utterance_id)
            if fate == provisional_states.CANCELLED:
                cancel.set()
