"""Provider registry: from LLM_PROVIDER's name to a factory.

Factories import their vendor module lazily, so a missing optional SDK only matters when
that provider is chosen (and then fails with an install hint).
"""

from __future__ import annotations

import os

from pipeline.envparse import Registry

from llm_worker.errors import ConfigError
from llm_worker.providers.base import (
    Capabilities,
    LLMProvider,
    LLMStream,
    ProviderMetrics,
    Timeouts,
)
from llm_worker.providers.sdk import SDKProvider
from llm_worker.settings import Settings


def _timeouts(s: Settings) -> Timeouts:
    return Timeouts(first_event_s=s.timeout_first_s, idle_s=s.timeout_idle_s)


def _on_sdk(
    provider: type[SDKProvider], s: Settings, api_key: str, model: str, base_url: str
) -> LLMProvider:
    """A vendor SDK provider with its key, model (LLM_MODEL first) and base URL."""
    return provider(
        api_key=api_key,
        model=s.model or model,
        base_url=base_url or None,
        timeouts=_timeouts(s),
        max_retries=s.max_retries,
    )


def _anthropic(s: Settings) -> LLMProvider:
    from llm_worker.providers.anthropic import AnthropicProvider

    return _on_sdk(
        AnthropicProvider, s, s.anthropic_api_key, s.anthropic_model, s.anthropic_base_url
    )


def _openai(s: Settings) -> LLMProvider:
    from llm_worker.providers.openai import OpenAIProvider

    return _on_sdk(OpenAIProvider, s, s.openai_api_key, s.openai_model, s.openai_base_url)


def _local(s: Settings) -> LLMProvider:
    from llm_worker.providers.local import LOCAL_MIN_FIRST_EVENT_S, LocalProvider

    first = max(s.timeout_first_s, LOCAL_MIN_FIRST_EVENT_S)
    return LocalProvider(
        model_path=s.model_path or None,
        model=s.model,
        n_ctx=s.n_ctx,
        n_threads=s.n_threads,
        n_threads_batch=s.n_threads_batch,
        state_cache_mb=s.state_cache_mb,
        timeouts=Timeouts(first_event_s=first, idle_s=s.timeout_idle_s),
        max_retries=0,
    )


def _fake(s: Settings) -> LLMProvider:
    from llm_worker.testing.fake_provider import FakeProvider

    # LLM_FAKE_DELAY_S slows each event: lets tests kill a replica in the middle of a reply;
    # LLM_FAKE_TEXT is its answer, streamed word by word with LLM_FAKE_WORDS=1.
    kw: dict[str, str] = {}
    if os.environ.get("LLM_FAKE_TEXT"):
        kw["default_text"] = os.environ["LLM_FAKE_TEXT"]
    return FakeProvider(
        delay_s=float(os.environ.get("LLM_FAKE_DELAY_S", "0") or 0),
        word_deltas=os.environ.get("LLM_FAKE_WORDS", "") == "1",
        **kw,
    )


PROVIDERS: Registry[Settings, LLMProvider] = Registry(
    "LLM_PROVIDER",
    ConfigError,
    {"anthropic": _anthropic, "openai": _openai, "local": _local, "fake": _fake},
)


def create_provider(settings: Settings) -> LLMProvider:
    """Builds the provider the settings choose (``auto`` resolved)."""
    return PROVIDERS.build(settings.resolved_provider(), settings)


__all__ = [
    "PROVIDERS",
    "Capabilities",
    "LLMProvider",
    "LLMStream",
    "ProviderMetrics",
    "Timeouts",
    "create_provider",
]
