"""Fixtures: each vendor's fake server with the real SDK's provider pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from llm_worker.providers.anthropic import AnthropicProvider
from llm_worker.providers.base import LLMProvider, Timeouts
from llm_worker.providers.openai import OpenAIProvider
from llm_worker.testing import FakeAnthropicServer, FakeOpenAIServer
from llm_worker.testing._server import FakeServer

# Short but generous: these only bound the hang/timeout tests.
TIMEOUTS = Timeouts(first_event_s=0.5, idle_s=0.5, connect_s=0.5)


@dataclass
class Vendor:
    name: str
    server: FakeServer
    provider: LLMProvider

    def new_provider(self, *, max_retries: int = 1) -> LLMProvider:
        return make_provider(self.name, self.server, max_retries=max_retries)


def make_provider(name: str, server: FakeServer, *, max_retries: int = 1) -> LLMProvider:
    cls: type[AnthropicProvider] | type[OpenAIProvider]
    if name == "anthropic":
        cls, api_key, model, base_url = AnthropicProvider, "sk-ant-test", "claude-test", server.url
    else:
        assert isinstance(server, FakeOpenAIServer)
        cls, api_key, model, base_url = OpenAIProvider, "sk-test", "gpt-test", server.base_url
    return cls(
        api_key=api_key,
        model=model,
        base_url=base_url,
        timeouts=TIMEOUTS,
        max_retries=max_retries,
        retry_backoff_s=0.01,
    )


@pytest.fixture(params=["anthropic", "openai"])
async def vendor(request: pytest.FixtureRequest) -> AsyncIterator[Vendor]:
    server: FakeServer = (
        FakeAnthropicServer() if request.param == "anthropic" else FakeOpenAIServer()
    )
    await server.start()
    provider = make_provider(request.param, server)
    try:
        yield Vendor(request.param, server, provider)
    finally:
        await provider.aclose()
        await server.stop()
