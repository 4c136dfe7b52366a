"""Prometheus metrics shared by every stage worker, labelled by stage, and the one
definition of a speech engine's metrics (:class:`EngineMetrics`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

JOBS = Counter("asp_worker_jobs_total", "Work entries finished", ["stage", "outcome"])
MALFORMED = Counter("asp_worker_malformed_total", "Work entries that did not parse", ["stage"])
CLAIMED = Counter(
    "asp_worker_claimed_total", "Entries claimed from dead or stuck replicas", ["stage"]
)
DEAD = Counter("asp_worker_dead_letters_total", "Entries given up after their retries", ["stage"])
IN_FLIGHT = Gauge("asp_worker_in_flight", "Entries being processed now", ["stage"])
JOB_SECONDS = Histogram(
    "asp_worker_job_seconds",
    "Time to process one work entry",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
QUEUE_WAIT = Histogram(
    "asp_worker_queue_wait_seconds",
    "Time between an event's timestamp and the start of its processing",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)

TURN_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)
"""Buckets of the per-turn step times (0.05-10 s), shared with the sip-edge's histograms."""
TURN_STEP_SECONDS = Histogram(
    "asp_turn_step_seconds",
    "Where a caller's turn spent its time, by step (the steps of turn.timing): stt, "
    "llm_first_token, llm_first_clause, tts_first_audio",
    ["step"],
    buckets=TURN_BUCKETS,
)
SPECULATIVE_WASTED_SECONDS = Histogram(
    "asp_speculative_wasted_seconds",
    "Work a stage spent on a provisional utterance that the caller's speech cancelled "
    "(speculative start), one observation per cancelled utterance and stage",
    ["stage"],
    buckets=TURN_BUCKETS,
)
SPECULATIVE_REJECTED = Counter(
    "asp_speculative_rejected_total",
    "utterance.confirm / utterance.cancel events rejected as stale or unknown",
    ["stage", "type"],
)


@dataclass(frozen=True)
class EngineMetrics:
    """The metrics of a stage's engine calls (:class:`pipeline.engine.BlockingEngine`):
    ``requests`` (labels provider, outcome), ``retries`` (provider) and, on success,
    ``seconds`` and ``audio_seconds`` (provider)."""

    requests: Counter
    retries: Counter
    seconds: Histogram | None = None
    audio_seconds: Counter | None = None

    @classmethod
    def define(
        cls, prefix: str, helps: tuple[str, str, str, str], buckets: Sequence[float]
    ) -> EngineMetrics:
        """Registers ``<prefix>_requests``, ``_retries``, ``_seconds`` and
        ``_audio_seconds``; ``helps`` are their help texts, in that order."""
        requests, retries, seconds, audio = helps
        return cls(
            Counter(f"{prefix}_requests", requests, ["provider", "outcome"]),
            Counter(f"{prefix}_retries", retries, ["provider"]),
            Histogram(f"{prefix}_seconds", seconds, ["provider"], buckets=tuple(buckets)),
            Counter(f"{prefix}_audio_seconds", audio, ["provider"]),
        )
