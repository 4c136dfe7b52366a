"""The drills' judge on the real engines' speech (bench/drills.py --engines real): sip-edge's
apology clip (espeak, found by correlation) is still found after the project's Kokoro voice
and never mistaken for it (the answer from the facts, the persona's apology), and the
length the judge waits for, the voiced seconds of the response's audio, is what the phone's
recording of that audio counts. No Asterisk: Kokoro and espeak-ng only."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from agent_support import kokoro_says
from drills import EDGE_APOLOGY, FRAME_S, REAL_QUESTION, REPO, spoken_s, voiced
from llm_worker.company import address_answer, company_answer
from llm_worker.facts_store import load_facts
from llm_worker.persona import load_persona
from sip_edge.testing import audio_found, read_wav, speech_wav

RATE = 8000


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[Any]:
    path = speech_wav(EDGE_APOLOGY, tmp_path_factory.mktemp("clip") / "apology-8000.wav")
    return read_wav(path)[0]


@pytest.fixture(scope="module")
def answer() -> npt.NDArray[Any]:
    facts = load_facts(REPO / "compose" / "agent" / "fatos.toml")
    return kokoro_says(" ".join(address_answer(facts)))


@pytest.fixture(scope="module")
def apology() -> npt.NDArray[Any]:
    return kokoro_says(load_persona().apology)


def test_kokoro_speech_is_never_taken_for_the_edge_apology(
    clip: npt.NDArray[Any], answer: npt.NDArray[Any], apology: npt.NDArray[Any]
) -> None:
    assert audio_found(answer.astype(np.float64), clip) is not None
    assert audio_found(apology.astype(np.float64), clip) is not None


def test_the_edge_apology_is_found_after_kokoro_speech(
    clip: npt.NDArray[Any], answer: npt.NDArray[Any]
) -> None:
    half = answer[: len(answer) // 2].astype(np.float64)
    heard = np.concatenate([half, np.zeros(RATE), clip, np.zeros(RATE // 2)])
    assert audio_found(heard, clip) is None


def test_the_length_waited_for_is_what_the_phone_counts_of_the_same_audio(
    answer: npt.NDArray[Any],
) -> None:
    need = spoken_s(answer.astype("<i2").tobytes(), RATE)
    assert need > 3.0, need  # the address: several seconds of speech
    heard = np.concatenate([np.zeros(RATE // 3, dtype=np.int16), answer])  # not frame-aligned
    assert voiced(heard).sum() * FRAME_S >= 0.9 * need


def test_the_real_drills_question_is_answered_from_the_facts_without_the_model() -> None:
    facts = load_facts(REPO / "compose" / "agent" / "fatos.toml")
    assert company_answer(REAL_QUESTION, facts) == address_answer(facts)
