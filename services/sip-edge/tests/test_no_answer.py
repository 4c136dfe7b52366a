"""Every turn ends in speech, and a call's resources stay bounded: the pure parts, on a
virtual clock (each step is one caller frame and one playout frame, 20 ms each, as the
media clock delivers them).

- the no-answer watchdog (:class:`sip_edge.call.Turns` with ``no_answer_ms``): the caller
  who finished speaking and hears only silence for the bound gets a :class:`NoAnswer`
  (open responses cut); a long answer, a provisional turn, a barge-in never trigger it;
- :meth:`Pacer.close`: a response that will get no more chunks (a replica died mid-reply)
  plays what arrived and lets the next one play;
- the utterance cap: speech that never pauses is cut and given at the cap, nothing lost.
"""

from __future__ import annotations

import pytest
from sip_edge.call import Pacer, Segmenter, SegmenterParams, TurnEndParams, Turns
from sip_edge.call import events as ev

FB = 320
VOICE = b"\x33" * FB
QUIET = bytes(FB)
BOUND_MS = 8000
BOUND = BOUND_MS // 20  # frames


def make(turn: TurnEndParams | None = None, no_answer_ms: int = BOUND_MS) -> Turns:
    return Turns(Segmenter(SegmenterParams(), turn), Pacer(FB), no_answer_ms=no_answer_ms)


def step(t: Turns, prob: float) -> tuple[list[object], bytes]:
    actions = t.on_caller_frame(VOICE if prob else QUIET, prob)
    return list(actions), t.next_playout_frame()


def speak(t: Turns, voiced: int = 40, silent: int = 26) -> list[object]:
    """The caller speaks ``voiced`` frames, then is silent until the turn ends (500 ms)."""
    actions: list[object] = []
    for _ in range(voiced):
        actions += step(t, 0.9)[0]
    for _ in range(silent):
        actions += step(t, 0.0)[0]
    return actions


def wait(t: Turns, frames: int) -> list[ev.NoAnswer]:
    fired: list[ev.NoAnswer] = []
    for _ in range(frames):
        fired += [a for a in step(t, 0.0)[0] if isinstance(a, ev.NoAnswer)]
    return fired


def test_no_answer_at_all_fires_once_at_the_bound() -> None:
    t = make()
    assert any(isinstance(a, ev.UtteranceReady) for a in speak(t))
    assert t.owed
    assert wait(t, BOUND - 30) == []  # the turn ended ~25 frames ago
    fired = wait(t, 40)
    assert fired == [ev.NoAnswer((), BOUND_MS)]
    assert not t.owed
    assert wait(t, 3 * BOUND) == []  # once per turn: the apology is what the caller hears


def test_an_answer_that_starts_within_the_bound_disarms_it_however_long_it_is() -> None:
    t = make()
    speak(t)
    assert wait(t, BOUND - 50) == []
    # A 30 s answer, streamed faster than real time: far longer than the bound.
    for seq in range(30):
        t.push_audio("r-u1", seq, b"\x22" * FB * 50, seq == 29)
    assert wait(t, 1500 + 3 * BOUND) == []
    assert not t.pacer.playing


def test_an_answer_that_stops_half_way_is_cut_at_the_bound() -> None:
    """The LLM (or TTS) replica died after the first sentence: the response stays open."""
    t = make()
    speak(t)
    t.push_audio("r-u1", 0, b"\x22" * FB * 50, False)  # one sentence (1 s), then nothing
    assert wait(t, 50 + BOUND - 5) == []
    fired = wait(t, 10)
    assert fired == [ev.NoAnswer(("r-u1",), BOUND_MS)]
    assert not t.pacer.playing
    assert not t.push_audio("r-u1", 1, b"\x22" * FB, True)  # its late chunks are dropped
    # A later answer (the retried turn) still plays.
    assert t.push_audio("r-u1-2", 0, b"\x44" * FB, True)
    assert step(t, 0.0)[1][0] == 0x44


def test_an_answer_closed_half_way_still_owes_speech_from_its_last_audio() -> None:
    """The LLM replica died after the first sentence; the one that took the turn over
    closes the dead reply (``superseded``) some seconds later and answers again from the
    start. The silence from the first sentence's end to the new answer's first audio is
    one silence: the close must not restart (or stop) the count, so the bound fires on
    time (found by the kill-llm drill through Asterisk: 12 s of silence, no apology)."""
    t = make()
    speak(t)
    t.push_audio("r-u1", 0, b"\x22" * FB * 50, False)  # one sentence (1 s), then nothing
    assert wait(t, 50 + 300) == []  # 6 s of silence after the sentence
    assert t.close("r-u1")  # superseded: no more chunks will come
    assert wait(t, BOUND - 300 - 5) == []
    assert not t.pacer.playing  # r-u1 is over
    fired = wait(t, 10)
    assert fired == [ev.NoAnswer((), BOUND_MS)]  # nothing open to cut; the apology plays
    assert wait(t, 3 * BOUND) == []  # once


def test_an_answer_closed_after_it_was_all_heard_owes_nothing() -> None:
    """A response closed once every chunk that came was played, followed by another
    response heard whole: nothing is owed after the second one."""
    t = make()
    speak(t)
    t.push_audio("r-u1", 0, b"\x22" * FB * 50, False)
    wait(t, 60)
    t.close("r-u1")
    t.push_audio("r-u1-2", 0, b"\x44" * FB * 100, True)  # the whole answer, 2 s
    assert wait(t, 100 + 3 * BOUND) == []
    assert not t.owed


def test_gaps_between_sentences_shorter_than_the_bound_are_fine() -> None:
    t = make()
    speak(t)
    for seq in range(4):
        t.push_audio("r-u1", seq, b"\x22" * FB * 10, seq == 3)
        assert wait(t, 10 + BOUND - 20) == []  # 0.2 s of audio, then a 7.6 s gap


def test_a_provisional_turn_does_not_arm_it_until_confirmed() -> None:
    t = make(TurnEndParams("silence", speculative_pause_ms=200))
    actions: list[object] = []
    for _ in range(40):
        actions += step(t, 0.9)[0]
    for _ in range(12):
        actions += step(t, 0.0)[0]
    assert any(isinstance(a, ev.ProvisionalUtterance) for a in actions)
    assert not t.owed
    # The caller goes on after a long think: no apology while the turn is still theirs.
    for _ in range(BOUND + 20):
        assert not [a for a in step(t, 0.9)[0] if isinstance(a, ev.NoAnswer)]
    actions = []
    for _ in range(12):
        actions += step(t, 0.0)[0]
    assert any(isinstance(a, ev.ProvisionalUtterance) for a in actions)
    assert any(isinstance(a, ev.ProvisionalCancelled) for a in actions) is False
    for _ in range(14):
        actions += step(t, 0.0)[0]
    assert any(isinstance(a, ev.ProvisionalConfirmed) for a in actions)
    assert t.owed  # confirmed: the turn ended, the caller is owed an answer now


def test_a_barge_in_clears_the_debt() -> None:
    t = make()
    speak(t)
    t.push_audio("r-u1", 0, b"\x22" * FB * 500, False)  # a 10 s answer plays
    assert wait(t, 100) == []
    actions: list[object] = []
    for _ in range(8):  # the caller cuts it (a short "espera")
        actions += step(t, 0.9)[0]
    assert any(isinstance(a, ev.BargeIn) for a in actions)
    # Too short to be an utterance: nothing is owed, the cut answer is not waited for.
    assert wait(t, 3 * BOUND) == []


def test_an_interrupting_turn_owes_its_own_answer() -> None:
    t = make()
    speak(t)
    t.push_audio("r-u1", 0, b"\x22" * FB * 500, False)
    wait(t, 100)
    actions = speak(t)  # barge-in, then a whole new turn
    assert any(isinstance(a, ev.BargeIn) for a in actions)
    assert t.owed
    assert [a.cut for a in wait(t, BOUND + 5)] == [()]


def test_the_watchdog_is_off_at_zero() -> None:
    t = make(no_answer_ms=0)
    speak(t)
    assert wait(t, 3 * BOUND) == []


def test_a_stalled_greeting_is_cut_too() -> None:
    t = make()
    t.push_audio("greeting", 0, b"\x22" * FB * 10, False)
    assert [a.cut for a in wait(t, 10 + BOUND + 2)] == [("greeting",)]


# --- Pacer.close ------------------------------------------------------------------------


def test_close_plays_what_arrived_in_order_then_the_next_response() -> None:
    p = Pacer(FB)
    p.push("r-1", 0, b"\x01" * FB, False)
    p.push("r-1", 1, b"\x02" * FB, False)
    p.push("r-1", 3, b"\x09" * FB, False)  # after a gap: never played
    p.push("r-2", 0, b"\x05" * FB, True)
    assert p.next_frame()[0] == 1
    assert p.close("r-1")
    assert [p.next_frame()[0] for _ in range(3)] == [2, 5, 0]
    assert not p.playing
    assert not p.push("r-1", 2, b"\x07" * FB, True)  # late: dropped
    assert p.buffered_ms == 0


def test_close_of_an_unknown_or_finished_response_is_a_no_op() -> None:
    p = Pacer(FB)
    assert not p.close("nope")
    p.push("r-1", 0, b"\x01" * FB, True)
    p.next_frame()
    p.next_frame()  # the response is over once the frame after its last one is asked for
    assert not p.close("r-1")


def test_cancel_of_a_response_not_arrived_yet_drops_its_chunks() -> None:
    p = Pacer(FB)
    assert p.cancel("r-9") == []
    assert not p.push("r-9", 0, b"\x01" * FB, True)
    assert not p.playing


def test_audible_says_whether_the_frame_was_audio() -> None:
    p = Pacer(FB)
    p.next_frame()
    assert not p.audible
    p.push("r-1", 0, b"\x01" * 10, True)  # shorter than a frame: padded, still audio
    p.next_frame()
    assert p.audible
    p.next_frame()
    assert not p.audible


# --- the utterance cap ------------------------------------------------------------------


def test_speech_that_never_pauses_is_cut_at_the_cap_and_nothing_is_lost() -> None:
    seg = Segmenter(SegmenterParams(max_utterance_ms=2000))
    events: list[object] = []
    n = 29_000 // 20  # 29 s of speech, no pause
    for i in range(n):
        events += seg.push(bytes([i % 251 + 1]) * FB, 0.9)
    for _ in range(30):
        events += seg.push(bytes(FB), 0.0)
    utterances = [e for e in events if isinstance(e, ev.UtteranceReady)]
    assert len(utterances) == 15
    assert all(u.duration_ms <= 2000 for u in utterances)
    assert seg.capped == 14  # the last one ended with the caller's pause
    # Every voiced frame is in exactly one utterance, in order.
    heard = b"".join(u.audio for u in utterances)
    tags = [heard[i] for i in range(0, len(heard), FB) if heard[i]]
    assert tags == [i % 251 + 1 for i in range(n)]
    assert sum(isinstance(e, ev.SpeechEnded) for e in events) == 15


def test_no_cap_by_default() -> None:
    seg = Segmenter(SegmenterParams())
    events: list[object] = []
    for _ in range(60_000 // 20):
        events += seg.push(VOICE, 0.9)
    assert not any(isinstance(e, ev.UtteranceReady) for e in events)


@pytest.mark.parametrize("cap_ms", [1000, 30_000])
def test_the_cap_bounds_the_utterance_buffer(cap_ms: int) -> None:
    seg = Segmenter(SegmenterParams(max_utterance_ms=cap_ms))
    longest = 0
    for _ in range(3 * cap_ms // 20):
        for e in seg.push(VOICE, 0.9):
            if isinstance(e, ev.UtteranceReady):
                longest = max(longest, len(e.audio))
    assert longest == cap_ms // 20 * FB


def test_a_turn_the_pipeline_heard_nothing_in_is_forgiven() -> None:
    t = make()
    speak(t)
    wait(t, 100)
    t.forgive()  # an empty transcript: no answer is coming, none is owed
    assert not t.owed
    assert wait(t, 3 * BOUND) == []
