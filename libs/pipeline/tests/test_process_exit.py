"""pipeline.main.run_process: a worker process exits once its loop is done, without waiting
for an engine call still running in its thread (the tts-worker that took 20 s to stop)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.integration  # child processes

# an engine call that cannot be interrupted: 60 s in a default-executor thread, abandoned
ABANDONED_CALL = textwrap.dedent(
    """
    import asyncio, time
    from pipeline.main import run_process

    async def main() -> None:
        asyncio.get_running_loop().run_in_executor(None, time.sleep, 60)
        await asyncio.sleep(0.2)
        print("main returned", flush=True)

    run_process(main())
    """
)


def _run(script: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=50
    )
    return done, time.monotonic() - started


def test_an_engine_thread_still_running_does_not_hold_the_exit() -> None:
    done, elapsed = _run(ABANDONED_CALL)
    assert done.returncode == 0, done.stderr
    assert "main returned" in done.stdout
    # asyncio.run would wait the 60 s of the call (and subprocess.run time out at 50)
    assert elapsed < 20, f"took {elapsed:.1f} s to exit"
    assert "exiting without waiting for 1 thread(s) still running" in done.stderr


def test_a_clean_exit_says_nothing_and_an_error_keeps_its_traceback_and_status() -> None:
    # an executor thread that finished its call is idle, not a call cut short
    clean_script = textwrap.dedent(
        """
        import asyncio
        from pipeline.main import run_process

        run_process(asyncio.to_thread(sum, [1, 2]))
        print("after", flush=True)
        """
    )
    clean, _ = _run(clean_script)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout == "after\n"
    assert clean.stderr == ""

    async_fail = textwrap.dedent(
        """
        from pipeline.main import run_process

        async def main() -> None:
            raise ValueError("bad settings")

        run_process(main())
        """
    )
    failed, _ = _run(async_fail)
    assert failed.returncode == 1
    assert "ValueError: bad settings" in failed.stderr


def test_tasks_left_behind_are_cancelled_as_asyncio_run_does() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from pipeline.main import run_process

        async def forever() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                print("cancelled", flush=True)
                raise

        async def main() -> None:
            asyncio.get_running_loop().create_task(forever())
            await asyncio.sleep(0.1)

        run_process(main())
        """
    )
    done, elapsed = _run(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "cancelled\n"
    assert elapsed < 20
