"""The base class's retries, timeouts and metrics, driven through FakeSTT."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from prometheus_client import REGISTRY
from stt_worker.audio import Samples
from stt_worker.errors import ProviderError, ProviderTimeout, TranscriptionCancelled
from stt_worker.providers import build_provider, normalize_language
from stt_worker.settings import STTSettings
from stt_worker.testing import FakeSTT, word_error_rate

SECOND_8K = (np.sin(np.arange(8000) / 8000 * 2 * np.pi * 300) * 8000).astype("<i2").tobytes()


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_answers_in_order_and_reports_audio_length() -> None:
    stt = FakeSTT(["um", "dois"], default="?", retry_backoff_s=0)
    first = await stt.transcribe(SECOND_8K, 8000)
    second = await stt.transcribe(SECOND_8K * 2, 16000, "en-US")
    third = await stt.transcribe(SECOND_8K, 8000)
    assert [first.text, second.text, third.text] == ["um", "dois", "?"]
    assert first.audio_s == pytest.approx(1.0)
    assert second.audio_s == pytest.approx(1.0)
    assert stt.calls == [(16000, "pt"), (16000, "en"), (16000, "pt")]


async def test_retryable_failures_are_retried_and_counted() -> None:
    before = _count("pabx_stt_retries_total", provider="fake")
    stt = FakeSTT(["ok"], failures=2, retries=2, retry_backoff_s=0)
    result = await stt.transcribe(SECOND_8K, 8000)
    assert (result.text, result.attempts) == ("ok", 3)
    assert _count("pabx_stt_retries_total", provider="fake") == before + 2


async def test_retries_are_bounded() -> None:
    stt = FakeSTT(["never"], failures=5, retries=1, retry_backoff_s=0)
    with pytest.raises(Exception, match="scripted failure") as info:
        await stt.transcribe(SECOND_8K, 8000)
    assert info.value.retryable  # type: ignore[attr-defined]
    assert len(stt.calls) == 2


async def test_timeout_becomes_provider_timeout() -> None:
    before = _count("pabx_stt_requests_total", provider="fake", outcome="ProviderTimeout")
    stt = FakeSTT(["late"], delay_s=0.3, timeout_s=0.05, retries=0)
    with pytest.raises(ProviderTimeout, match=r"longer than 0\.05 s"):
        await stt.transcribe(SECOND_8K, 8000)
    assert _count("pabx_stt_requests_total", provider="fake", outcome="ProviderTimeout") == (
        before + 1
    )


def test_language_normalization() -> None:
    assert normalize_language("pt-BR") == "pt"
    assert normalize_language("en_US") == "en"
    assert normalize_language(" PT ") == "pt"


def test_registry_builds_fake_from_settings() -> None:
    stt = build_provider(STTSettings.from_env({"STT_PROVIDER": "fake", "STT_LANGUAGE": "en"}))
    assert isinstance(stt, FakeSTT)
    assert stt.default_language == "en"


def test_word_error_rate_ignores_case_and_punctuation() -> None:
    assert word_error_rate("Bom dia, tudo bem?", "bom dia tudo bem") == 0.0
    assert word_error_rate("um dois três quatro", "um dois tres quatro") == 0.25


async def test_near_silence_skips_the_engine() -> None:
    stt = FakeSTT(["invented"], retry_backoff_s=0)
    result = await stt.transcribe(b"\x01\x00" * 8000, 8000)  # -90 dBFS
    assert (result.text, result.attempts, stt.calls) == ("", 0, [])


def test_warm_up_loads_and_decodes_once() -> None:
    stt = FakeSTT(["warm"], default="x")
    stt.warm_up()
    assert stt.loaded
    assert stt.calls == [(8000, "pt")]


class _LeakyEngine(FakeSTT):
    def _transcribe(
        self, samples: Samples, language: str, cancel: threading.Event | None = None
    ) -> str:
        raise RuntimeError("partial transcript: meu CPF é 123")


async def test_engine_errors_do_not_carry_the_transcript() -> None:
    with pytest.raises(ProviderError) as info:
        await _LeakyEngine(retries=0).transcribe(SECOND_8K, 8000)
    assert str(info.value) == "fake failed: RuntimeError"
    assert not info.value.retryable


async def test_a_cancelled_call_never_reaches_the_engine_and_is_not_retried() -> None:
    stt = FakeSTT(["nunca"], retries=3, retry_backoff_s=0)
    cancel = threading.Event()
    cancel.set()
    before = _count("pabx_stt_requests_total", provider="fake", outcome="TranscriptionCancelled")
    with pytest.raises(TranscriptionCancelled) as info:
        await stt.transcribe(SECOND_8K, 8000, cancel=cancel)
    assert (info.value.retryable, info.value.engine_ran, stt.calls) == (False, False, [])
    after = _count("pabx_stt_requests_total", provider="fake", outcome="TranscriptionCancelled")
    assert after == before + 1
    cancel.clear()
    assert (await stt.transcribe(SECOND_8K, 8000, cancel=cancel)).text == "nunca"
