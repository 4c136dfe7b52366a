"""Which Kokoro voice does the phone line carry best? TTS -> 8 kHz -> Whisper round trip.

Each voice reads the same receptionist-style pt-BR sentences (hours, addresses, numbers,
names, prices, written in words as the llm-worker's persona asks). Its 24 kHz output
goes through the tts-worker's own rendering to 8 kHz (one soxr HQ resampling, 20 ms
chunks), once as it leaves the worker and once through a G.711 mu-law encode/decode as
on the phone line; the packaged Whisper base (language forced to pt) transcribes both.

Reported per voice: word error rate at 8 kHz and after mu-law, synthesis real-time
factor, and time to first audio (text -> first 20 ms chunk at 8 kHz: whole-clause
synthesis + resampling + chunking, as the worker publishes it). Sentences are taken one
at a time with every voice in turn, in a rotating order, so load changes on a shared
machine hit all voices alike. Whisper writes many numbers as digits ("R$ 189,90",
"14h30", "01301-000"); both sides are normalized before scoring (``normalize``): numbers
spelled out; gender of numerals, crasis ("às"/"as"), homophones ("sem"/"cem") and
punctuation ignored. The raw transcripts go to the JSON output (``--rescore`` scores them
again without synthesizing anything).

    .venv/bin/python bench/voice_wer.py [--voices pf_dora,pm_alex,...] [--json FILE]
    .venv/bin/python bench/voice_wer.py --rescore FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import time
import unicodedata
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jiwer
from stt_worker.testing import judge_whisper
from tts_worker.providers.kokoro import KokoroTTS
from tts_worker.settings import TTSSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # G.711 only (never for rate changes); part of Python 3.11

# the numbers of a text as words, spelled by the generator of the PBX's own prompts
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from asterisk_prompts import HUNDREDS, UNITS_M, number_words

VOICES = ("pf_dora", "pm_alex", "pm_santa", "jm_kumo")

SENTENCES = [
    "Bom dia, você ligou para a Clínica Santa Helena, meu nome é Ana, em que posso ajudar?",
    "Nosso horário de atendimento é de segunda a sexta, das oito da manhã às seis da tarde.",
    "Aos sábados abrimos das nove horas ao meio-dia.",
    "Estamos na Rua Augusta, número mil trezentos e vinte, no bairro da Consolação.",
    "A consulta com o doutor Ricardo Mendes custa duzentos e cinquenta reais.",
    "Posso agendar para quinta-feira, dia doze de março, às duas e meia da tarde?",
    "O seu protocolo é quatro sete oito dois nove, anote por favor.",
    "Vou transferir a sua ligação para o ramal dois mil e quinze, um momento.",
    "O estacionamento fica na rua de trás e custa quinze reais por hora.",
    "A doutora Fernanda Oliveira atende às terças e quintas-feiras.",
    "O exame de sangue precisa de jejum de oito horas.",
    "O financeiro já encerrou o expediente, mas reabre amanhã às oito horas.",
    "A mensalidade é de cento e oitenta e nove reais e noventa centavos.",
    "Pode me informar o seu nome completo e a data de nascimento?",
    "Anotei: João Pereira da Silva, nascido em vinte e três de julho de mil novecentos "
    "e oitenta e cinco.",
    "O CEP é zero um três zero um, zero zero zero.",
    "Aceitamos cartão de crédito, débito e pix, e parcelamos em até três vezes sem juros.",
    "A entrega chega em até cinco dias úteis na Avenida Paulista, mil quinhentos e setenta e oito.",
    "Obrigada pela ligação, tenha uma ótima tarde!",
]

WARM_UP = "Olá, aqui é da recepção; um momento, por favor, que eu já verifico a sua agenda."

# --- scoring: numbers as words on both sides -------------------------------------------

# feminine and variant spellings, homophones -> one form (the voice says what the text says)
_SAME = {
    "duas": "dois",
    "uma": "um",
    "quatorze": "catorze",
    "meio-dia": "meio dia",
    "dr": "doutor",
    "dra": "doutora",
    "av": "avenida",
    "nº": "número",
    "à": "a",  # crasis and homophones sound the same
    "às": "as",
    "cem": "sem",
}
_SAME |= {h.replace("os", "as"): h for h in HUNDREDS[2:]}


def _digits(text: str) -> str:
    return " ".join(UNITS_M[int(d)] for d in text if d.isdigit())


def _number(match: re.Match[str]) -> str:
    token = match.group(0)
    if "-" in token:  # 01301-000, 3321-0987: dictated digit by digit
        return f" {_digits(token)} "
    plain = token.replace(".", "")
    if len(plain) >= 5 or (len(plain) > 1 and plain.startswith("0")):
        return f" {_digits(plain)} "
    return f" {number_words(int(plain))} "


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(
        r"r\$\s*(\d+),(\d\d)",
        lambda m: f"{m[1]} reais e {m[2]} centavos" if m[2] != "00" else f"{m[1]} reais",
        text,
    )
    text = re.sub(r"r\$\s*(\d+)", r"\1 reais", text)
    text = re.sub(r"(\d+),(\d\d) reais", r"\1 reais e \2 centavos", text)
    text = re.sub(r"\b(\d{1,2})(?:h|:)30\b", r"\1 e meia", text)
    text = re.sub(
        r"\b(\d{1,2})(?:h|:)(\d\d)\b",
        lambda m: f"{m[1]} horas" if m[2] == "00" else f"{m[1]} e {m[2]}",
        text,
    )
    text = re.sub(r"\b(\d{1,2})h\b", r"\1 horas", text)
    text = re.sub(r"\d{1,3}(?:\.\d{3})+(?!\d)|\d+(?:-\d+)+|\d+", _number, text)
    text = text.replace("centavos centavos", "centavos")
    words = "".join(c if c.isalnum() or c in " -" else " " for c in text).split()
    words = [_SAME.get(w, w) for w in words]
    return " ".join(w for part in words for w in part.split("-") if w)


def wer(refs: list[str], hyps: list[str]) -> float:
    return float(jiwer.wer([normalize(r) for r in refs], [normalize(h) for h in hyps]))


def mulaw_round_trip(pcm: bytes) -> bytes:
    return audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)


# --- measurement -------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(voices: list[str], sentences: list[str]) -> dict[str, Any]:
    s = TTSSettings.from_env()
    kokoro = KokoroTTS(s.kokoro_model, s.kokoro_voices, threads=s.threads, timeout_s=600, retries=0)
    kokoro.load()
    whisper = judge_whisper()
    for voice in voices:  # first runs are slower (ONNX Runtime allocations): not counted
        await kokoro.synthesize(WARM_UP, voice=voice, language="pt-br")
    rows: dict[str, dict[str, list[Any]]] = {
        v: {"first": [], "synth": [], "audio": [], "hyp8k": [], "hyp_ulaw": []} for v in voices
    }
    for i, text in enumerate(sentences):
        for voice in voices[i % len(voices) :] + voices[: i % len(voices)]:  # no fixed order
            row = rows[voice]
            started = time.perf_counter()
            syn = await kokoro.synthesize(text, voice=voice, language="pt-br")
            chunks = syn.render(8000)
            row["first"].append(time.perf_counter() - started)
            row["synth"].append(syn.elapsed_s)
            row["audio"].append(syn.audio_s)
            pcm = b"".join(c.pcm for c in chunks)
            row["hyp8k"].append((await whisper.transcribe(pcm, 8000, "pt")).text)
            row["hyp_ulaw"].append(
                (await whisper.transcribe(mulaw_round_trip(pcm), 8000, "pt")).text
            )
        print(f"[voice_wer] {i + 1}/{len(sentences)}", flush=True)
    results: dict[str, Any] = {}
    for voice, row in rows.items():
        rtfs = [e / a for e, a in zip(row["synth"], row["audio"], strict=True)]
        results[voice] = {
            "rtf_total": round(sum(row["synth"]) / sum(row["audio"]), 3),
            "rtf_p50": round(statistics.median(rtfs), 3),
            "first_audio_p50_ms": round(statistics.median(row["first"]) * 1000),
            "first_audio_p95_ms": round(pct(row["first"], 0.95) * 1000),
            "audio_s_total": round(sum(row["audio"]), 1),
            "transcripts_8k": row["hyp8k"],
            "transcripts_8k_ulaw": row["hyp_ulaw"],
        }
    return results


def score(sentences: list[str], per_voice: dict[str, Any]) -> None:
    """Adds the word error rates to each voice's results (from its transcripts)."""
    for r in per_voice.values():
        hyps = r["transcripts_8k"]
        r["wer_8k"] = round(wer(sentences, hyps), 4)
        r["wer_8k_ulaw"] = round(wer(sentences, r["transcripts_8k_ulaw"]), 4)
        r["exact_sentences_8k"] = sum(
            normalize(ref) == normalize(hyp) for ref, hyp in zip(sentences, hyps, strict=True)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", default=",".join(VOICES), help="comma-separated")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES), help="first N only")
    parser.add_argument("--json", type=Path, help="also write the full results here")
    parser.add_argument(
        "--rescore", type=Path, help="score the transcripts of an earlier --json file again"
    )
    args = parser.parse_args()
    if args.rescore:
        report = json.loads(args.rescore.read_text())
    else:
        started = time.time()
        sentences = SENTENCES[: args.sentences]
        report = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "voices": asyncio.run(run(args.voices.split(","), sentences)),
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            },
            "wall_s": round(time.time() - started),
            "sentences": sentences,
        }
    per_voice = report["voices"]
    score(report["sentences"], per_voice)
    print(
        f"{'voice':10} {'WER 8k':>7} {'WER µ-law':>9} {'exact':>5} {'RTF':>6} "
        f"{'1st audio p50':>13} {'p95':>6}"
    )
    for voice, r in per_voice.items():
        print(
            f"{voice:10} {r['wer_8k']:7.1%} {r['wer_8k_ulaw']:9.1%} "
            f"{r['exact_sentences_8k']:>5} {r['rtf_total']:6.2f} "
            f"{r['first_audio_p50_ms']:>10} ms {r['first_audio_p95_ms']:>6}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
