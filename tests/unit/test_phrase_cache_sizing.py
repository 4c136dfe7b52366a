"""The TTS phrase cache, as shipped, holds every phrase the llm-worker registers for the
shipped facts file (compose/agent/fatos.toml) besides its own: the fixed answers' pieces
are served from Redis only if none of them is cut off by TTS_CACHE_MAX_PHRASES or by the
registry's bound. Both workers are built with their shipped settings; nothing connects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from llm_worker.facts_store import FactsStore
from llm_worker.persona import load_persona
from llm_worker.settings import Settings
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.worker import LLMWorker
from pipeline import Bus
from pipeline.bus import MAX_PHRASE_CHARS, MAX_REGISTERED_PHRASES
from tts_worker.audio import SESSION_RATES
from tts_worker.settings import TTSSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "compose" / "agent" / "fatos.toml"


def shipped_llm_worker() -> LLMWorker:
    s = Settings()
    return LLMWorker(
        Bus.from_url("redis://127.0.0.1:1"),  # never used: nothing here reaches Redis
        "sizing",
        FakeProvider(),
        load_persona(),
        first_clause_min_chars=s.first_clause_min_chars,
        first_words_min=s.first_words_min,
        first_words_max=s.first_words_max,
        clause_min_chars=s.clause_min_chars,
        facts=FactsStore(EXAMPLE, reload_s=0),
        today=lambda: dt.date(2026, 12, 7),
    )


def test_the_shipped_facts_phrases_fit_the_shipped_phrase_cache() -> None:
    registered = shipped_llm_worker().cache_phrases()
    tts = TTSSettings()
    total = len(tts.cache_phrases) + len(registered)
    assert "Nosso horário de atendimento:" in registered
    assert total == 66  # docs/AGENT.md and .env.example say so
    assert total <= tts.cache_max_phrases
    assert len(registered) <= MAX_REGISTERED_PHRASES
    assert all(len(p) <= MAX_PHRASE_CHARS for p in registered)


def test_the_memory_per_phrase_is_what_the_docs_say() -> None:
    """16-bit PCM at every session rate: 48 000 bytes per second of speech."""
    assert SESSION_RATES == (8_000, 16_000)
    assert sum(2 * rate for rate in SESSION_RATES) == 48_000
