"""Prometheus metrics of the TTS providers (registered once per process)."""

from __future__ import annotations

from pipeline.metrics import EngineMetrics
from prometheus_client import Counter, Gauge

ENGINE = EngineMetrics.define(
    "pabx_tts",
    (
        "Syntheses by provider and outcome",
        "Synthesis attempts retried",
        "Time to synthesize one sentence (time to its first audio)",
        "Seconds of audio synthesized",
    ),
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
FALLBACKS = Counter("pabx_tts_fallbacks", "Sentences handed to a fallback provider", ["provider"])
CACHE_HITS = Counter(
    "pabx_tts_phrase_cache_hits", "Sentences served from the phrase cache (no synthesis)"
)
CACHE_MISSES = Counter(
    "pabx_tts_phrase_cache_misses", "Sentences not in the phrase cache (synthesized)"
)
CACHE_STORES = Counter(
    "pabx_tts_phrase_cache_stores", "Phrase audio written to the cache (one per phrase and rate)"
)
CACHE_PENDING = Gauge(
    "pabx_tts_phrase_cache_pending",
    "Phrases of the cache whose audio is missing, waiting for an idle moment to be synthesized",
)
