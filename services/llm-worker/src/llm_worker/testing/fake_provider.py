"""An in-process provider that replays scripted events with no I/O (pipeline tests)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from typing import Any, ClassVar

from llm_worker.errors import ProviderError
from llm_worker.events import ChatRequest, Done, StreamEvent, TextDelta
from llm_worker.providers.base import LLMProvider, Timeouts


class FakeProvider(LLMProvider):
    """Each request replays the next script: a list of events or a ProviderError to raise.

    With no script queued it answers ``default_text``. ``delay_s`` sleeps before each event.
    """

    name: ClassVar[str] = "fake"

    def __init__(
        self,
        *,
        default_text: str = "Olá! Em que posso ajudar?",
        delay_s: float = 0.0,
        word_deltas: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("timeouts", Timeouts(first_event_s=5.0, idle_s=5.0))
        kwargs.setdefault("max_retries", 0)
        super().__init__(model="fake", **kwargs)
        self.default_text = default_text
        self.delay_s = delay_s
        self.word_deltas = word_deltas  # the default answer streams one word per event
        self.scripts: deque[list[StreamEvent] | ProviderError] = deque()
        self.requests: list[ChatRequest] = []

    def push(self, script: Iterable[StreamEvent] | ProviderError) -> None:
        self.scripts.append(script if isinstance(script, ProviderError) else list(script))

    def _default_deltas(self) -> list[StreamEvent]:
        if not self.word_deltas:
            return [TextDelta(self.default_text)]
        words = self.default_text.split(" ")
        return [TextDelta(w + (" " if i < len(words) - 1 else "")) for i, w in enumerate(words)]

    async def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        self.requests.append(request)
        script: list[StreamEvent] | ProviderError = (
            self.scripts.popleft() if self.scripts else [*self._default_deltas(), Done("end_turn")]
        )
        if isinstance(script, ProviderError):
            raise script
        for event in script:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield event
