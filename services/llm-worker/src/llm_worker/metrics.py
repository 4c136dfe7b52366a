"""The llm-worker's own Prometheus metrics: what its provider did (the worker's jobs are
pipeline.metrics'), labelled by provider (anthropic, openai, local...)."""

from __future__ import annotations

from pipeline.metrics import TURN_BUCKETS
from prometheus_client import Counter, Histogram

PROVIDER_EVENTS = Counter(
    "llm_provider_events",
    "What the LLM provider did: request (a reply asked for), attempt (one call of the "
    "model, retries included), retry, completed, cancelled (barge-in, a stopped reply)",
    ["provider", "event"],
)
PROVIDER_ERRORS = Counter(
    "llm_provider_errors", "Failed attempts of the LLM provider, by error", ["provider", "error"]
)
PROVIDER_FIRST_EVENT_SECONDS = Histogram(
    "llm_provider_first_event_seconds",
    "Time from a call of the model to its first event (connection and first token)",
    ["provider"],
    buckets=TURN_BUCKETS,
)
