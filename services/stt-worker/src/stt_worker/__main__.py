"""python -m stt_worker: one STT replica (settings from the environment, see .env.example)."""

from __future__ import annotations

import asyncio

from pipeline.logs import setup
from pipeline.main import run_worker
from pipeline.settings import WorkerSettings

from .providers import build_provider
from .settings import STTSettings
from .worker import STTWorker

METRICS_PORT = 9101


def main() -> None:
    setup("stt-worker")
    settings = STTSettings.from_env()
    worker_settings = WorkerSettings.from_env(METRICS_PORT)
    provider = build_provider(settings)
    provider.warm_up()  # loads the model and runs one decode before taking work
    asyncio.run(
        run_worker(
            worker_settings,
            lambda bus: STTWorker(
                bus,
                worker_settings.name,
                provider,
                language=settings.language,
                **worker_settings.stream_options(),
            ),
            checks={"engine": provider.healthy},
        )
    )


if __name__ == "__main__":
    main()
