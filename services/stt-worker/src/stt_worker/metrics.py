"""Prometheus metrics of the STT providers (registered once per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "pabx_stt_requests", "Transcriptions by provider and outcome", ["provider", "outcome"]
)
RETRIES = Counter("pabx_stt_retries", "Transcription attempts retried", ["provider"])
SECONDS = Histogram(
    "pabx_stt_seconds",
    "Time to transcribe one utterance",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
)
AUDIO_SECONDS = Counter("pabx_stt_audio_seconds", "Seconds of audio transcribed", ["provider"])
