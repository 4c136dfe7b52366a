"""Synthesize a sentence to a WAV file with the configured providers.

    python -m tts_worker.cli "Bom dia, em que posso ajudar?" -o bomdia.wav [--rate 8000]

Reads the same TTS_* variables as the worker (TTS_PROVIDER, TTS_VOICE, TTS_MODEL_PATH,
TTS_VOICES_PATH...), so it checks your own model files before deploying them. The WAV
holds exactly what a call would receive: the session rate, 20 ms-aligned.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import wave

from .errors import EngineError
from .providers import build_tts
from .settings import TTSSettings


async def _main(text: str, out: str, rate: int | None, language: str | None) -> int:
    settings = TTSSettings.from_env()
    tts = build_tts(settings)
    session_rate = rate or settings.sample_rate
    try:
        syn = await tts.synthesize(text, language=language)
        chunks = syn.render(session_rate, chunk_ms=settings.chunk_ms)
    except EngineError as e:
        print(f"erro: {e}", file=sys.stderr)
        return 1
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(session_rate)
        w.writeframes(b"".join(c.pcm for c in chunks))
    print(f"{out}: {syn.voice_id}, {syn.audio_s:.2f} s de áudio em {syn.elapsed_s:.2f} s")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("-o", "--output", default="tts.wav")
    parser.add_argument("--rate", type=int, help="8000 or 16000 (default: TTS_SAMPLE_RATE)")
    parser.add_argument("--language", help="e.g. pt-BR, en (default: TTS_LANG)")
    args = parser.parse_args()
    sys.exit(asyncio.run(_main(args.text, args.output, args.rate, args.language)))


if __name__ == "__main__":
    main()
