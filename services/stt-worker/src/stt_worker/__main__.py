"""python -m stt_worker: one STT replica (settings from the environment, see .env.example)."""

from __future__ import annotations

from pipeline.main import Stage, run_stage
from pipeline.settings import WorkerSettings

from .providers import build_provider
from .settings import STTSettings
from .worker import STTWorker

METRICS_PORT = 9101


def prepare(worker: WorkerSettings) -> Stage:
    settings = STTSettings.from_env()
    provider = build_provider(settings)
    provider.warm_up()  # loads the model and runs one decode before taking work
    return Stage(
        lambda bus: STTWorker(
            bus, worker.name, provider, language=settings.language, **worker.stream_options()
        ),
        provider.healthy,
    )


def main() -> None:
    run_stage("stt-worker", METRICS_PORT, prepare)


if __name__ == "__main__":
    main()
