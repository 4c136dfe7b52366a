"""Provider registry, base-class behaviour and reply() with the in-process fake provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from llm_worker.errors import ConfigError, ProviderOverloaded, ProviderRejected
from llm_worker.events import ChatRequest, Done, Message, StreamEvent, TextDelta, ToolCall
from llm_worker.providers import PROVIDERS, create_provider
from llm_worker.providers.anthropic import AnthropicProvider
from llm_worker.providers.local import LocalProvider, default_model_path
from llm_worker.providers.openai import OpenAIProvider
from llm_worker.reply import ReplyAction, ReplySentence, ReplyTimings, reply
from llm_worker.settings import Settings
from llm_worker.testing import FakeProvider
from llm_worker.tools import CallAction
from prometheus_client import REGISTRY

REQ = ChatRequest(system="s", messages=(Message("user", "oi"),))


async def test_registry_resolves_auto() -> None:
    assert set(PROVIDERS) == {"anthropic", "openai", "local", "fake"}
    local = create_provider(Settings.from_env({}))
    assert isinstance(local, LocalProvider)
    assert local.model_path == str(default_model_path())
    claude = create_provider(Settings.from_env({"ANTHROPIC_API_KEY": "sk", "LLM_MODEL": "c-1"}))
    assert isinstance(claude, AnthropicProvider)
    assert claude.model == "c-1"
    await claude.aclose()
    oai = create_provider(
        Settings.from_env({"LLM_PROVIDER": "openai", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    )
    assert isinstance(oai, OpenAIProvider)
    assert oai.model == "gpt-4o-mini"
    await oai.aclose()
    assert isinstance(create_provider(Settings(provider="fake")), FakeProvider)


def test_explicit_anthropic_without_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        create_provider(Settings.from_env({"LLM_PROVIDER": "anthropic"}))


def test_retries_are_bounded() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        FakeProvider(max_retries=6)


async def test_missing_local_model_file_is_an_apology_not_a_crash(tmp_path: object) -> None:
    provider = LocalProvider(model_path="/nonexistent/model.gguf")
    out = [e async for e in reply(provider, REQ, apology="Desculpe.")]
    assert out == [ReplySentence(0, "Desculpe.", apology=True)]


async def test_reply_with_fake_provider() -> None:
    p = FakeProvider()
    p.push([TextDelta("Certo. "), TextDelta("Até logo!"), ToolCall("hang_up"), Done("tool_use")])
    t = ReplyTimings()
    out = [e async for e in reply(p, REQ, apology="Desculpe.", timings=t)]
    assert out == [
        ReplySentence(0, "Certo."),
        ReplySentence(1, "Até logo!"),
        ReplyAction(CallAction("hangup")),
    ]
    assert t.ttft_s is not None
    assert t.first_sentence_s is not None
    assert t.error is None
    assert p.requests == [REQ]
    assert p.metrics.counts["cancelled"] == 0
    assert p.metrics.counts["completed"] == 1


async def test_empty_answer_becomes_an_apology() -> None:
    p = FakeProvider()
    p.push([Done("end_turn")])
    t = ReplyTimings()
    out = [e async for e in reply(p, REQ, apology="Desculpe.", timings=t)]
    assert out == [ReplySentence(0, "Desculpe.", apology=True)]
    assert t.error == "empty"


async def test_error_after_text_drops_the_half_sentence_and_apologizes() -> None:
    class Breaks(FakeProvider):
        async def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
            yield TextDelta("Primeira frase. Segunda fra")
            raise ProviderOverloaded("boom", provider="fake")

    out = [e async for e in reply(Breaks(), REQ, apology="Desculpe.")]
    assert out == [ReplySentence(0, "Primeira frase."), ReplySentence(1, "Desculpe.", apology=True)]


async def test_non_retryable_error_is_not_retried() -> None:
    p = FakeProvider(max_retries=3)
    p.push(ProviderRejected("bad key", provider="fake", status=401))
    out = [e async for e in reply(p, REQ, apology="Desculpe.")]
    assert out == [ReplySentence(0, "Desculpe.", apology=True)]
    assert p.metrics.counts["attempt"] == 1


async def test_retryable_error_is_retried_up_to_the_bound() -> None:
    p = FakeProvider(max_retries=2, retry_backoff_s=0.001)
    for _ in range(5):
        p.push(ProviderOverloaded("busy", provider="fake"))
    out = [e async for e in reply(p, REQ, apology="Desculpe.")]
    assert out == [ReplySentence(0, "Desculpe.", apology=True)]
    assert p.metrics.counts["attempt"] == 3
    assert p.metrics.counts["retry"] == 2
    assert p.metrics.errors["ProviderOverloaded"] == 3


async def test_provider_counts_reach_prometheus() -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"provider": "fake", **labels}) or 0.0

    before = {
        "retry": sample("llm_provider_events_total", event="retry"),
        "completed": sample("llm_provider_events_total", event="completed"),
        "busy": sample("llm_provider_errors_total", error="ProviderOverloaded"),
        "first": sample("llm_provider_first_event_seconds_count"),
    }
    p = FakeProvider(max_retries=2, retry_backoff_s=0.001)
    p.push(ProviderOverloaded("busy", provider="fake"))
    p.push([TextDelta("Certo."), Done("end_turn")])
    assert [e async for e in reply(p, REQ, apology="Desculpe.")] == [ReplySentence(0, "Certo.")]
    assert sample("llm_provider_events_total", event="retry") == before["retry"] + 1
    assert sample("llm_provider_events_total", event="completed") == before["completed"] + 1
    assert sample("llm_provider_errors_total", error="ProviderOverloaded") == before["busy"] + 1
    assert sample("llm_provider_first_event_seconds_count") == before["first"] + 1


async def test_unexpected_exception_is_wrapped() -> None:
    class Buggy(FakeProvider):
        async def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
            raise KeyError("oops")
            yield TextDelta("never")

    out = [e async for e in reply(Buggy(), REQ, apology="Desculpe.")]
    assert out == [ReplySentence(0, "Desculpe.", apology=True)]


async def test_cancel_stops_a_slow_fake_and_runs_its_cleanup() -> None:
    closed = asyncio.Event()

    class Slow(FakeProvider):
        async def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
            try:
                for i in range(1000):
                    yield TextDelta(f"Frase {i}. ")
                    await asyncio.sleep(0.01)
            finally:
                closed.set()

    stream = Slow().stream(REQ)
    assert isinstance(await anext(stream), TextDelta)
    await stream.cancel()
    await stream.cancel()  # idempotent
    assert closed.is_set()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
