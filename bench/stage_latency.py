"""Per-stage speech latency on this machine: STT time per utterance, TTS time to first audio.

STT: Whisper base (faster-whisper, int8, 2 threads, beam 1) transcribing Portuguese
utterances that the project's Kokoro voice speaks, resampled to 8 kHz as on a call.
TTS: time from a sentence's text to its first 20 ms chunk at 8 kHz (synthesis of the
whole clause + resampling + chunking) for Kokoro (pt-BR), Piper (en) and espeak-ng.
Models are loaded and warmed up first (the workers do the same at startup); load times
are reported separately.

    .venv/bin/python bench/stage_latency.py [--repeat N] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from stt_worker.providers.faster_whisper import FasterWhisperSTT
from stt_worker.settings import STTSettings
from stt_worker.testing import word_error_rate
from tts_worker.providers.base import TTSProvider
from tts_worker.providers.espeak import EspeakTTS
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.providers.piper import PiperTTS
from tts_worker.settings import TTSSettings

PT = [
    "Bom dia, em que posso ajudar?",
    "Eu gostaria de falar com o setor financeiro, por favor.",
    "A minha internet está muito lenta desde ontem à noite.",
    "Claro, vou transferir a sua ligação agora mesmo.",
    "Qual é o horário de funcionamento da loja no sábado?",
]
EN = ["Good morning, how can I help you?", "Please hold while I transfer your call."]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(pct(values, 0.95) * 1000, 1),
        "min_ms": round(min(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def timed_load(provider: Any) -> float:
    started = time.perf_counter()
    provider.load()
    loaded = time.perf_counter() - started
    provider.warm_up()
    return loaded


async def tts_first_audio(
    provider: TTSProvider, sentences: list[str], lang: str, repeat: int
) -> dict[str, Any]:
    firsts, rtfs = [], []
    for _ in range(repeat):
        for text in sentences:
            started = time.perf_counter()
            syn = await provider.synthesize(text, language=lang)
            chunks = syn.render(8000)
            first = chunks[0]  # what the worker publishes first
            firsts.append(time.perf_counter() - started)
            rtfs.append(syn.elapsed_s / syn.audio_s)
            assert first.seq == 0
    return {**summary(firsts), "rtf_p50": round(statistics.median(rtfs), 3)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the sentences")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    tts_s, stt_s = TTSSettings.from_env(), STTSettings.from_env()
    kokoro = KokoroTTS(tts_s.kokoro_model, tts_s.kokoro_voices, timeout_s=600, retries=0)
    piper = PiperTTS(tts_s.piper_model, timeout_s=600, retries=0)
    espeak = EspeakTTS(timeout_s=600, retries=0)
    whisper = FasterWhisperSTT(stt_s.model_ref(), timeout_s=600, retries=0)

    loads = {p.name: round(timed_load(p), 2) for p in (kokoro, piper, espeak, whisper)}

    # STT inputs: the agent's own voice at 8 kHz, as the caller's audio reaches the worker.
    utterances = []
    for text in PT:
        syn = await kokoro.synthesize(text, language="pt-br")
        utterances.append((text, b"".join(c.pcm for c in syn.render(8000))))
    stt_times, stt_rtf, refs, hyps = [], [], [], []
    for _ in range(args.repeat):
        for text, pcm in utterances:
            started = time.perf_counter()
            result = await whisper.transcribe(pcm, 8000, "pt")
            stt_times.append(time.perf_counter() - started)
            stt_rtf.append(result.elapsed_s / result.audio_s)
            refs.append(text)
            hyps.append(result.text)
    audio_lengths = [len(pcm) / 16000 for _, pcm in utterances]

    results: dict[str, dict[str, Any]] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "loadavg_at_end": None,
            "python": platform.python_version(),
        },
        "load_s": loads,
        "stt_whisper_base_int8_8khz": {
            **summary(stt_times),
            "rtf_p50": round(statistics.median(stt_rtf), 3),
            "audio_s": [round(a, 2) for a in audio_lengths],
            "wer": round(word_error_rate(" ".join(refs), " ".join(hyps)), 3),
        },
        "tts_first_audio_8khz": {
            "kokoro_pt": await tts_first_audio(kokoro, PT, "pt-br", args.repeat),
            "piper_en": await tts_first_audio(piper, EN, "en", args.repeat),
            "espeak_pt": await tts_first_audio(espeak, PT, "pt-br", args.repeat),
        },
    }
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
