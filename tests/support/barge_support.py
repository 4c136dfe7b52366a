"""Barge-in latency of a *spoken* interruption, measured on a test phone's own recording
(pure numpy; the tests and bench/barge_in_spoken.py share it).

Onset: the first 5 ms window of the interruption clip whose level reaches ``ONSET_DBOV``
(-50 dBov), the clip's own soft start, not a later louder point. Stop: where the agent's
audio ends in what the phone heard. A real answer has pauses between words, so "the last
loud window" alone could read a pause the cut fell into as the stop: the agent's own audio
(the cancelled response's chunks, from the session stream) is aligned to the recording
just before the onset, and where the answer was in a pause of its own past the last window
heard, the pause is read closer: a real voice's pause is not digital silence (Kokoro's
pauses between words stay at -54 to -75 dBov, through G.711 too), while the edge sends
exact zeros once it stopped, so the stop is the first window where the answer still had
sound (at least ``PAUSE_DBOV``) and the phone heard digital silence from there on. Where
the answer's own pause was too quiet to tell, the stop is put at the first window the
answer had loud sound in but the phone did not hear (the later, honest bound).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt
from xcorr import window_scores

__all__ = [
    "ONSET_DBOV",
    "WINDOW",
    "Stop",
    "agent_stop",
    "dbov",
    "speech_onset",
    "window_rms",
]

WINDOW = 40
"""5 ms at 8 kHz: the resolution of onset and stop."""
ONSET_DBOV = -50.0
"""A 5 ms window at or above this level is sound (speech onset, or agent audio heard)."""
ALIGN_SAMPLES = 4000
"""0.5 s of the answer heard just before the onset aligns the answer's audio to the
recording."""
ALIGN_MIN_SCORE = 0.6
"""Below this normalised correlation the alignment is not trusted (no reference check)."""
PAUSE_DBOV = -80.0
"""Inside a pause of the answer, a 5 ms window of it at or above this level is sound the
phone would have heard (G.711 keeps it): hearing digital silence there means the stop."""
SILENT_RMS = 1.0
"""A 5 ms window of the recording below this RMS is digital silence (what the edge sends
once an answer stopped; the G.711 code of zero decodes to zero)."""


def dbov(level: float) -> float:
    """RMS ``level`` of int16 samples as dBov (full scale 32768)."""
    return float(20 * np.log10(max(level, 1e-9) / 32768.0))


def _threshold(dbov_level: float) -> float:
    return 32768.0 * 10 ** (dbov_level / 20)


def window_rms(x: npt.NDArray[Any], window: int = WINDOW) -> npt.NDArray[Any]:
    n = len(x) // window
    frames = np.asarray(x[: n * window], dtype=np.float64).reshape(n, window)
    rms: npt.NDArray[np.float64] = np.sqrt(np.mean(frames * frames, axis=1))
    return rms


def speech_onset(clip: npt.NDArray[Any], level_dbov: float = ONSET_DBOV) -> int:
    """The first sample of the first 5 ms window of ``clip`` at or above ``level_dbov``."""
    loud = np.nonzero(window_rms(clip) >= _threshold(level_dbov))[0]
    if not len(loud):
        raise ValueError(f"the clip never reaches {level_dbov} dBov")
    return int(loud[0]) * WINDOW


@dataclasses.dataclass(frozen=True, slots=True)
class Stop:
    sample: int
    """Where the agent's audio stopped in the recording."""
    heard_end: int
    """The end of the last 5 ms window of the answer the phone heard."""
    aligned: bool
    """The answer's own audio was aligned to the recording (the stop checked against it)."""
    in_pause: bool
    """The answer was in a pause of its own at ``heard_end``: ``sample`` is where the phone
    first heard digital silence where the answer's pause still had sound, or where its next
    loud sound should have been heard when the pause was too quiet to tell."""
    in_pause_found: bool = False
    """``in_pause`` and the stop was read inside the pause (not the next sound's bound)."""
    at_reference: int | None = None
    """The answer's own sample (``reference``) that ``sample`` stands for, when aligned."""


def agent_stop(
    heard: npt.NDArray[Any],
    onset: int,
    reference: npt.NDArray[Any] | None = None,
    horizon: int = 8000,
    level_dbov: float = ONSET_DBOV,
) -> Stop:
    """Where the agent's audio stopped in ``heard`` (the phone's recording), searching from
    ``onset`` to ``onset + horizon`` samples; ``reference`` is the answer's audio as sent
    (int16 at the recording's rate). The recording must run past ``onset + horizon``.

    Raises ValueError when the answer was still heard at the end of the horizon."""
    if len(heard) < onset + horizon:
        raise ValueError("the recording does not reach the end of the horizon yet")
    if onset < ALIGN_SAMPLES:
        raise ValueError("the answer was not heard long enough before the onset")
    loud = _threshold(level_dbov)
    after = window_rms(heard[onset : onset + horizon])
    sound = np.nonzero(after >= loud)[0]
    if len(sound) and sound[-1] >= len(after) - 1:
        raise ValueError("the answer never stopped")
    heard_end = onset + (int(sound[-1]) + 1) * WINDOW if len(sound) else onset
    if reference is None:
        return Stop(heard_end, heard_end, aligned=False, in_pause=False)
    before = heard[onset - ALIGN_SAMPLES : onset].astype(np.float64)
    offset = _align(before, reference.astype(np.float64))
    if offset is None:
        return Stop(heard_end, heard_end, aligned=False, in_pause=False)
    # reference sample of recording sample p: p - (onset - ALIGN_SAMPLES) + offset
    shift = offset - (onset - ALIGN_SAMPLES)
    start = heard_end + shift
    rest = window_rms(reference[max(0, start) :]) if start < len(reference) else np.zeros(0)
    ahead = np.nonzero(rest >= loud)[0]
    if not len(ahead):  # the answer had nothing more to say: the stop is what was heard
        return Stop(heard_end, heard_end, aligned=True, in_pause=False, at_reference=start)
    first = int(ahead[0])
    if first == 0:
        return Stop(heard_end, heard_end, aligned=True, in_pause=False, at_reference=start)
    found = _silenced_in_pause(heard, heard_end, reference, start, first)
    if found is not None:
        return Stop(found, heard_end, True, True, in_pause_found=True, at_reference=found + shift)
    sample = heard_end + first * WINDOW
    return Stop(sample, heard_end, aligned=True, in_pause=True, at_reference=sample + shift)


def _silenced_in_pause(
    heard: npt.NDArray[Any], heard_end: int, reference: npt.NDArray[Any], start: int, windows: int
) -> int | None:
    """Inside the answer's pause (``windows`` windows from ``heard_end``, at reference
    sample ``start``): the first window where the answer had sound (``PAUSE_DBOV``) and the
    phone heard digital silence, and kept hearing it to the pause's end; None when no window
    of the pause tells (the answer was as silent there as what the phone heard)."""
    if start < 0:
        return None
    ref = window_rms(reference[start : start + windows * WINDOW])
    got = window_rms(heard[heard_end : heard_end + windows * WINDOW])
    n = min(len(ref), len(got))
    silent = got[:n] < SILENT_RMS
    sound = _threshold(PAUSE_DBOV)
    for k in range(n):
        if ref[k] >= sound and bool(silent[k:].all()):
            return heard_end + k * WINDOW
    return None


def _align(segment: npt.NDArray[Any], reference: npt.NDArray[Any]) -> int | None:
    """Offset in ``reference`` where ``segment`` fits best (normalised correlation), or
    None below ``ALIGN_MIN_SCORE``."""
    n = len(segment)
    if len(reference) < n or not np.any(segment):
        return None
    score, _energy = window_scores(segment - segment.mean(), reference)
    best = int(np.argmax(score))
    return best if score[best] >= ALIGN_MIN_SCORE else None
