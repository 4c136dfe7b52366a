"""sipphone.sliced_xcorr, the audio check of the PBX tests, on the generated prompts sent
through G.711 as Asterisk sends them: a frame that a jitter buffer inserts or drops no longer
hides a prompt, and other prompts still do not pass for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sipphone import FRAME_SAMPLES, SAMPLE_RATE, normalized_xcorr, read_wav, sliced_xcorr

REPO = Path(__file__).resolve().parents[2]

SOUNDS = REPO / "compose" / "asterisk" / "sounds" / "gerados"
THRESHOLD = 0.8  # pbx_support.wait_heard's


def _ulaw(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Mu-law companding and back (the continuous curve of G.711 mu-law, 8-bit codes): what a
    call does to the prompt, near enough for a correlation."""
    v = x.astype(np.float64) / 32768.0
    y = np.sign(v) * np.log1p(255 * np.abs(v)) / np.log1p(255)
    q = np.round(y * 127) / 127
    x16: npt.NDArray[np.int16] = (
        np.sign(q) * np.expm1(np.abs(q) * np.log1p(255)) / 255 * 32767
    ).astype(np.int16)
    return x16


def _prompt(name: str) -> npt.NDArray[Any]:
    path = SOUNDS / f"{name}.wav"
    if not path.exists():
        pytest.fail(f"{path} missing: scripts/setup.d/30-asterisk-prompts.sh makes it")
    return read_wav(path)


def _heard(name: str) -> npt.NDArray[Any]:
    silence = np.zeros(SAMPLE_RATE, dtype=np.int16)
    return np.concatenate([silence, _ulaw(_prompt(name)), silence])


def _slip(x: npt.NDArray[Any], at_s: float, insert: bool) -> npt.NDArray[Any]:
    i = int(at_s * SAMPLE_RATE)
    if insert:
        return np.concatenate([x[:i], x[i - FRAME_SAMPLES : i], x[i:]])
    return np.concatenate([x[:i], x[i + FRAME_SAMPLES :]])


MENU = slice(int(0.15 * SAMPLE_RATE), int(1.15 * SAMPLE_RATE))  # pbx_support.prompt's default


@pytest.mark.parametrize("at_s", [1.45, 1.55, 1.72])
@pytest.mark.parametrize("insert", [True, False])
def test_one_slipped_frame_still_finds_the_prompt(at_s: float, insert: bool) -> None:
    ref = _prompt("ura-menu")[MENU]
    heard = _slip(_heard("ura-menu"), at_s, insert)
    assert sliced_xcorr(ref, heard) >= THRESHOLD


def test_a_slip_that_defeats_the_whole_clip_check_is_forgiven() -> None:
    ref = _prompt("ura-menu")[MENU]
    heard = _slip(_heard("ura-menu"), 1.72, insert=False)
    assert normalized_xcorr(ref, heard) < THRESHOLD  # what failed the URA tests under load
    assert sliced_xcorr(ref, heard) >= THRESHOLD


@pytest.mark.parametrize("other", ["ura-digite-ramal", "ura-ramal-invalido", "hora-certa"])
def test_another_prompt_does_not_pass_for_the_menu(other: str) -> None:
    assert sliced_xcorr(_prompt("ura-menu")[MENU], _heard(other)) < 0.5


def test_only_the_right_hour_matches() -> None:
    ref = _prompt("hora-21")[:SAMPLE_RATE]
    scores = {h: sliced_xcorr(ref, _heard(f"hora-{h}")) for h in range(24)}
    assert scores[21] >= THRESHOLD
    assert max(v for h, v in scores.items() if h != 21) < 0.5, scores


def test_silence_or_a_short_recording_scores_zero() -> None:
    ref = _prompt("ura-menu")[MENU]
    assert sliced_xcorr(ref, np.zeros(3 * SAMPLE_RATE, dtype=np.int16)) == 0.0
    assert sliced_xcorr(ref, ref[:100]) == 0.0
