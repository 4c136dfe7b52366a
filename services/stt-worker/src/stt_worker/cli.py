"""Transcribe WAV files with the configured provider (checks a model before deploying it).

    python -m stt_worker.cli call.wav [more.wav ...] [--language pt]

Reads the same STT_* variables as the worker. WAV files must be PCM16 mono at 8 or
16 kHz (the session rates).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import wave

from .errors import EngineError, STTError
from .providers import build_provider
from .settings import STTSettings


async def _main(files: list[str], language: str | None) -> int:
    stt = build_provider(STTSettings.from_env())
    await asyncio.to_thread(stt.load)
    for name in files:
        try:
            with wave.open(name, "rb") as w:
                if w.getnchannels() != 1 or w.getsampwidth() != 2:
                    raise STTError(f"{name}: needs PCM16 mono")
                rate, pcm = w.getframerate(), w.readframes(w.getnframes())
            result = await stt.transcribe(pcm, rate, language)
        except (OSError, EOFError, wave.Error, EngineError) as e:
            print(f"{name}: erro: {e}", file=sys.stderr)
            return 1
        print(f"{name}\t{result.elapsed_s:.2f}s\t{result.text}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--language", help="e.g. pt, en (default: STT_LANGUAGE)")
    args = parser.parse_args()
    sys.exit(asyncio.run(_main(args.files, args.language)))


if __name__ == "__main__":
    main()
