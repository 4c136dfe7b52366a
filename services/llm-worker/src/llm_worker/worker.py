"""The LLM stage on the ``llm-workers`` group.

- ``session.start`` (of an accepted session: the bus opened it, its ``session.started``
  and state already written, see ``asp.session``): records the call's date and starts the
  greeting (response ``greeting``);
- ``transcript``: one reply, streamed sentence by sentence to the TTS stage as soon as each
  is complete and the guards passed it (in the pieces the splitter cut it into: the first
  words and clauses on their own, but never before their sentence is judged); tool calls become
  ``call.action``; a failing provider becomes an apology. While a local model generates,
  the reply is marked live (post-call work waits) and, once its first clause is handed
  over, the generation is held until the TTS has synthesized it (``priority``);
- ``response.cancel``: the reply stops at the next sentence (every replica sees the
  cancelled set) and the history keeps only what the caller heard;
- ``call.dtmf``: a key of the facts' menu transfers to its department (announced), any
  other key gets the spoken keypad menu; the history records the key and the answer;
- ``session.end``: the post-call job is enqueued (the edge ends the session itself, with
  its ``session.ended``);
- a provisional ``transcript`` (speculative start, ASP 1.2): the reply is generated and
  voiced at once (the edge holds its audio), but its call actions and its place in the
  history wait for ``utterance.confirm`` (``pipeline.speculation`` records it exactly once,
  whichever comes last); when the utterance is cancelled the generation stops at the next
  sentence (``response.cancel`` with the ``provisional_cancelled`` reason, which leaves the
  history alone) and the time spent is counted as wasted.

The persona's fixed phrases (greeting, apology, goodbye), the menu's and the pieces the
facts' fixed answers are cut into (``cached_answers``: the hours, FAQ, contacts and keypad
answers, cut by this worker's splitter, first pieces first) are registered for the TTS
phrase cache (``Bus.register_phrases``) when the worker connects, at each session start
(with that call's date: "hoje" and "amanhã") and at the first turn after the facts file was
reloaded, so they are spoken from Redis without synthesis. A fixed answer (the intent
step's, the hours', the FAQ's, the keypad's) goes to the TTS cut by the same splitter as a
model's reply, so its first clause is heard first; a fixed phrase in it is sent whole (the
cache's key is its text). A reply that hangs up without a word says the goodbye first.
Each reply appends a ``turn.timing`` event: time to the first token and to the first
clause (``llm_first_token_ms``, ``llm_first_clause_ms``).

Facts (``facts_store``): the system prompt is the persona's plus the operator's facts and
the call's date with that day's hours (``call_date``: taken at the call's start and kept in
the session state, so the prompt stays the same for the whole call); a
caller's plain request to be put through or to end the call is decided before the model
(``intent``), and so is a plain question about opening hours, answered from the facts'
hours (``hours``), an FAQ entry or a contact (``faq``), the company's address or phone
(``company``) or the price of the one service named (``prices``); a model's reply that
states a time, price or number the facts do not hold is replaced by "Não tenho essa
informação" and an offer to transfer (``grounding``), and the model's own transfers are
limited to the menu, with no spoken promise of a transfer that does not happen
(``action_guard``).

The conversation history lives in Redis (``asp:history:{<session>}``), so any replica can
take the next turn.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Unpack

from asp import (
    CallAction,
    CallDtmf,
    Message,
    ResponseCancel,
    ResponseStart,
    ResponseText,
    SessionEnd,
    SessionStart,
    Stage,
    Transcript,
    UtteranceCancel,
    UtteranceConfirm,
)
from asp import provisional as provisional_states
from asp.messages import CallActionKind
from pipeline import Bus, Job, StreamWorker
from pipeline.logs import for_session
from pipeline.worker import StreamWorkerOptions

from . import call_date
from .cached_answers import answer_pieces, fixed_answers
from .errors import HistoryError
from .events import ChatRequest
from .facts_store import FactsStore
from .grounding import checked_reply
from .history import History, heard_text
from .intent import plan_without_model
from .menu import Plan, menu_phrases, plan_for_digit
from .persona import Persona
from .priority import hold_for_first_clause
from .providers.base import Gate, LLMProvider
from .reply import ReplyAction, ReplySentence, ReplyTimings, reply
from .splitter import SentenceSplitter, split_known

log = logging.getLogger(__name__)

GREETING_ID = "greeting"
SUPERSEDED = "superseded"
"""The ``response.cancel`` reason of a response a retried turn replaces (the edge closes it:
what arrived plays, and it is not waited for)."""


def _response_id(utterance_id: str, deliveries: int) -> str:
    """The response of a turn's ``deliveries``-th attempt."""
    return f"r-{utterance_id}" + (f"-{deliveries}" if deliveries > 1 else "")


def _words(text: str) -> str:
    return " ".join(text.split())


def _has_reply(history: History, question: str, spoken: list[str]) -> bool:
    """Whether ``history`` holds ``question`` answered by ``spoken`` (as recorded: the
    sentences joined; a fixed answer is recorded by its sentences, published in pieces, so
    the comparison ignores spacing)."""
    reply, asked = _words(heard_text(spoken, None)), _words(question)
    if not reply:  # a reply without a word: recorded as the question alone
        return any(m.role == "user" and _words(m.content).endswith(asked) for m in history.messages)
    pairs = zip(history.messages, history.messages[1:], strict=False)
    return any(
        user.role == "user"
        and _words(user.content).endswith(asked)
        and answer.role == "assistant"
        and _words(answer.content) == reply
        for user, answer in pairs
    )


class LLMWorker(StreamWorker):
    stage = Stage.LLM

    def __init__(
        self,
        bus: Bus,
        consumer: str,
        provider: LLMProvider,
        persona: Persona,
        *,
        max_history_turns: int = 8,
        max_tokens: int = 200,
        temperature: float = 0.3,
        first_clause_min_chars: int = 12,
        first_words_min: int = 0,
        first_words_max: int = 6,
        clause_min_chars: int = 0,
        max_sentences: int = 0,
        tts_priority_max_wait_s: float = 0.0,
        live_turn_ttl_s: float = 120.0,
        after_call: Callable[[str], Awaitable[object]] | None = None,
        facts: FactsStore | None = None,
        today: Callable[[], dt.date] | None = None,
        **kw: Unpack[StreamWorkerOptions],
    ) -> None:
        super().__init__(bus, consumer, apology=persona.apology, **kw)
        self.provider = provider
        self.persona = persona
        self.max_history_turns = max_history_turns
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.first_clause_min_chars = first_clause_min_chars
        self.first_words_min = first_words_min
        self.first_words_max = first_words_max
        self.clause_min_chars = clause_min_chars
        self.max_sentences = max_sentences
        # Held generation only makes sense where the model runs on this machine's CPU.
        self.tts_priority_max_wait_s = (
            tts_priority_max_wait_s if provider.capabilities.local else 0.0
        )
        self.live_turn_ttl_s = live_turn_ttl_s
        self.after_call = after_call  # enqueues the post-call job (arq)
        self.facts = facts if facts is not None else FactsStore()  # packaged default facts
        # Today's date in the operator's time zone (the prompt's "Hoje é ..." line).
        self.today = today or call_date.today_in(call_date.time_zone(call_date.DEFAULT_TIMEZONE))
        self.held_s = 0.0  # total time generations were held for the TTS (tests, logs)
        # (facts version, date) -> the phrases to register; the key last registered
        self._phrases: tuple[tuple[int, dt.date], tuple[str, ...]] | None = None
        self._registered: tuple[int, dt.date] | None = None

    def splitter(self) -> SentenceSplitter:
        return SentenceSplitter(
            first_clause_min_chars=self.first_clause_min_chars,
            first_words_min=self.first_words_min,
            first_words_max=self.first_words_max,
            clause_min_chars=self.clause_min_chars,
        )

    @property
    def fixed_phrases(self) -> tuple[str, ...]:
        base = (self.persona.greeting, self.persona.apology, self.persona.goodbye)
        return base + menu_phrases(self.facts.current())

    def cache_phrases(self, day: dt.date | None = None) -> tuple[str, ...]:
        """Every phrase for the TTS phrase cache, the most important first: the fixed
        phrases, then the pieces of the facts' fixed answers on ``day`` (default today),
        exactly as :meth:`_perform` sends them (same splitter, same whole phrases)."""
        day = day or self.today()
        facts = self.facts.current()
        key = (self.facts.version, day)
        if self._phrases is None or self._phrases[0] != key:
            fixed = self.fixed_phrases
            pieces = answer_pieces(fixed_answers(facts, day), self.splitter, whole=fixed)
            self._phrases = (key, tuple(dict.fromkeys((*fixed, *pieces))))
        return self._phrases[1]

    async def register_phrases(self, day: dt.date | None = None) -> None:
        """Registers :meth:`cache_phrases` for the TTS phrase cache."""
        day = day or self.today()
        phrases = self.cache_phrases(day)
        await self.bus.register_phrases(self.persona.language, phrases)
        self._registered = (self.facts.version, day)

    async def on_ready(self) -> None:
        await self.register_phrases()

    def work_id(self, msg: Message) -> str | None:
        if isinstance(msg, SessionStart):
            return "session.start"
        if isinstance(msg, SessionEnd):
            return "session.end"
        if isinstance(msg, CallDtmf):
            return f"call.dtmf:{msg.timestamp}:{msg.digit}"
        return super().work_id(msg)

    async def handle(self, job: Job) -> None:
        msg = job.msg
        if isinstance(msg, SessionStart):
            await self._start(msg)
        elif isinstance(msg, Transcript):
            await self._turn(msg, job.deliveries)
        elif isinstance(msg, ResponseCancel):
            await self._cancelled(msg)
        elif isinstance(msg, UtteranceConfirm):
            await self._confirmed(msg)
        elif isinstance(msg, UtteranceCancel):
            await self.provisional_cancelled(msg)
        elif isinstance(msg, CallDtmf):
            await self._dtmf(msg, job.entry_id)
        elif isinstance(msg, SessionEnd) and self.after_call is not None:
            await self.after_call(msg.session_id)

    async def _start(self, msg: SessionStart) -> None:
        """The session is open (negotiated, its state written, active: the ingress's
        ``session.start`` did all of it): the LLM adds the call's date and greets."""
        day = self.today()
        # fixed for the whole call: its system prompt never changes mid-call
        await self.bus.set_state(msg.session_id, {call_date.STATE_KEY: day.isoformat()})
        # Kept registered while calls come in (the registry keeps the most recent ones),
        # with this call's "hoje" and "amanhã".
        await self.register_phrases(day)
        await self.bus.publish(
            ResponseStart(session_id=msg.session_id, response_id=GREETING_ID), stages=()
        )
        await self.bus.publish(
            ResponseText(
                session_id=msg.session_id,
                response_id=GREETING_ID,
                seq=0,
                text=self.persona.greeting,
                is_final=True,
            )
        )
        await self._save_history(
            msg.session_id, History(self.max_history_turns), [self.persona.greeting]
        )

    async def _turn(self, msg: Transcript, deliveries: int) -> None:
        lg = for_session(log, msg.session_id)
        if not msg.text.strip():
            return
        sid = msg.session_id
        started = time.perf_counter()
        # A provisional turn's call actions wait for its confirmation (None: act at once).
        deferred: list[dict[str, str | None]] | None = [] if msg.provisional else None
        if deferred is not None and await self._provisional_gone(sid, msg.utterance_id):
            lg.info("provisional utterance %s already cancelled: no reply", msg.utterance_id)
            return
        # A retried turn that an earlier attempt answered in full (its replica died before
        # acknowledging the entry) is not answered again: the caller would hear it twice.
        if deliveries > 1 and deferred is None and await self._answered(msg, deliveries):
            return
        # A retried turn is a new response: what a dead replica half-sent is superseded
        # (closed: the edge plays what arrived of it, then this one, never waiting for it).
        response_id = _response_id(msg.utterance_id, deliveries)
        await self._supersede(sid, msg.utterance_id, deliveries)
        history = await self._history(sid)
        facts = self.facts.current()
        last = history.messages[-1] if history.messages else None
        day = call_date.from_state(await self.bus.state(sid)) or self.today()
        if self._registered != (self.facts.version, day):
            await self.register_phrases(day)  # the facts were reloaded: their new answers
        plan = plan_without_model(
            msg.text,
            facts,
            goodbye=self.persona.goodbye,
            last_reply=last.content if last and last.role == "assistant" else "",
            today=day,
        )
        history.add_user(msg.text)
        if plan is not None:
            what = plan.action.action if plan.action else plan.kind
            lg.info("answered without the model (%s)", what)
            await self._perform(sid, response_id, plan, history, msg.utterance_id, deferred)
            if deferred is not None:
                await self._hold_reply(msg, started, history, deferred)
            return
        await self.bus.publish(
            ResponseStart(session_id=sid, response_id=response_id, utterance_id=msg.utterance_id),
            stages=(),
        )
        request = ChatRequest(
            system=self.facts.system_prompt(self.persona.system_prompt, day),
            messages=history.for_request(),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            conversation_id=sid,
            transfer_targets=facts.extensions,
        )
        spoken: list[str] = []
        cancelled = False
        seq = 0
        timings = ReplyTimings()
        gate = Gate()
        priority = self.tts_priority_max_wait_s > 0
        events = checked_reply(
            reply(
                self.provider,
                request,
                apology=self.persona.apology,
                splitter=self.splitter(),
                timings=timings,
                logger=lg,
                max_sentences=self.max_sentences,
                gate=gate,
            ),
            facts,
            question=msg.text,
            logger=lg,
        )
        await self.bus.begin_turn(sid, response_id, self.live_turn_ttl_s)
        try:
            async for event in events:
                if await self._stopped(sid, response_id, msg.utterance_id, deferred is not None):
                    cancelled = True
                    break
                if isinstance(event, ReplySentence):
                    spoken.append(event.text)
                    first = seq == 0 and priority and not event.apology
                    if first:
                        gate.close()  # at once: no token more before the wait starts
                    ttl_ms = max(1, int(self.tts_priority_max_wait_s * 1000))
                    if seq == 0:  # the first clause the guards let through goes to the TTS
                        timings.first_sentence = time.monotonic()
                    await self.bus.publish(
                        ResponseText(
                            session_id=sid,
                            response_id=response_id,
                            seq=seq,
                            text=event.text,
                            is_final=False,
                        ),
                        tts_priority_ms=ttl_ms if first else None,
                    )
                    seq += 1
                    if first:
                        held = await hold_for_first_clause(
                            self.bus, sid, gate, max_wait_s=self.tts_priority_max_wait_s
                        )
                        self.held_s += held
                        lg.debug("generation held %.0f ms for the first clause", held * 1000)
                elif isinstance(event, ReplyAction):
                    if event.action.action == "hangup" and not spoken:
                        # Hanging up without a word: the caller hears the (cached) goodbye.
                        spoken.append(self.persona.goodbye)
                        await self._say(sid, response_id, seq, self.persona.goodbye)
                        seq += 1
                    await self._act(sid, event.action.action, event.action.target, deferred)
        finally:
            gate.open()
            await events.aclose()  # stops the provider at once on cancel
            await self.bus.end_turn(sid, response_id)
        if not cancelled:
            await self.bus.publish(
                ResponseText(
                    session_id=sid, response_id=response_id, seq=seq, text="", is_final=True
                )
            )
        steps = {"llm_first_token": timings.ttft_s, "llm_first_clause": timings.first_sentence_s}
        measured = {k: v for k, v in steps.items() if v is not None}
        if measured:
            await self.bus.publish(
                self.turn_timing(
                    sid, measured, utterance_id=msg.utterance_id, response_id=response_id
                )
            )
        lg.info(
            "response %s: %d sentences%s",
            response_id,
            len(spoken),
            " (cancelled)" if cancelled else "",
        )
        if deferred is None:
            await self._save_history(sid, history, spoken, interrupted=cancelled)
        elif not cancelled:
            history.add_reply(spoken)
            await self._hold_reply(msg, started, history, deferred)
        else:  # cancelled: counted as wasted, never recorded
            await self.spent_on_provisional(sid, msg.utterance_id, time.perf_counter() - started)

    async def _answered(self, msg: Transcript, deliveries: int) -> bool:
        """True when an earlier delivery of this turn published its whole reply (every
        sentence and the reply's end, and it was not cancelled since): the replica that
        sent it died before acknowledging the entry. The history then gets that reply,
        from what was published, unless the dead replica had saved it already (it saves
        after the reply's end). A reply without its end (cut mid-way) or cancelled is not
        an answer: the turn is retried (:meth:`_supersede`). A provisional turn is not
        checked here (its reply is recorded at its confirmation, with its held actions)."""
        sid = msg.session_id
        earlier = [_response_id(msg.utterance_id, a) for a in range(1, deliveries)]
        sent: dict[str, list[ResponseText]] = {}
        for m in await self.bus.session_log(sid):
            if isinstance(m, ResponseText) and m.response_id in earlier:
                sent.setdefault(m.response_id, []).append(m)
        for response_id in reversed(earlier):
            texts = sorted(sent.get(response_id, []), key=lambda m: m.seq)
            if not any(m.is_final for m in texts):
                continue
            if await self.bus.is_cancelled(sid, response_id):
                continue
            lg = for_session(log, sid)
            lg.info(
                "turn %s answered already (response %s): acknowledged, not answered again",
                msg.utterance_id,
                response_id,
            )
            spoken = [m.text for m in texts if m.text.strip()]
            history = await self._history(sid)
            if not _has_reply(history, msg.text, spoken):
                lg.info("the history lacked response %s: recorded", response_id)
                history.add_user(msg.text)
                await self._save_history(sid, history, spoken)
            return True
        return False

    async def _supersede(self, sid: str, utterance_id: str, deliveries: int) -> None:
        """Closes the responses earlier deliveries of this turn started (a replica died
        in the middle of one): ``response.cancel`` with reason ``superseded``."""
        for attempt in range(1, deliveries):
            await self.bus.publish(
                ResponseCancel(
                    session_id=sid,
                    response_id=_response_id(utterance_id, attempt),
                    reason=SUPERSEDED,
                )
            )

    async def give_up(self, job: Job) -> None:
        """A turn that failed every delivery: its half-sent responses are closed, then the
        caller hears the apology."""
        msg = job.msg
        if isinstance(msg, Transcript) and not msg.provisional:
            await self._supersede(msg.session_id, msg.utterance_id, job.deliveries)
        await super().give_up(job)

    async def _stopped(
        self, sid: str, response_id: str, utterance_id: str, provisional: bool
    ) -> bool:
        """True when the reply must stop: cancelled (barge-in), or the provisional
        utterance it answers was cancelled (then the response is cancelled too, so the TTS
        drops what it has not voiced)."""
        if await self.bus.is_cancelled(sid, response_id):
            return True
        if provisional and await self._provisional_gone(sid, utterance_id):
            await self.bus.publish(
                ResponseCancel(
                    session_id=sid,
                    response_id=response_id,
                    reason=provisional_states.CANCEL_REASON,
                )
            )
            return True
        return False

    async def _provisional_gone(self, sid: str, utterance_id: str) -> bool:
        state = await self.bus.provisional_state(sid, utterance_id)
        return state == provisional_states.CANCELLED

    async def _hold_reply(
        self,
        msg: Transcript,
        started: float,
        history: History,
        actions: list[dict[str, str | None]],
    ) -> None:
        """A provisional turn's reply is complete: recorded now if the turn is already
        confirmed (its held call actions taken), else kept for the confirmation."""
        sid, utterance_id = msg.session_id, msg.utterance_id
        if await self.spent_on_provisional(sid, utterance_id, time.perf_counter() - started):
            return  # cancelled while the reply was completed: never recorded
        recorded = await self.bus.record_reply(sid, utterance_id, history.to_json(), list(actions))
        if recorded is not None:
            await self._take_actions(sid, recorded)

    async def _confirmed(self, msg: UtteranceConfirm) -> None:
        """The provisional turn is the caller's turn: its reply, if complete, is recorded
        now, once, and its held call actions are taken."""
        state = await self.bus.provisional_state(msg.session_id, msg.utterance_id)
        if self.rejected(msg, state):
            return
        recorded = await self.bus.record_if_confirmed(msg.session_id, msg.utterance_id)
        if recorded is not None:
            await self._take_actions(msg.session_id, recorded)

    async def _take_actions(self, sid: str, actions: list[dict[str, str | None]]) -> None:
        for action in actions:
            name = action.get("action")
            if name in {kind.value for kind in CallActionKind}:
                await self._act(sid, str(name), action.get("target"), None)

    async def _act(
        self,
        sid: str,
        action: str,
        target: str | None,
        deferred: list[dict[str, str | None]] | None,
    ) -> None:
        """Publishes a call action, or defers it (``deferred``) for a provisional turn. A
        transfer outside AGENT_TRANSFER_ALLOWLIST is never published, whoever asked."""
        if action == CallActionKind.TRANSFER.value and not self.facts.transfer_allowed(
            target or ""
        ):
            for_session(log, sid).warning(
                "transfer to %r refused: not in AGENT_TRANSFER_ALLOWLIST", target
            )
            return
        if deferred is not None:
            deferred.append({"action": action, "target": target})
            return
        await self.bus.publish(
            CallAction(session_id=sid, action=CallActionKind(action), target=target)
        )

    async def _perform(
        self,
        sid: str,
        response_id: str,
        plan: Plan,
        history: History,
        utterance_id: str | None = None,
        deferred: list[dict[str, str | None]] | None = None,
    ) -> None:
        """Speaks a fixed answer (no model), cut into sentences and a first clause by the
        reply's splitter, then its call action; records it (for a
        provisional turn, ``deferred`` gets the action and the reply joins ``history``
        only: the caller records it once confirmed)."""
        await self.bus.publish(
            ResponseStart(session_id=sid, response_id=response_id, utterance_id=utterance_id),
            stages=(),
        )
        # Cut like a streamed reply (the first clause is synthesized and heard first); the
        # phrases of the TTS phrase cache stay whole, so they are still served from Redis.
        pieces = split_known(plan.sentences, self.splitter(), whole=self.fixed_phrases)
        for seq, text in enumerate(pieces):
            await self._say(sid, response_id, seq, text)
        if plan.action is not None:
            await self._act(sid, plan.action.action, plan.action.target, deferred)
        await self.bus.publish(
            ResponseText(
                session_id=sid,
                response_id=response_id,
                seq=len(pieces),
                text="",
                is_final=True,
            )
        )
        if deferred is None:
            await self._save_history(sid, history, list(plan.sentences))
        else:
            history.add_reply(list(plan.sentences))

    async def _dtmf(self, msg: CallDtmf, entry_id: str) -> None:
        """A key pressed during the call: the menu's transfer, or the spoken keypad menu."""
        plan = plan_for_digit(self.facts.current(), msg.digit)
        for_session(log, msg.session_id).info(
            "key %s: %s", msg.digit, f"transfer to {plan.entry.extension}" if plan.entry else "menu"
        )
        history = await self._history(msg.session_id)
        history.add_user(f"(O chamador apertou a tecla {msg.digit} no telefone.)")
        await self._perform(msg.session_id, f"dtmf-{entry_id}", plan, history)

    async def _say(self, session_id: str, response_id: str, seq: int, text: str) -> None:
        await self.bus.publish(
            ResponseText(
                session_id=session_id, response_id=response_id, seq=seq, text=text, is_final=False
            )
        )

    async def _cancelled(self, msg: ResponseCancel) -> None:
        """Barge-in: the last answer was cut; keep only its first sentence, marked as cut.
        (A response to a cancelled provisional utterance was never heard nor recorded.)"""
        if msg.reason in (provisional_states.CANCEL_REASON, SUPERSEDED):
            return
        history = await self._history(msg.session_id)
        if history.messages and history.messages[-1].role == "assistant":
            last = history.messages.pop()
            first = last.content.split(". ")[0].rstrip(".…")
            history.add_reply([first], played=1, interrupted=True)
            await self._store(msg.session_id, history)

    async def _history(self, session_id: str) -> History:
        raw = await self.bus.history(session_id)
        if raw is None:
            return History(self.max_history_turns)
        try:
            return History.from_json(raw, max_turns=self.max_history_turns)
        except HistoryError as e:
            for_session(log, session_id).warning("history discarded: %s", e)
            return History(self.max_history_turns)

    async def _save_history(
        self, session_id: str, history: History, spoken: list[str], *, interrupted: bool = False
    ) -> None:
        history.add_reply(spoken, interrupted=interrupted)
        await self._store(session_id, history)

    async def _store(self, session_id: str, history: History) -> None:
        await self.bus.save_history(session_id, history.to_json())
