"""Prometheus metrics of the STT providers (registered once per process)."""

from __future__ import annotations

from pipeline.metrics import EngineMetrics

ENGINE = EngineMetrics.define(
    "pabx_stt",
    (
        "Transcriptions by provider and outcome",
        "Transcription attempts retried",
        "Time to transcribe one utterance",
        "Seconds of audio transcribed",
    ),
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
)
