"""The failure drills' judge (tests/support/drills.py) on synthetic recordings: the fake
engines' tones of known length, and the real engines' speech, whose length is that of the
turn's complete response on the session stream (:func:`drills.completed_speech_s`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from asp.audio import AudioConfig
from asp.messages import (
    Message,
    ResponseAudio,
    ResponseCancel,
    ResponseEnd,
    ResponseStart,
    SessionStart,
)
from drills import (
    ANSWER_S,
    BOUND_S,
    TOLERANCE_S,
    completed_speech_s,
    judge_turn,
    spoken_s,
)

RATE = 8000
Pcm = npt.NDArray[np.int16]
SID = "00000000-0000-4000-8000-000000000001"


def tone(seconds: float, rate: int = RATE) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    out: Pcm = (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return out


def quiet(seconds: float, rate: int = RATE) -> Pcm:
    return np.zeros(int(seconds * rate), dtype=np.int16)


def speech(*parts: float) -> Pcm:
    """Alternating voiced and silent stretches (seconds), voiced first: speech with pauses."""
    return np.concatenate(
        [tone(s) if i % 2 == 0 else quiet(s) for i, s in enumerate(parts)]
    ).astype(np.int16)


class StubCall:
    """What :func:`drills.judge_turn` reads of a call: a fixed recording."""

    def __init__(self, recording: Pcm) -> None:
        self._recording = recording
        self.disconnected = threading.Event()

    def recording(self) -> Pcm:
        return self._recording


@dataclass
class Lengths:
    """An :class:`drills.Expect` with fixed answers (None: no complete response yet)."""

    answer: float | None
    apology: float | None = None
    min_answer_s: float = 1.0
    min_apology_s: float = 1.0

    def answer_s(self) -> float | None:
        return self.answer

    def apology_s(self) -> float | None:
        return self.apology


# an "edge apology" clip (noise) that the recordings below (tones) never hold
NO_CLIP = np.random.default_rng(1).standard_normal(2 * RATE) * 3000


def judge(recording: Pcm, expect: Lengths | None, fault_at: int | None = None) -> str:
    turn = judge_turn(
        StubCall(recording),  # type: ignore[arg-type]
        0,
        fault_at,
        NO_CLIP,
        lambda: False,
        timeout=0.6,
        expect=expect,
    )
    return f"{turn.how} ok={turn.ended_in_speech}"


def test_the_fake_engines_answer_is_its_tone_of_known_length() -> None:
    assert judge(np.concatenate([quiet(1.0), tone(ANSWER_S)]), None) == "answer ok=True"
    short = np.concatenate([quiet(1.0), tone(0.8 * ANSWER_S)])
    assert judge(short, None) == "nothing in 1 s ok=False"


def test_real_speech_is_an_answer_once_as_much_of_it_as_its_audio_on_the_stream_was_heard() -> None:
    said = speech(1.0, 0.3, 1.5, 0.3, 1.0)  # 3.5 s voiced, with pauses
    heard = np.concatenate([quiet(1.0), said])
    assert judge(heard, Lengths(answer=3.5)) == "answer ok=True"
    # half of it heard yet: the turn goes on
    assert judge(heard[: len(heard) // 2], Lengths(answer=3.5)) == "nothing in 1 s ok=False"
    # no complete answer on the stream yet, however much was heard
    assert judge(heard, Lengths(answer=None)) == "nothing in 1 s ok=False"
    # a complete answer with no voiced audio is no answer: the phone must hear speech
    assert judge(quiet(3.0), Lengths(answer=0.0)) == "nothing in 1 s ok=False"


def test_real_speech_after_a_silence_past_the_bound_is_a_silent_turn() -> None:
    late = np.concatenate([quiet(BOUND_S + TOLERANCE_S + 0.5), speech(2.0)])
    assert judge(late, Lengths(answer=2.0)).startswith("answer after 10.0 s of silence ok=False")
    in_time = np.concatenate([quiet(BOUND_S + TOLERANCE_S - 0.5), speech(2.0)])
    assert judge(in_time, Lengths(answer=2.0)) == "answer ok=True"


def test_the_pipeline_apology_counts_only_what_was_heard_after_the_fault() -> None:
    before, after = speech(1.5), speech(2.0)
    heard = np.concatenate([quiet(1.0), before, quiet(2.0), after])
    fault_at = RATE * 1 + len(before)
    got = judge(heard, Lengths(answer=None, apology=2.0), fault_at=fault_at)
    assert got == "pipeline apology ok=True"
    got = judge(heard, Lengths(answer=None, apology=3.0), fault_at=fault_at)
    assert got == "nothing in 1 s ok=False"


def _pcm(x: Pcm) -> bytes:
    return x.astype("<i2").tobytes()


def _response(rid: str, audio: Pcm, chunks: int = 3, end: bool = True) -> list[Message]:
    """A response's start, its audio in ``chunks`` pieces (out of order) and its end."""
    pieces = np.array_split(audio, chunks)
    out: list[Message] = [ResponseStart(session_id=SID, response_id=rid)]
    for seq in reversed(range(chunks)):
        out.append(
            ResponseAudio(
                session_id=SID,
                response_id=rid,
                seq=seq,
                audio=_pcm(pieces[seq]),
                is_final=seq == chunks - 1,
            )
        )
    if end:
        out.append(ResponseEnd(session_id=SID, response_id=rid, interrupted=False))
    return out


def test_the_turns_complete_response_gives_the_length_of_real_speech() -> None:
    start = SessionStart(session_id=SID, audio=AudioConfig(sample_rate=RATE))
    log: list[Message] = [
        start,
        *_response("greeting", speech(4.0)),
        *_response("old", speech(6.0)),  # an earlier turn's
        *_response("half", speech(0.5)),  # cut by a crash, closed as superseded
        ResponseCancel(session_id=SID, response_id="half", reason="superseded"),
        *_response("answer", speech(1.0, 0.5, 1.2)),
        *_response("apology-1-0", speech(1.5)),
    ]
    before = frozenset({"greeting", "old"})
    assert completed_speech_s(log, before, apology=False) == pytest.approx(2.2)
    assert completed_speech_s(log, before, apology=True) == pytest.approx(1.5)
    # an earlier turn's answer is not this turn's
    assert completed_speech_s(log, frozenset({"greeting", "old", "answer"}), False) is None
    # still being spoken: no response.end yet
    unfinished = [start, *_response("answer", speech(2.0), end=False)]
    assert completed_speech_s(unfinished, frozenset(), apology=False) is None
    interrupted = [
        *_response("cut", speech(2.0), end=False),
        ResponseEnd(session_id=SID, response_id="cut", interrupted=True),
    ]
    assert completed_speech_s([start, *interrupted], frozenset(), apology=False) is None


def test_a_sentence_published_twice_counts_once_as_sip_edge_plays_it() -> None:
    """A redone sentence (its seqs again, or new seqs after the final chunk: Redis restarted
    between a sentence's transaction and its reply) is heard once at the phone."""
    start = SessionStart(session_id=SID, audio=AudioConfig(sample_rate=RATE))
    first = _response("r", speech(1.0, 0.2, 2.0), chunks=3)
    again = [m for m in first if isinstance(m, ResponseAudio) and m.seq == 1]
    later = [
        ResponseAudio(session_id=SID, response_id="r", seq=3, audio=_pcm(tone(2.0)), is_final=False)
    ]
    log: list[Message] = [start, *first, *again, *later]
    assert completed_speech_s(log, frozenset(), apology=False) == pytest.approx(3.0)


def test_spoken_seconds_follow_the_sessions_rate() -> None:
    wide = tone(1.0, rate=16000)
    assert spoken_s(_pcm(wide), 16000) == pytest.approx(1.0)
    assert spoken_s(_pcm(np.concatenate([tone(0.6), quiet(1.0)])), RATE) == pytest.approx(0.6)
