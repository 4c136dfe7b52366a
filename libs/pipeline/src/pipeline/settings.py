"""Settings every stage worker shares (each service adds its own)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from .envparse import EnvReader
from .redis_client import RedisOptions


class StreamOptions(TypedDict):
    """The :class:`~pipeline.worker.StreamWorker` keyword arguments set from the environment."""

    concurrency: int
    claim_idle_ms: int
    max_deliveries: int
    max_age_s: int


@dataclass(frozen=True)
class WorkerSettings:
    redis_options: RedisOptions = field(default_factory=RedisOptions)
    name: str = ""
    concurrency: int = 4
    metrics_host: str = "0.0.0.0"  # noqa: S104 - metrics are scraped from other hosts
    metrics_port: int = 0
    claim_idle_ms: int = 5000
    max_deliveries: int = 3
    grace_s: int = 10
    max_age_s: int = 120

    @classmethod
    def from_env(cls, default_port: int, env: Mapping[str, str] | None = None) -> WorkerSettings:
        e = os.environ if env is None else env
        r = EnvReader(e)
        return cls(
            redis_options=RedisOptions.from_env(e),
            name=r.text("WORKER_NAME") or f"{socket.gethostname()}-{os.getpid()}",
            concurrency=r.integer("WORKER_CONCURRENCY", 4, 1, 256),
            metrics_host=r.text("METRICS_HOST", cls.metrics_host),
            metrics_port=r.integer("METRICS_PORT", default_port, 0, 65535),
            claim_idle_ms=r.integer("WORKER_CLAIM_IDLE_MS", 5000, 100, 600_000),
            max_deliveries=r.integer("WORKER_MAX_DELIVERIES", 3, 1, 100),
            grace_s=r.integer("WORKER_GRACE_S", 10, 0, 3600),
            max_age_s=r.integer("WORKER_MAX_AGE_S", 120, 1, 86400),
        )

    @property
    def redis_url(self) -> str:
        return self.redis_options.url

    def stream_options(self) -> StreamOptions:
        return {
            "concurrency": self.concurrency,
            "claim_idle_ms": self.claim_idle_ms,
            "max_deliveries": self.max_deliveries,
            "max_age_s": self.max_age_s,
        }
