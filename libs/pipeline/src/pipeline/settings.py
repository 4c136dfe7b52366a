"""Settings every stage worker shares (each service adds its own)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={value} must be within {low}..{high}")
    return value


@dataclass(frozen=True)
class WorkerSettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
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
        env = os.environ if env is None else env
        return cls(
            redis_url=env.get("REDIS_URL", "").strip() or cls.redis_url,
            name=env.get("WORKER_NAME", "").strip() or f"{socket.gethostname()}-{os.getpid()}",
            concurrency=_int(env, "WORKER_CONCURRENCY", 4, 1, 256),
            metrics_host=env.get("METRICS_HOST", "").strip() or cls.metrics_host,
            metrics_port=_int(env, "METRICS_PORT", default_port, 0, 65535),
            claim_idle_ms=_int(env, "WORKER_CLAIM_IDLE_MS", 5000, 100, 600_000),
            max_deliveries=_int(env, "WORKER_MAX_DELIVERIES", 3, 1, 100),
            grace_s=_int(env, "WORKER_GRACE_S", 10, 0, 3600),
            max_age_s=_int(env, "WORKER_MAX_AGE_S", 120, 1, 86400),
        )
