"""python -m tts_worker: one TTS replica (settings from the environment, see .env.example)."""

from __future__ import annotations

import asyncio

from pipeline.logs import setup
from pipeline.main import run_worker
from pipeline.settings import WorkerSettings

from .cache import PhraseCache
from .providers import build_tts
from .settings import TTSSettings
from .worker import TTSWorker

METRICS_PORT = 9103


def main() -> None:
    setup("tts-worker")
    settings = TTSSettings.from_env()
    worker_settings = WorkerSettings.from_env(METRICS_PORT)
    tts = build_tts(settings)
    tts.warm_up()  # loads the engines and synthesizes once before taking work
    asyncio.run(
        run_worker(
            worker_settings,
            lambda bus: TTSWorker(
                bus,
                worker_settings.name,
                tts,
                language=settings.lang,
                sample_rate=settings.sample_rate,
                chunk_ms=settings.chunk_ms,
                phrases=PhraseCache(
                    bus,
                    tts,
                    phrases=settings.cache_phrases,
                    language=settings.lang,
                    max_phrases=settings.cache_max_phrases,
                    ttl_s=settings.cache_ttl_s,
                ),
                phrase_refresh_s=settings.cache_refresh_s,
                first_clause_priority_ms=settings.first_clause_priority_ms,
                **worker_settings.stream_options(),
            ),
            checks={"engine": tts.healthy},
        )
    )


if __name__ == "__main__":
    main()
