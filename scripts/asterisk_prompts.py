"""Generates the PABX's Portuguese prompts offline with espeak-ng (voice pt-br) and sox.

Usage: asterisk_prompts.py OUT_DIR

Writes 8 kHz, 16-bit, mono WAV files (the format of the seed's "Adicionar Áudios da URA"):
the URA and status messages, and the pieces of the *60 hora certa (hora-0..hora-23,
minuto-0..minuto-59), whose number words are spelled here so that the gender is right
("duas horas", "dois minutos"). Later the project's own TTS may replace espeak-ng here.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

PROMPTS = {
    "ura-menu": (
        "Bem-vindo ao PABX. Para falar com o operador, digite 1. Para suporte, digite 2. "
        "Para discar um ramal, digite 3. Para ouvir novamente, digite 0."
    ),
    "ura-digite-ramal": "Digite o número do ramal.",
    "ura-ramal-invalido": "Ramal inválido.",
    "ura-opcao-invalida": "Opção inválida.",
    "ura-transferindo": "Transferindo.",
    "ura-adeus": "Obrigado pela ligação. Até logo.",
    "ramal-nao-atende": "O ramal não atende. Tente novamente mais tarde. Até logo.",
    "ramal-ocupado": "O ramal está ocupado. Tente novamente mais tarde. Até logo.",
    "ramal-indisponivel": "O ramal está indisponível no momento. Até logo.",
    "agente-indisponivel": "O agente virtual está indisponível no momento. Tente mais tarde.",
    "eco-inicio": "Teste de eco. Fale e você vai ouvir a sua voz.",
    "hora-certa": "Hora certa.",
}

UNITS_M = [
    "zero",
    "um",
    "dois",
    "três",
    "quatro",
    "cinco",
    "seis",
    "sete",
    "oito",
    "nove",
    "dez",
    "onze",
    "doze",
    "treze",
    "catorze",
    "quinze",
    "dezesseis",
    "dezessete",
    "dezoito",
    "dezenove",
]
TENS = {
    20: "vinte",
    30: "trinta",
    40: "quarenta",
    50: "cinquenta",
    60: "sessenta",
    70: "setenta",
    80: "oitenta",
    90: "noventa",
}
HUNDREDS = [
    "_",
    "cento",
    "duzentos",
    "trezentos",
    "quatrocentos",
    "quinhentos",
    "seiscentos",
    "setecentos",
    "oitocentos",
    "novecentos",
]


def number_words(n: int, feminine: bool = False) -> str:
    """Brazilian Portuguese cardinal, 0 <= n < 1_000_000. ``feminine``: "uma", "duas" for
    the units (the clock's hours; the hundreds stay masculine). bench/voice_wer.py spells the
    numbers of its texts with it too."""
    units = list(UNITS_M)
    if feminine:
        units[1], units[2] = "uma", "duas"
    if n < 20:
        return units[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return TENS[tens * 10] + ("" if unit == 0 else " e " + units[unit])
    if n < 1000:
        if n == 100:
            return "cem"
        hundreds, rest = divmod(n, 100)
        return HUNDREDS[hundreds] + (f" e {number_words(rest, feminine)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    head = "mil" if thousands == 1 else f"{number_words(thousands)} mil"
    if not rest:
        return head
    joiner = " e " if rest < 100 or rest % 100 == 0 else " "
    return head + joiner + number_words(rest, feminine)


def counted(n: int, zero: str, one: str, many: str, feminine: bool) -> str:
    """What the clock says of ``n`` hours or minutes: ``zero`` and ``one`` (the singular), or
    ``many`` with the number in words in place of ``{}``."""
    if n == 0:
        return zero
    if n == 1:
        return one
    return many.format(number_words(n, feminine))


def hour_text(h: int) -> str:
    return counted(h, "Zero hora", "Uma hora", "{} horas", feminine=True).capitalize()


def minute_text(m: int) -> str:
    return counted(m, "em ponto.", "e um minuto.", "e {} minutos.", feminine=False)


def all_prompts() -> dict[str, str]:
    prompts = dict(PROMPTS)
    prompts.update({f"hora-{h}": hour_text(h) for h in range(24)})
    prompts.update({f"minuto-{m}": minute_text(m) for m in range(60)})
    return prompts


def synth(text: str, out: Path, tmp: Path) -> None:
    raw = tmp / "raw.wav"
    espeak = ["espeak-ng", "-v", "pt-br", "-s", "150", "-w", str(raw), text]
    sox = ["sox", str(raw), "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer"]
    # fixed argv of Debian tools found on PATH; the text is ours
    subprocess.run(espeak, check=True, capture_output=True)  # noqa: S603
    subprocess.run([*sox, str(out), "norm", "-3"], check=True, capture_output=True)  # noqa: S603


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in all_prompts().items():
            synth(text, out_dir / f"{name}.wav", Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
