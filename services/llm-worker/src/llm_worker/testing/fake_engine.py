"""The local provider with a fake llama.cpp engine: real threads, gate and cancellation,
scripted tokens at a fixed pace, no model (pipeline tests of the CPU-priority logic)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from llm_worker.events import ChatRequest
from llm_worker.providers.local import Engine, LocalProvider
from llm_worker.providers.prompt_cache import StateCache


class FakeEngineProvider(LocalProvider):
    """Each request generates ``tokens`` (text pieces), one per ``token_s``, in the
    provider's generation thread; :attr:`produced` records when each one was made
    (``time.monotonic``), so a test sees whether generation was held."""

    def __init__(self, tokens: list[str], *, token_s: float = 0.02, **kwargs: Any) -> None:
        super().__init__(model_path="fake.gguf", model="fake-engine", **kwargs)
        self.tokens = list(tokens)
        self.token_s = token_s
        self.produced: list[tuple[float, str]] = []
        self.requests: list[ChatRequest] = []
        self._fake = Engine(llm=None, lock=threading.Lock(), states=StateCache(0), render=None)

    def _engine(self) -> Engine:
        return self._fake

    def _completion(
        self, engine: Engine, messages: list[dict[str, str]], request: ChatRequest
    ) -> Iterator[Any]:
        self.requests.append(request)
        for i, text in enumerate(self.tokens[: request.max_tokens]):
            time.sleep(self.token_s)  # "computing" the token
            self.produced.append((time.monotonic(), text))
            last = i == len(self.tokens) - 1
            yield {
                "choices": [{"delta": {"content": text}, "finish_reason": "stop" if last else None}]
            }
        if len(self.tokens) > request.max_tokens:
            yield {"choices": [{"delta": {}, "finish_reason": "length"}]}
