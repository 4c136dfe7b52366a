"""The base class's retries/timeouts/metrics and the router's fallback, via FakeTTS."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from tts_worker.audio import Samples
from tts_worker.errors import ProviderError, ProviderTimeout, TTSError
from tts_worker.providers.espeak import EspeakTTS
from tts_worker.router import TTSRouter
from tts_worker.testing import FakeTTS


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_fake_synthesis_renders_predictably() -> None:
    tts = FakeTTS(native_rate=24_000, ms_per_char=100)
    syn = await tts.synthesize("abcd")  # 0.4 s
    assert syn.audio_s == pytest.approx(0.4)
    assert len(syn.render(8000)) == 20
    assert tts.calls == [("abcd", "default", "pt")]


async def test_retryable_failures_are_retried() -> None:
    before = _count("pabx_tts_retries_total", provider="fake")
    tts = FakeTTS(failures=1, retries=1, retry_backoff_s=0)
    syn = await tts.synthesize("oi")
    assert syn.attempts == 2
    assert _count("pabx_tts_retries_total", provider="fake") == before + 1


async def test_non_retryable_failures_are_not() -> None:
    tts = FakeTTS(failures=1, retryable=False, retries=3, retry_backoff_s=0)
    with pytest.raises(ProviderError, match="scripted failure"):
        await tts.synthesize("oi")
    assert len(tts.calls) == 1


async def test_timeout() -> None:
    tts = FakeTTS(delay_s=0.3, timeout_s=0.05, retries=0)
    with pytest.raises(ProviderTimeout):
        await tts.synthesize("oi")


async def test_router_falls_back_to_espeak_when_the_engine_fails(espeak: EspeakTTS) -> None:
    before = _count("pabx_tts_fallbacks_total", provider="fake")
    broken = FakeTTS(failures=10, retryable=False, retries=0)
    router = TTSRouter(broken, fallback=espeak)
    syn = await router.synthesize("Um momento, por favor.", language="pt-BR")
    assert syn.provider == "espeak"
    assert syn.voice_id == "espeak:builtin:pt-br:pt-br"
    assert syn.audio_s > 0.5
    assert _count("pabx_tts_fallbacks_total", provider="fake") == before + 1


async def test_router_routes_by_language() -> None:
    pt, en = FakeTTS(), FakeTTS(language="en")
    router = TTSRouter(pt, routes={"en": en}, language="pt")
    await router.synthesize("olá")
    await router.synthesize("hello", language="en-GB")
    assert pt.calls == [("olá", "default", "pt")]
    assert en.calls == [("hello", "default", "en-gb")]
    assert router.voice_id("en") == "fake:builtin:default:en"


async def test_router_without_fallback_raises() -> None:
    router = TTSRouter(FakeTTS(failures=1, retryable=False, retries=0))
    with pytest.raises(ProviderError):
        await router.synthesize("oi")


async def test_empty_sentence_is_not_sent_to_the_fallback() -> None:
    fallback = FakeTTS()
    router = TTSRouter(FakeTTS(), fallback=fallback)
    with pytest.raises(TTSError, match="empty text"):
        await router.synthesize(" ")
    assert fallback.calls == []


async def test_too_long_and_bad_language() -> None:
    tts = FakeTTS()
    with pytest.raises(TTSError, match="exceeds 2000"):
        await tts.synthesize("a" * 2001)
    with pytest.raises(TTSError, match="invalid language code"):
        await tts.synthesize("oi", language="português")


def test_warm_up_runs_each_engine_once_in_its_language() -> None:
    pt, en = FakeTTS(), FakeTTS(language="en")
    TTSRouter(pt, routes={"en": en}).warm_up()
    assert (pt.calls, en.calls) == ([("Olá.", "default", "pt")], [("Hello.", "default", "en")])


class _LeakyEngine(FakeTTS):
    def _synthesize(self, text: str, voice: str, language: str) -> tuple[Samples, int]:
        raise ValueError(f"cannot say {text!r}")


async def test_engine_errors_do_not_carry_the_text() -> None:
    with pytest.raises(ProviderError) as info:
        await _LeakyEngine(retries=0).synthesize("meu CPF é 123")
    assert str(info.value) == "fake failed: ValueError"
    assert "123" in str(info.value.__cause__)  # kept for debugging, not in the message


async def test_cancelling_a_synthesis_leaves_the_provider_usable() -> None:
    tts = FakeTTS(delay_s=0.2, retries=0)
    task = asyncio.create_task(tts.synthesize("primeira frase"))
    while not tts.calls:  # the engine has started
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    syn = await tts.synthesize("segunda frase")
    assert syn.attempts == 1
    assert [c[0] for c in tts.calls] == ["primeira frase", "segunda frase"]
