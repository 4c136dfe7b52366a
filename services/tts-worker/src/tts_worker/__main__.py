"""python -m tts_worker: one TTS replica (settings from the environment, see .env.example)."""

from __future__ import annotations

from pipeline.bus import Bus
from pipeline.main import Stage, run_stage
from pipeline.settings import WorkerSettings

from .cache import PhraseCache
from .providers import build_tts
from .router import TTSRouter
from .settings import TTSSettings
from .worker import TTSWorker

METRICS_PORT = 9103


def prepare(worker: WorkerSettings) -> Stage:
    settings = TTSSettings.from_env()
    tts = build_tts(settings)
    tts.warm_up()  # loads the engines and synthesizes once before taking work
    return Stage(lambda bus: _worker(bus, worker, settings, tts), tts.healthy)


def _worker(bus: Bus, worker: WorkerSettings, s: TTSSettings, tts: TTSRouter) -> TTSWorker:
    phrases = PhraseCache(
        bus,
        tts,
        phrases=s.cache_phrases,
        language=s.lang,
        max_phrases=s.cache_max_phrases,
        ttl_s=s.cache_ttl_s,
    )
    return TTSWorker(
        bus,
        worker.name,
        tts,
        language=s.lang,
        sample_rate=s.sample_rate,
        chunk_ms=s.chunk_ms,
        phrases=phrases,
        phrase_refresh_s=s.cache_refresh_s,
        first_clause_priority_ms=s.first_clause_priority_ms,
        **worker.stream_options(),
    )


def main() -> None:
    run_stage("tts-worker", METRICS_PORT, prepare)


if __name__ == "__main__":
    main()
