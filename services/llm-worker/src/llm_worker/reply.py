"""One reply: provider stream -> ordered sentences (+ call actions), never silence.

:func:`reply` is what the worker loop calls per caller turn. It feeds the provider's text
deltas to the :class:`~llm_worker.splitter.SentenceSplitter` and yields each
:class:`ReplySentence` as soon as it is complete (the first may be a clause), then the
:class:`ReplyAction` for any tool call, mapped to a :class:`~llm_worker.tools.CallAction`.

When the provider fails (after its bounded retries), times out, answers garbage, or says
nothing at all, the caller hears the persona's apology: a final ReplySentence with
``apology=True``. A half-received sentence is dropped rather than spoken cut off.

A phone answer is short: with ``max_sentences`` the reply ends after that many whole
sentences (a tool call right after them still counts; if the model goes on talking its
stream is stopped, which frees the CPU). A reply cut by the token limit ends on its last
whole sentence: the unfinished rest is not spoken (unless nothing else was).

Cancelling (closing the generator, or cancelling the task that iterates it) cancels the
provider stream at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from llm_worker.errors import ProviderError, ToolArgumentError
from llm_worker.events import ChatRequest, Done, TextDelta, ToolCall
from llm_worker.providers.base import Gate, LLMProvider
from llm_worker.splitter import SentenceSplitter, ends_sentence
from llm_worker.tools import CallAction, to_call_action

log = logging.getLogger(__name__)

# Stop reasons of a reply cut by the token limit (OpenAI/llama.cpp, Anthropic).
TRUNCATED = frozenset({"length", "max_tokens"})


@dataclass(frozen=True, slots=True)
class ReplySentence:
    index: int
    text: str
    apology: bool = False


@dataclass(frozen=True, slots=True)
class ReplyAction:
    action: CallAction


ReplyEvent = ReplySentence | ReplyAction


@dataclass
class ReplyTimings:
    """Monotonic timestamps (time.monotonic) of one reply, for per-stage metrics."""

    started: float = 0.0
    first_token: float | None = None
    first_sentence: float | None = None
    finished: float | None = None
    error: str | None = None

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started

    @property
    def first_sentence_s(self) -> float | None:
        return None if self.first_sentence is None else self.first_sentence - self.started


async def reply(
    provider: LLMProvider,
    request: ChatRequest,
    *,
    apology: str,
    splitter: SentenceSplitter | None = None,
    timings: ReplyTimings | None = None,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    max_sentences: int = 0,
    gate: Gate | None = None,
) -> AsyncGenerator[ReplyEvent, None]:
    """Streams one reply; see the module docstring. ``max_sentences`` 0: no cap;
    ``gate`` lets the caller hold a local generation between tokens."""
    lg = logger or log
    t = timings if timings is not None else ReplyTimings()
    t.started = time.monotonic()
    split = splitter or SentenceSplitter()
    index = 0
    sentences = 0
    capped = False
    stop_reason = ""
    actions: list[CallAction] = []
    failed = False

    def sentence(text: str, *, apology_: bool = False) -> ReplySentence:
        nonlocal index
        if t.first_sentence is None:
            t.first_sentence = time.monotonic()
        s = ReplySentence(index=index, text=text, apology=apology_)
        index += 1
        return s

    try:
        async with provider.stream(request, gate=gate) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    if t.first_token is None:
                        t.first_token = time.monotonic()
                    pieces = split.feed(event.text)
                    if capped and pieces:
                        lg.info("reply capped at %d sentences", sentences)
                        break  # it goes on talking: no tool call is coming right now
                    for text in pieces:
                        yield sentence(text)
                        if ends_sentence(text):
                            sentences += 1
                            if max_sentences and sentences >= max_sentences:
                                capped = True
                                break
                elif isinstance(event, ToolCall):
                    if t.first_token is None:
                        t.first_token = time.monotonic()
                    try:
                        actions.append(to_call_action(event))
                    except ToolArgumentError as e:
                        lg.warning("ignoring tool call: %s", e)
                        failed = True
                elif isinstance(event, Done):
                    stop_reason = event.stop_reason
                    break
        rest = [] if capped else split.flush()
        if rest and stop_reason in TRUNCATED and index > 0 and not ends_sentence(rest[-1]):
            lg.info("reply hit the token limit: its unfinished last sentence is not spoken")
            rest.pop()
        for text in rest:
            yield sentence(text)
    except ProviderError as e:
        t.error = type(e).__name__
        lg.warning("LLM provider failed (%s, retryable=%s): %s", t.error, e.retryable, e)
        failed = True
    if failed or (index == 0 and not actions):
        if not failed:
            t.error = "empty"
            lg.warning("LLM provider answered nothing")
        yield sentence(apology, apology_=True)
    else:
        for action in actions:
            yield ReplyAction(action)
    t.finished = time.monotonic()
