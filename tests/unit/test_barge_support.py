"""barge_support: the onset of a soft interruption and the stop of an answer with pauses,
on synthetic audio where both are known to the sample."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from barge_support import WINDOW, agent_stop, speech_onset

RATE = 8000


def _voice(seconds: float, seed: int, amplitude: float = 3000.0) -> npt.NDArray[Any]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(int(seconds * RATE)) * amplitude


def test_onset_is_the_first_window_at_minus_50_dbov_not_the_loud_part() -> None:
    """A 60 ms fade-in from silence: the onset is where it first reaches -50 dBov (rms 104),
    long before it is loud."""
    ramp = np.linspace(0.0, 1.0, 480) ** 2
    clip = np.concatenate([np.zeros(800), _voice(0.06, 1) * ramp, _voice(0.5, 2)])
    onset = speech_onset(clip.astype(np.int16))
    level = np.sqrt(np.mean(clip[onset : onset + WINDOW] ** 2))
    before = np.sqrt(np.mean(clip[onset - WINDOW : onset] ** 2))
    assert 800 <= onset < 800 + 240
    assert level >= 103
    assert before < 104
    with pytest.raises(ValueError, match="never reaches"):
        speech_onset(np.zeros(4000, np.int16))


def test_stop_is_the_end_of_what_was_heard_when_the_answer_was_still_speaking() -> None:
    answer = _voice(3.0, 3)
    lead = 2000  # the answer starts 250 ms into the recording
    onset, cut = lead + 8000, lead + 8000 + 1300  # cut 162.5 ms after the onset
    heard = np.zeros(lead + 3 * RATE)
    heard[lead:cut] = answer[: cut - lead]
    stop = agent_stop(heard.astype(np.int16), onset, answer.astype(np.int16))
    assert stop.aligned
    assert not stop.in_pause
    assert abs(stop.sample - cut) <= WINDOW
    assert stop.at_reference is not None
    assert abs(stop.at_reference - (cut - lead)) <= WINDOW  # the answer's own sample there


def test_a_cut_inside_a_pause_of_the_answer_counts_to_its_next_sound() -> None:
    """The answer paused 50 ms after the onset for 200 ms and was cut in the pause: what the
    phone heard ends at the pause, but the stop is where the next word should have been."""
    answer = _voice(3.0, 4)
    lead = 2000
    onset = lead + 8000
    pause = (onset + 400 - lead, onset + 2000 - lead)
    answer[pause[0] : pause[1]] = 0
    heard = np.zeros(lead + 3 * RATE)
    heard[lead : onset + 1200] = answer[: onset + 1200 - lead]  # cut in the pause
    stop = agent_stop(heard.astype(np.int16), onset, answer.astype(np.int16))
    assert stop.in_pause
    assert not stop.in_pause_found  # a digitally silent pause cannot tell where it stopped
    assert abs(stop.heard_end - (onset + 400)) <= WINDOW
    assert abs(stop.sample - (onset + 2000)) <= WINDOW
    # without the answer's audio only what was heard is known
    blind = agent_stop(heard.astype(np.int16), onset)
    assert not blind.aligned
    assert blind.sample == blind.heard_end


def test_a_cut_inside_a_quiet_pause_is_read_where_the_phone_heard_digital_silence() -> None:
    """A real voice's pause is quiet, not silent (-65 dBov here): the edge's stop inside it
    is where the phone's recording turns to exact zeros, not the next word."""
    answer = _voice(3.0, 6)
    lead = 2000
    onset = lead + 8000
    pause = (onset + 400 - lead, onset + 2000 - lead)
    answer[pause[0] : pause[1]] = _voice(0.2, 7, amplitude=18.0)  # about -65 dBov
    heard = np.zeros(lead + 3 * RATE)
    cut = onset + 1200
    heard[lead:cut] = answer[: cut - lead]
    stop = agent_stop(heard.astype(np.int16), onset, answer.astype(np.int16))
    assert stop.in_pause
    assert stop.in_pause_found
    assert abs(stop.heard_end - (onset + 400)) <= WINDOW
    assert abs(stop.sample - cut) <= WINDOW
    # the phone still heard the pause's sound after a moment of silence: not the stop there
    heard[cut + 400 : cut + 600] = answer[cut + 400 - lead : cut + 600 - lead]
    later = agent_stop(heard.astype(np.int16), onset, answer.astype(np.int16))
    assert abs(later.sample - (cut + 600)) <= WINDOW


def test_an_answer_that_never_stopped_is_an_error() -> None:
    answer = _voice(3.0, 5)
    with pytest.raises(ValueError, match="never stopped"):
        agent_stop(answer.astype(np.int16), 8000, answer.astype(np.int16))
