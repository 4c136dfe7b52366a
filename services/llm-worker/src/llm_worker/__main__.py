"""python -m llm_worker: one LLM replica (settings from the environment, see .env.example)."""

from __future__ import annotations

import asyncio
import logging
import signal

from pipeline.logs import setup
from pipeline.main import run_process, run_worker
from pipeline.settings import WorkerSettings

from .call_date import time_zone, today_in
from .errors import FactsError
from .facts_store import FactsSettings, FactsStore
from .persona import load_persona
from .postcall import job_pool
from .providers import create_provider
from .settings import Settings
from .worker import LLMWorker

METRICS_PORT = 9102


async def _main() -> None:
    settings = Settings.from_env()
    worker_settings = WorkerSettings.from_env(METRICS_PORT)
    persona = load_persona(settings.persona_path or None)
    today = today_in(time_zone(settings.timezone))
    # A facts file that does not validate stops the worker here, naming the field.
    facts = FactsStore.from_settings(FactsSettings.from_env())
    logging.getLogger("llm_worker").info(
        "facts of %r from %s; dates in %s; transfers only to %s (AGENT_TRANSFER_ALLOWLIST)",
        facts.facts.company,
        facts.path or "the packaged default",
        settings.timezone,
        ", ".join(sorted(facts.allowed)),
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, facts.request_reload)
    provider = create_provider(settings)
    await provider.start()
    # A local model evaluates the persona once now, so the first caller gets warm latency.
    await provider.warm_up(facts.system_prompt(persona.system_prompt, today()))
    jobs = job_pool(worker_settings.redis_options)  # connects on first use

    async def after_call(session_id: str) -> None:
        # one summary per call, whichever replica saw the end (arq dedups by job id)
        await jobs.enqueue_job("summarize_call", session_id, _job_id=f"summary:{session_id}")

    try:
        await run_worker(
            worker_settings,
            lambda bus: LLMWorker(
                bus,
                worker_settings.name,
                provider,
                persona,
                after_call=after_call,
                facts=facts,
                today=today,
                **settings.reply_options(),
                **worker_settings.stream_options(),
            ),
            # readiness: a local model loaded and no generation stuck past its deadline
            checks={"engine": provider.healthy},
        )
    finally:
        await jobs.aclose()
        await jobs.connection_pool.disconnect()
        await provider.aclose()


def main() -> None:
    setup("llm-worker")
    try:
        run_process(_main())
    except FactsError as e:  # the operator's file: say which field, no traceback
        logging.getLogger("llm_worker").critical("invalid facts file, not starting: %s", e)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
