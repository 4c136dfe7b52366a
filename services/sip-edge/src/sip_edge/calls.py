"""One call on the event loop: SIP events in, VAD and turn-taking, ASP events out.

:class:`CallSession` is the :class:`~sip_edge.sip.CallListener` of a call. It owns the call's
state machine, its VAD classifier, its :class:`~sip_edge.call.Turns` (segmenter + pacer +
barge-in guard) and its :class:`~sip_edge.bridge.SessionBridge`.

Where a turn's time went, as the edge sees it (histograms, and ``turn.timing`` events on the
session log): ``end_of_turn_ms``, from the caller's last voiced frame to the utterance
published on Redis (the VAD's closing silence and any Redis delay), and ``edge_e2e_ms``,
from the last voiced frame to the first frame of the answer handed to the media clock.

In ``model`` turn mode the segmenter asks, after a short pause, whether the caller finished
(:class:`~sip_edge.call.events.TurnCheck`): the end-of-turn model (shared by all calls, given by
the app) runs on the app's worker threads, so the event loop, and the media it moves, never
waits for it; its answer comes back to the loop as :meth:`Turns.on_turn_verdict`.

Speculative start (``SIP_EDGE_SPECULATIVE_PAUSE_MS``, ASP 1.2): at the caller's first pause
the utterance so far goes out with ``provisional: true`` and the pipeline starts on it;
speech after it publishes ``utterance.cancel`` (and ``response.cancel`` for the responses
already started on it), an end of turn with no speech since publishes ``utterance.confirm``
instead of a new utterance. The audio of a provisional turn's responses is held
(:class:`~sip_edge.call.SpeculativeTurn`) until it is confirmed, and then plays at once.

Every turn ends in speech (``SIP_EDGE_NO_ANSWER_S``): when the caller, owed an answer,
hears that long of silence (no answer came, or one stopped half-way because a stage died),
the open responses are cut (``response.cancel`` with reason ``no_audio``) and the edge plays
its own apology (``SIP_EDGE_APOLOGY_WAV``: a WAV rendered at set-up, so it needs neither the
TTS nor Redis); an answer that comes later still plays. A response the pipeline closes
(``response.cancel`` with reason ``superseded`` or ``failed``, or ``response.end`` with
``interrupted``) plays what arrived of it and lets the next one play.

Bounds per call: an utterance is cut at ``SIP_EDGE_MAX_UTTERANCE_S`` (and transcribed as
it is); at ``SIP_EDGE_MAX_CALL_S`` the edge plays its goodbye (``SIP_EDGE_GOODBYE_WAV``) and
hangs up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol, assert_never

from asp import AudioConfig, SessionStats, VADConfig
from asp.messages import (
    PROTOCOL_VERSION,
    AudioEnd,
    CallAction,
    CallActionKind,
    CallDtmf,
    Message,
    ResponseAudio,
    ResponseCancel,
    ResponseEnd,
    ResponseStart,
    SessionEnd,
    SessionEnded,
    SessionStart,
    SessionStarted,
    SessionUpdated,
    SpeechStart,
    Transcript,
    TurnTiming,
    Utterance,
    UtteranceCancel,
    UtteranceConfirm,
    now_iso,
)
from asp.provisional import CANCEL_REASON
from asp.session import BARGE_IN_REASON
from pipeline.bus import Bus
from pipeline.logs import for_session

from .bridge import SessionBridge
from .call import CallMachine, CallState, Pacer, SpeculativeTurn, Turns
from .call import events as ev
from .call.segmenter import Segmenter, SpeechClassifier, segmenter_params
from .media import CallControl, CallInfo
from .metrics import Metrics
from .settings import Settings
from .vad import close_classifier, make_classifier

__all__ = ["CallSession", "TurnModel", "wait_sessions_closed"]


class TurnModel(Protocol):
    """An end-of-turn model: the probability that the caller finished, from the PCM16
    audio of the turn so far. Called on worker threads, so it must be thread-safe."""

    def probability(self, pcm: bytes, sample_rate: int) -> float: ...


log = logging.getLogger(__name__)

CLOSING_REASONS = frozenset({"superseded", "failed"})
"""``response.cancel`` reasons that close a response (what arrived of it plays) instead of
cutting it: a retried turn superseded it, or a stage gave up on it."""
NO_AUDIO_REASON = "no_audio"
"""The ``response.cancel`` reason of the responses the no-answer watchdog cut."""
MAX_CALL_REASON = "max_call_duration"
GOODBYE_TAIL_S = 0.3
"""Silence after the goodbye before the hang-up (the last frames reach the caller)."""


class CallSession:
    def __init__(
        self,
        info: CallInfo,
        handle: CallControl,
        settings: Settings,
        metrics: Metrics,
        bus: Bus,
        on_done: Callable[[CallSession], None],
        *,
        apologies: dict[int, bytes] | None = None,
        turn_model: TurnModel | None = None,
        turn_executor: concurrent.futures.Executor | None = None,
        session_id: str | None = None,
        goodbyes: dict[int, bytes] | None = None,
    ) -> None:
        self.info = info
        self.handle = handle
        self.settings = settings
        self.metrics = metrics
        self.session_id = session_id or str(uuid.uuid4())
        self.log = for_session(log, self.session_id, str(info.call_ref))
        self.machine = CallMachine(self.log)
        self.machine.answer()
        self.vad = VADConfig()
        self.audio = AudioConfig()
        self.turns: Turns | None = None
        self.classifier: SpeechClassifier | None = None
        self._bus = bus
        self._on_done = on_done
        self.bridge: SessionBridge | None = None
        self._frames_in = 0  # the caller's 20 ms frames (session.ended's statistics)
        self._ended: SessionEnded | None = None
        self._utterances = 0
        self._answered_at = time.monotonic()
        self._turn_ended_at: float | None = None
        self._answer_started = False  # a confirmed provisional turn's answer already plays
        # utterance id -> (last voiced frame (monotonic), provisional utterances it cancelled)
        self._speech_ends: dict[str, tuple[float, int]] = {}
        self.speculative = SpeculativeTurn()
        self._answer_due: tuple[str, float] | None = None  # (utterance id, its speech end)
        self._played_any = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._greeted = False
        self._awaiting_first_audio: set[str] = set()
        self._silence = bytes(320)
        self._synced: tuple[int, ...] = (0, 0, 0, 0, 0)
        self.apologies: dict[int, bytes] = apologies or {}
        self.goodbyes: dict[int, bytes] = goodbyes or {}
        self._apologies_played = 0
        self._max_call: asyncio.TimerHandle | None = None
        self._closing: asyncio.Future[None] | None = None  # the goodbye, then the hang-up
        self._capped = 0
        self._last_turn: str | None = None  # the utterance whose answer the caller awaits
        self._unspoken: set[str] = set()
        """Responses announced (response.start) whose last audio chunk has not arrived."""
        self._deferred_action: asyncio.Future[None] | None = None
        # model mode needs the model and the threads that run it; without them, silence mode.
        usable = turn_model is not None and turn_executor is not None
        self._turn_model = turn_model if usable else None
        self._turn_executor = turn_executor
        params = settings.turn_params()
        self.turn_params = params if usable else dataclasses.replace(params, mode="silence")

    # --- SIP side (event loop) ------------------------------------------------------------

    def on_media(
        self,
        sample_rate: int,
        codec: str,
        vad: VADConfig | None = None,
        metadata: dict[str, Any] | None = None,
        classifier: SpeechClassifier | None = None,
    ) -> None:
        """The media is up: the session starts. ``vad`` (negotiated by an ASP client),
        ``metadata`` (merged over the call's own) and ``classifier`` (the VAD, built off
        the event loop) come from the WebSocket gateway."""
        if self.machine.state is not CallState.ANSWERING:
            return
        self._loop = asyncio.get_running_loop()
        if vad is not None:
            self.vad = vad
        self.audio = AudioConfig(sample_rate=sample_rate)
        self._silence = bytes(self.audio.frame_bytes)
        self.classifier = classifier or make_classifier(
            self.settings.vad, sample_rate, self.vad.threshold
        )
        pacer = Pacer(self.audio.frame_bytes, high_water_ms=self.settings.playback_high_water_ms)
        self.turns = Turns(
            self._segmenter(),
            pacer,
            self.settings.barge_in_min_ms,
            self.settings.echo_guard_db,
            self.settings.barge_in_onset_ms,
            self.settings.echo_guard_learn,
            no_answer_ms=round(self.settings.no_answer_s * 1000),
            barge_in_hold_ms=self.settings.barge_in_hold_ms,
        )
        if self.settings.max_call_s > 0:
            self._max_call = self._loop.call_later(self.settings.max_call_s, self._max_call_reached)
        self.machine.media_up()
        self.metrics.calls.inc()
        self.bridge = SessionBridge(
            self._bus,
            self.session_id,
            self.metrics,
            self._on_message,
            self._wants_more,
            self.log,
            on_undelivered=self._undelivered,
            on_written=self._written,
        )
        self.bridge.start(
            SessionStart(
                session_id=self.session_id,
                call_id=self.info.sip_call_id,
                audio=self.audio,
                vad=self.vad,
                metadata={
                    "caller_number": self.info.caller_number,
                    "sip_call_id": self.info.sip_call_id,
                    "language": self.settings.language,
                    "codec": codec,
                    "extension": self.settings.extension,
                    **(metadata or {}),
                },
                version=PROTOCOL_VERSION,
                timestamp=now_iso(),
            )
        )
        self.log.info("session started (%s Hz, %s)", sample_rate, codec)

    def _segmenter(self) -> Segmenter:
        max_ms = round(self.settings.max_utterance_s * 1000)
        return Segmenter(segmenter_params(self.vad, max_ms), self.turn_params)

    def on_frame(self, pcm: bytes) -> None:
        turns, classifier = self.turns, self.classifier
        if turns is None or classifier is None or not self.machine.is_live:
            return
        if self._closing is not None:  # the goodbye plays: the caller's turns are over
            return
        if len(pcm) != self.audio.frame_bytes:
            return
        self.metrics.frames_in.inc()
        self._frames_in += 1
        try:
            prob = classifier.probability(pcm)
        except Exception:
            self.log.exception("VAD failed on a frame; treating it as silence")
            prob = 0.0
        for event in turns.on_caller_frame(pcm, prob, classifier.deferred):
            self._act(event)
        if turns.segmenter.frame_index % 50 == 0:
            self._sync_stats()
            capped = turns.segmenter.capped  # a new segmenter (session.updated) starts at 0
            if capped > self._capped:
                self.metrics.capped_utterances.inc(capped - self._capped)
            self._capped = capped

    def _act(self, event: ev.Event) -> None:
        """What the session does for each event of the call's turn-taking (the table in
        :mod:`sip_edge.call.events`): the one place they become ASP messages."""
        bridge = self.bridge
        if bridge is None:
            return
        match event:
            case ev.SpeechStarted():
                self.metrics.vad_events.labels("speech_start").inc()
                bridge.publish(SpeechStart(session_id=self.session_id, timestamp=now_iso()))
            case ev.UtteranceReady() | ev.ProvisionalUtterance():
                self._publish_utterance(event)
            case ev.ProvisionalCancelled():
                self._cancel_provisional()
            case ev.ProvisionalConfirmed():
                self._confirm_provisional(event.silence_ms)
            case ev.SpeechEnded():
                self.metrics.vad_events.labels("end").inc()
                bridge.publish(
                    AudioEnd(
                        session_id=self.session_id,
                        duration_ms=event.duration_ms,
                        timestamp=now_iso(),
                    )
                )
                if not self._answer_started:  # else its first audio is already measured
                    self._turn_ended_at = time.monotonic()
                self._answer_started = False
            case ev.TurnCheck():
                self._check_turn(event)
            case ev.NoAnswer():
                self._no_answer(event)
            case ev.BargeIn():
                self.metrics.barge_ins.inc()
                self.log.info("barge-in: response %s cut", event.response_id)
                bridge.publish(
                    ResponseCancel(
                        session_id=self.session_id,
                        response_id=event.response_id,
                        reason=BARGE_IN_REASON,
                    )
                )
            case _:
                assert_never(event)

    def _publish_utterance(self, event: ev.UtteranceReady | ev.ProvisionalUtterance) -> None:
        bridge = self.bridge
        assert bridge is not None
        provisional = isinstance(event, ev.ProvisionalUtterance)
        self._utterances += 1
        self.metrics.vad_events.labels("provisional" if provisional else "utterance").inc()
        utterance_id = f"u{self._utterances}"
        if provisional:
            self.speculative.start(utterance_id)
            self.metrics.provisional_turns.labels("published").inc()
            cancelled = 0  # known when the turn ends
        else:
            cancelled = self.speculative.take_cancelled()
            self._last_turn = utterance_id
        self._speech_ends[utterance_id] = (time.monotonic() - event.silence_ms / 1000, cancelled)
        if len(self._speech_ends) > 32:  # utterances Redis never took (backlog dropped)
            del self._speech_ends[next(iter(self._speech_ends))]
        bridge.publish(
            Utterance(
                session_id=self.session_id,
                utterance_id=utterance_id,
                sample_rate=self.audio.sample_rate,
                encoding=self.audio.encoding,
                duration_ms=event.duration_ms,
                audio=event.audio,
                provisional=True if provisional else None,
            )
        )

    def _cancel_provisional(self) -> None:
        """The caller went on speaking: nothing of the provisional turn may be heard."""
        bridge, utterance_id = self.bridge, self.speculative.utterance_id
        if bridge is None or utterance_id is None:
            return
        self._speech_ends.pop(utterance_id, None)
        self.metrics.provisional_turns.labels("cancelled").inc()
        responses = self.speculative.cancel()
        bridge.publish(
            UtteranceCancel(
                session_id=self.session_id, utterance_id=utterance_id, reason="caller_resumed"
            )
        )
        for response_id in responses:
            self._unspoken.discard(response_id)
            bridge.publish(
                ResponseCancel(
                    session_id=self.session_id, response_id=response_id, reason=CANCEL_REASON
                )
            )

    def _confirm_provisional(self, silence_ms: int) -> None:
        """The turn ended with no speech since the provisional utterance: it is the turn,
        and what the pipeline already answered plays now."""
        bridge, utterance_id = self.bridge, self.speculative.utterance_id
        if bridge is None or utterance_id is None:
            return
        self.metrics.provisional_turns.labels("confirmed").inc()
        spoken_until = time.monotonic() - silence_ms / 1000
        self._last_turn = utterance_id
        self._speech_ends[utterance_id] = (spoken_until, self.speculative.take_cancelled())
        bridge.publish(UtteranceConfirm(session_id=self.session_id, utterance_id=utterance_id))
        held = self.speculative.confirm()
        if held:  # the answer starts at the end of the turn (turn_to_first_audio ~ 0)
            self._turn_ended_at = time.monotonic()
            self._answer_started = True
        for msg in held:
            self._play(msg)

    def _check_turn(self, check: ev.TurnCheck) -> None:
        """Runs the end-of-turn model on a worker thread; the verdict comes back on the loop.
        A check whose verdict can no longer matter by the time a thread is free (the caller
        spoke again, or the silence cap ended the turn) is skipped."""
        model, turns, executor = self._turn_model, self.turns, self._turn_executor
        if model is None or turns is None or executor is None:
            return
        rate = self.audio.sample_rate
        seconds = self.metrics.turn_model_seconds

        def run() -> float | None:
            if not turns.awaiting(check.check_id):
                return None
            started = time.perf_counter()
            probability = model.probability(check.audio, rate)
            seconds.observe(time.perf_counter() - started)
            return probability

        future = asyncio.get_running_loop().run_in_executor(executor, run)
        future.add_done_callback(lambda f: self._turn_verdict(check.check_id, f))

    def _turn_verdict(self, check_id: int, future: asyncio.Future[float | None]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self.metrics.turn_checks.labels("error").inc()
            self.log.warning("end-of-turn model failed (%s): the silence cap ends the turn", error)
            return
        probability = future.result()
        turns = self.turns
        if probability is None or turns is None or not self.machine.is_live:
            self.metrics.turn_checks.labels("stale").inc()
            return
        events = turns.on_turn_verdict(check_id, probability)
        if events:
            verdict = "complete"
        elif probability >= self.turn_params.threshold:
            verdict = "stale"
        else:
            verdict = "incomplete"
        self.metrics.turn_checks.labels(verdict).inc()
        self.log.debug("end of turn: p=%.3f (%s)", probability, verdict)
        for event in events:
            self._act(event)

    def on_dtmf(self, digit: str) -> None:
        if self.bridge is not None and self.machine.is_live:
            self.bridge.publish(CallDtmf(session_id=self.session_id, digit=digit))

    def on_transfer_result(self, ok: bool, status_code: int) -> None:
        self.log.info("transfer %s (%s)", "accepted" if ok else "failed", status_code)
        if ok:
            self.handle.hangup()
        elif self.machine.state is CallState.TRANSFERRING:
            self.machine.transfer_failed()

    def on_ended(self, reason: str, asp_reason: str = "call_hangup") -> None:
        """The call ended (``reason`` for the log); ``asp_reason`` goes in session.end."""
        if self.machine.state is CallState.ENDED:
            return
        if self._max_call is not None:
            self._max_call.cancel()
            self._max_call = None
        if self._closing is not None:
            self._closing.cancel()
        self.machine.hangup(reason)
        self._sync_stats()
        self.machine.ended()
        if self.classifier is not None:  # no frame is classified any more: its model is free
            close_classifier(self.classifier)
        self._on_done(self)
        if self.bridge is not None:
            bridge = self.bridge
            end = SessionEnd(session_id=self.session_id, reason=asp_reason, timestamp=now_iso())
            task = asyncio.ensure_future(bridge.close(end, ended=self.ended_message()))
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)
        self.log.info("call ended (%s)", reason)

    def ended_message(self) -> SessionEnded:
        """The session's ``session.ended`` (taken once: the same message wherever it goes)."""
        if self._ended is None:
            stats = self.bridge.stats if self.bridge is not None else SessionStats()
            received, sent = self._frame_counts()
            duration = time.monotonic() - self._answered_at
            self._ended = stats.ended(self.session_id, duration, received, sent)
        return self._ended

    def _frame_counts(self) -> tuple[int, int]:
        """(audio frames received, audio frames sent) for session.ended: 20 ms frames."""
        sent = self.turns.pacer.stats.frames_played if self.turns is not None else 0
        return self._frames_in, sent

    # --- media clock thread ---------------------------------------------------------------

    def next_playout_frame(self) -> bytes:
        turns = self.turns
        if turns is None:
            return self._silence
        frame = turns.next_playout_frame()
        if turns.pacer.started and self._loop is not None:  # a response's first frame
            now = time.monotonic()
            started = turns.take_started()
            with contextlib.suppress(RuntimeError):  # a closed loop: the process is ending
                self._loop.call_soon_threadsafe(self._first_frames_played, started, now)
        return frame

    # --- Redis side (event loop) ------------------------------------------------------------

    def _wants_more(self) -> bool:
        return self.turns.wants_more() if self.turns is not None else True

    def _on_message(self, msg: Message) -> None:
        turns = self.turns
        if turns is None:
            return
        if isinstance(msg, ResponseAudio):
            if not self.speculative.hold(msg):
                self._play(msg)
        elif isinstance(msg, ResponseStart):
            if self.speculative.answers(msg.response_id, msg.utterance_id):
                self._unspoken.add(msg.response_id)
        elif isinstance(msg, ResponseEnd):
            self._unspoken.discard(msg.response_id)
            if msg.interrupted:  # no more chunks: what arrived plays, then the next one
                turns.close(msg.response_id)
        elif isinstance(msg, ResponseCancel):
            self._unspoken.discard(msg.response_id)
            if msg.reason in CLOSING_REASONS:
                turns.close(msg.response_id)
            else:
                turns.cancel(msg.response_id)
        elif isinstance(msg, Transcript):
            if msg.utterance_id == self._last_turn and not msg.text.strip():
                turns.forgive()  # nothing was heard in it: the pipeline will not answer
        elif isinstance(msg, CallAction):
            self._call_action(msg)
        elif isinstance(msg, SessionStarted | SessionUpdated) and msg.negotiated is not None:
            self.vad = msg.negotiated.vad
            if not turns.segmenter.in_speech:
                turns.segmenter = self._segmenter()

    def _play(self, msg: ResponseAudio) -> bool:
        """Queues a chunk for playback; False when it was dropped (a cut response)."""
        turns = self.turns
        if turns is None:
            return False
        if msg.is_final:
            self._unspoken.discard(msg.response_id)
        if turns.push_audio(msg.response_id, msg.seq, msg.audio, msg.is_final):
            self._first_audio(msg.response_id)
            return True
        return False

    def _no_answer(self, event: ev.NoAnswer) -> None:
        """The caller heard ``SIP_EDGE_NO_ANSWER_S`` of silence while owed an answer: what is
        open is cut (a dead stage will not finish it) and the edge apologises itself."""
        bridge = self.bridge
        self.metrics.no_answers.inc()
        self.log.warning(
            "no answer audio for %.1f s (%s): playing the apology",
            event.silent_ms / 1000,
            f"cut {', '.join(event.cut)}" if event.cut else "nothing arrived",
        )
        for response_id in event.cut:
            self._unspoken.discard(response_id)
            if bridge is not None:
                bridge.publish(
                    ResponseCancel(
                        session_id=self.session_id, response_id=response_id, reason=NO_AUDIO_REASON
                    )
                )
        if not self._play_local(self.apologies):
            self.log.warning("SIP_EDGE_APOLOGY_WAV not loaded: the caller hears no apology")

    def _play_local(self, clips: dict[int, bytes]) -> bool:
        """Plays a clip of the edge's own (apology, goodbye) at the call's rate."""
        turns, clip = self.turns, clips.get(self.audio.sample_rate)
        if turns is None or not clip:
            return False
        self._apologies_played += 1
        turns.push_audio(f"local-{self._apologies_played}", 0, clip, True)
        return True

    def _max_call_reached(self) -> None:
        """``SIP_EDGE_MAX_CALL_S``: the agent stops, the caller hears the goodbye, the edge
        hangs up."""
        self._max_call = None
        turns = self.turns
        if not self.machine.is_live or turns is None or self._closing is not None:
            return
        self.metrics.max_call_hangups.inc()
        self.log.info("maximum call length (%.0f s) reached: goodbye", self.settings.max_call_s)
        for response_id in turns.cancel():
            if self.bridge is not None:
                self.bridge.publish(
                    ResponseCancel(
                        session_id=self.session_id, response_id=response_id, reason=MAX_CALL_REASON
                    )
                )
        clip = self.goodbyes.get(self.audio.sample_rate, b"")
        if not self._play_local(self.goodbyes):
            self.log.warning("SIP_EDGE_GOODBYE_WAV not loaded: hanging up without a goodbye")
        seconds = len(clip) / 2 / self.audio.sample_rate
        self._closing = asyncio.ensure_future(self._hang_up_after(seconds + GOODBYE_TAIL_S))

    async def _hang_up_after(self, seconds: float) -> None:
        """Hangs up once the goodbye played (``seconds`` at most, plus a margin)."""
        deadline = time.monotonic() + seconds + 2.0
        await asyncio.sleep(seconds)
        # polled: the pacer drains on the media clock thread, which sets no event
        while self._speech_pending() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self.machine.is_live:
            self.handle.hangup()

    def _undelivered(self, msg: Message) -> None:
        """Redis is down while the caller's turn waits to go out: apologise (the turn is
        kept and goes out when Redis is back)."""
        turns = self.turns
        if not isinstance(msg, Utterance) or turns is None:
            return
        if self._play_local(self.apologies):
            self.log.info("Redis unreachable: playing the apology")

    def _written(self, msg: Message) -> None:
        """An event reached Redis: an utterance (or the confirmation of a provisional one)
        ends its turn's first step."""
        if self.bridge is None:
            return
        if not isinstance(msg, Utterance | UtteranceConfirm):
            return
        if isinstance(msg, Utterance) and msg.provisional:
            return  # the turn ends with its confirmation, or goes on
        ended = self._speech_ends.pop(msg.utterance_id, None)
        if ended is None:
            return
        spoken_until, cancelled = ended
        seconds = max(0.0, time.monotonic() - spoken_until)
        self.metrics.end_of_turn.observe(seconds)
        self._answer_due = (msg.utterance_id, spoken_until)
        self.bridge.publish(
            TurnTiming(
                session_id=self.session_id,
                stage="edge",
                utterance_id=msg.utterance_id,
                end_of_turn_ms=round(seconds * 1000),
                provisional_cancelled=cancelled or None,
            )
        )

    def _first_frames_played(self, response_ids: list[str], at: float) -> None:
        """The first frame of each of these responses went to the media clock at ``at``.
        The first one after a published utterance is its answer (the call's very first
        response is the greeting)."""
        for response_id in response_ids:
            if not self._played_any:
                self._played_any = True
                continue
            if self._answer_due is None or self.bridge is None:
                continue
            (utterance_id, spoken_until), self._answer_due = self._answer_due, None
            seconds = max(0.0, at - spoken_until)
            self.metrics.speech_end_to_first_frame.observe(seconds)
            self.bridge.publish(
                TurnTiming(
                    session_id=self.session_id,
                    stage="edge",
                    utterance_id=utterance_id,
                    response_id=response_id,
                    edge_e2e_ms=round(seconds * 1000),
                )
            )

    def _first_audio(self, response_id: str) -> None:
        if response_id in self._awaiting_first_audio:
            return
        self._awaiting_first_audio.add(response_id)
        now = time.monotonic()
        if not self._greeted:
            self._greeted = True
            self.metrics.answer_to_greeting.observe(now - self._answered_at)
        elif self._turn_ended_at is not None:
            self.metrics.turn_to_first_audio.observe(now - self._turn_ended_at)
            self._turn_ended_at = None

    def _call_action(self, msg: CallAction) -> None:
        """DTMF goes out at once. A hang-up or a transfer waits until what the agent is
        saying has been heard (the goodbye, "vou transferir..."): the LLM publishes the
        action right after its words, before the TTS has voiced them. The wait ends when
        no announced response is left unvoiced or unplayed, or after
        ``SIP_EDGE_ACTION_WAIT_S`` (a TTS that never answers must not keep the call)."""
        if not self.machine.is_live:
            return
        if msg.action is CallActionKind.DTMF:
            if msg.digits:
                self.handle.send_dtmf(msg.digits)
            return
        if msg.action is CallActionKind.TRANSFER and not msg.target:
            return
        if self._speech_pending() and self.settings.action_wait_s > 0:
            self._deferred_action = asyncio.ensure_future(self._act_after_speech(msg))
        else:
            self._do_call_action(msg)

    def _speech_pending(self) -> bool:
        turns = self.turns
        return bool(self._unspoken) or (turns is not None and turns.pacer.playing)

    async def _act_after_speech(self, msg: CallAction) -> None:
        deadline = time.monotonic() + self.settings.action_wait_s
        # polled: the pacer drains on the media clock thread, which sets no event
        while self._speech_pending() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self._speech_pending():
            self.log.warning(
                "%s after %.0f s with the answer still unheard",
                msg.action.value,
                self.settings.action_wait_s,
            )
        if self.machine.is_live:
            self._do_call_action(msg)

    def _do_call_action(self, msg: CallAction) -> None:
        if msg.action is CallActionKind.HANGUP:
            self.log.info("pipeline asked to hang up")
            self.handle.hangup()
        elif msg.action is CallActionKind.TRANSFER and msg.target:
            self.log.info("pipeline asked for a blind transfer")
            self.machine.transfer()
            self.handle.transfer(msg.target)

    def _sync_stats(self) -> None:
        turns = self.turns
        if turns is None:
            return
        s = turns.pacer.stats
        now = (
            s.frames_played,
            s.underruns,
            s.late_chunks_dropped,
            turns.holds,
            turns.holds_resumed,
        )
        counters = (
            self.metrics.frames_out,
            self.metrics.underruns,
            self.metrics.late_chunks,
            self.metrics.holds,
            self.metrics.holds_resumed,
        )
        for counter, value, synced in zip(counters, now, self._synced, strict=True):
            counter.inc(value - synced)
        self._synced = now


_BACKGROUND: set[asyncio.Future[None]] = set()
"""The closing of ended sessions (their last events still being written to Redis)."""


async def wait_sessions_closed(within_s: float) -> bool:
    """Waits up to ``within_s`` seconds for every ended session to finish writing its last
    events; True when none is left."""
    pending = set(_BACKGROUND)
    if pending:
        await asyncio.wait(pending, timeout=within_s)
    return all(task.done() for task in pending)
