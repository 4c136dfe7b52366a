"""Barge-in and full duplex on a virtual clock: each step is one caller frame and one
playout frame (20 ms each), as the media clock delivers them."""

from __future__ import annotations

import pytest
from sip_edge.call import Pacer, Segmenter, SegmenterParams, TurnEndParams, Turns
from sip_edge.call.events import BargeIn, SpeechEnded, SpeechStarted, TurnCheck, UtteranceReady

FB = 320
VOICE = b"\x33" * FB  # louder than the agent audio below (0x2222): not echo
QUIET = bytes(FB)


MODEL = TurnEndParams("model", pause_ms=200, max_silence_ms=1200)


def make(barge_in_min_ms: int = 120, turn: TurnEndParams | None = None) -> Turns:
    return Turns(Segmenter(SegmenterParams(), turn), Pacer(FB), barge_in_min_ms)


def step(t: Turns, prob: float) -> tuple[list[object], bytes]:
    actions = t.on_caller_frame(VOICE if prob else QUIET, prob)
    return list(actions), t.next_playout_frame()


def run(t: Turns, probs: list[float]) -> list[object]:
    """Steps ``t`` through one caller frame per speech probability: every action taken."""
    actions: list[object] = []
    for prob in probs:
        actions += step(t, prob)[0]
    return actions


def start_long_answer(t: Turns) -> None:
    for seq in range(10):
        t.push_audio("resp-1", seq, b"\x22" * FB * 50, False)  # 10 s queued, not final


@pytest.mark.parametrize("turn", [None, MODEL], ids=["silence", "model"])
def test_caller_speech_during_playback_stops_it_within_the_guard(
    turn: TurnEndParams | None,
) -> None:
    t = make(barge_in_min_ms=120, turn=turn)
    start_long_answer(t)
    for _ in range(25):
        actions, out = step(t, 0.0)
        assert actions == []
        assert out[0] == 0x22
    played_after_onset = 0
    barge: list[object] = []
    for _ in range(20):
        actions, out = step(t, 0.9)
        barge += [a for a in actions if isinstance(a, BargeIn)]
        if out[0] == 0x22:
            played_after_onset += 1
    # 6 voiced frames (120 ms) make it count; the frame of the 6th is already silent.
    assert played_after_onset == 5
    assert barge == [BargeIn("resp-1", 31)]
    assert t.barge_ins == 1
    assert not t.playing
    # Late chunks of the cut response never play.
    assert not t.push_audio("resp-1", 10, b"\x22" * FB, True)
    _, out = step(t, 0.9)
    assert out == QUIET


def test_interrupting_speech_becomes_the_next_utterance() -> None:
    t = make()
    start_long_answer(t)
    actions = run(t, [0.0] * 10 + [0.9] * 30 + [0.0] * 30)
    kinds = [type(a) for a in actions]
    assert kinds == [BargeIn, SpeechStarted, UtteranceReady, SpeechEnded]
    utt = actions[2]
    assert isinstance(utt, UtteranceReady)
    # The utterance starts with the frames that interrupted (after the prefix padding).
    voiced = [utt.audio[i] for i in range(0, len(utt.audio), FB)].count(0x33)
    assert voiced == 30


def test_short_noise_during_playback_does_not_barge_in() -> None:
    t = make(barge_in_min_ms=120)
    start_long_answer(t)
    for prob in ([0.0] * 10 + [0.9] * 5) * 6:  # 100 ms bursts
        actions, out = step(t, prob)
        assert not any(isinstance(a, BargeIn) for a in actions)
        assert out[0] == 0x22
    assert t.playing


def test_guard_is_configurable() -> None:
    t = make(barge_in_min_ms=200)
    start_long_answer(t)
    n = 0
    while True:
        n += 1
        actions, _ = step(t, 0.9)
        if any(isinstance(a, BargeIn) for a in actions):
            break
    assert n == 10


def test_speech_without_playback_is_no_barge_in() -> None:
    t = make()
    actions = run(t, [0.9] * 30 + [0.0] * 30)
    assert [type(a) for a in actions] == [SpeechStarted, UtteranceReady, SpeechEnded]
    assert t.barge_ins == 0


ECHO = b"\x00\x08" * (FB // 2)  # peak 0x0800: 12 dB below the agent audio (0x2222)


def test_echo_of_the_agent_is_not_a_barge_in_nor_an_utterance() -> None:
    t = make()
    start_long_answer(t)
    actions: list[object] = []
    for _ in range(100):
        step(t, 0.0)  # the agent's voice is going out: the guard learns its level
        actions += t.on_caller_frame(ECHO, 0.9)
    assert actions == []
    assert t.playing
    assert t.echo_frames == 100


def test_echo_guard_forgets_the_agent_after_its_tail() -> None:
    t = make()
    t.push_audio("r", 0, b"\x22" * FB * 5, True)
    for _ in range(5 + 15):  # the answer, then the guard's 300 ms tail of silence
        t.next_playout_frame()
    actions: list[object] = []
    for _ in range(30):
        actions += t.on_caller_frame(ECHO, 0.9)
    assert SpeechStarted in [type(a) for a in actions]


def test_echo_guard_can_be_turned_off() -> None:
    t = Turns(Segmenter(SegmenterParams()), Pacer(FB), 120, echo_guard_db=0)
    start_long_answer(t)
    barge = []
    for _ in range(20):
        t.next_playout_frame()
        barge += [a for a in t.on_caller_frame(ECHO, 0.9) if isinstance(a, BargeIn)]
    assert len(barge) == 1


def test_a_frame_the_classifier_could_not_judge_yet_counts_once_judged_voiced() -> None:
    """Silero scores 32 ms windows: the first frame of speech gets its verdict with the
    next one. Judged voiced, it counts towards the guard: 6 frames of speech, not 7."""
    t = make(barge_in_min_ms=120)
    start_long_answer(t)
    for _ in range(25):
        step(t, 0.0)
    assert t.on_caller_frame(VOICE, 0.0, deferred=True) == []  # no verdict yet
    t.next_playout_frame()
    frames = 1
    while True:
        frames += 1
        if any(isinstance(a, BargeIn) for a in t.on_caller_frame(VOICE, 0.9)):
            break
        assert frames < 20
    assert frames == 6


def test_a_deferred_frame_judged_silent_does_not_count() -> None:
    t = make(barge_in_min_ms=120)
    start_long_answer(t)
    for _ in range(10):
        assert t.on_caller_frame(VOICE, 0.0, deferred=True) == []
        assert t.on_caller_frame(QUIET, 0.0) == []  # the verdict: silence
        t.on_caller_frame(VOICE, 0.9)
        t.on_caller_frame(QUIET, 0.0)
        t.on_caller_frame(QUIET, 0.0)
        t.on_caller_frame(QUIET, 0.0)  # 60 ms: the burst ends
    assert t.playing


def test_the_utterance_carries_its_closing_silence_and_played_answers_are_reported() -> None:
    t = make()
    actions = run(t, [0.9] * 30 + [0.0] * 30)
    assert [a.silence_ms for a in actions if isinstance(a, UtteranceReady)] == [500]
    t.push_audio("r-u1", 0, b"\x22" * FB * 2, True)
    assert t.take_started() == []
    step(t, 0.0)
    assert t.take_started() == ["r-u1"]
    step(t, 0.0)
    assert t.take_started() == []


# --- model turn mode ----------------------------------------------------------------------


def test_model_mode_asks_then_a_complete_verdict_publishes_the_utterance() -> None:
    t = make(turn=MODEL)
    actions = run(t, [0.9] * 30 + [0.0] * 10)
    assert [type(a) for a in actions] == [SpeechStarted, TurnCheck]
    check = actions[1]
    assert isinstance(check, TurnCheck)
    assert t.awaiting(check.check_id)
    assert len(check.audio) == 40 * FB
    ended = t.on_turn_verdict(check.check_id, 0.9)
    assert [type(a) for a in ended] == [UtteranceReady, SpeechEnded]
    assert not t.awaiting(check.check_id)


def test_model_mode_interrupting_speech_still_barges_in_and_becomes_the_next_turn() -> None:
    t = make(turn=MODEL)
    start_long_answer(t)
    actions = run(t, [0.0] * 10 + [0.9] * 30 + [0.0] * 60)  # nobody answers the check: the cap
    kinds = [type(a) for a in actions]
    assert kinds == [BargeIn, SpeechStarted, TurnCheck, UtteranceReady, SpeechEnded]
    assert t.barge_ins == 1


def _frames_to_barge_in(t: Turns, probs: list[float]) -> int | None:
    """Feeds ``probs`` (one caller frame each, during playback); the 1-based frame that
    stopped the answer, or None."""
    for k, prob in enumerate(probs, 1):
        actions = t.on_caller_frame(VOICE if prob else QUIET, prob)
        t.next_playout_frame()
        if any(isinstance(a, BargeIn) for a in actions):
            return k
    return None


def _after_silence(onset_ms: int = 60) -> Turns:
    t = Turns(Segmenter(SegmenterParams()), Pacer(FB), 120, barge_in_onset_ms=onset_ms)
    start_long_answer(t)
    assert _frames_to_barge_in(t, [0.0] * 25) is None
    return t


def test_a_soft_onset_counts_towards_the_guard_up_to_60_ms() -> None:
    """A word that starts softly: the VAD hears it (0.2: not silence) before the model is
    sure (0.9). Up to 3 such frames (60 ms) just before the first voiced frame count, so the
    answer stops 120 ms after the word began, not 120 ms after the model was sure."""
    soft = [0.2] * 5  # 100 ms of soft onset: only the last 60 ms count
    assert _frames_to_barge_in(_after_silence(), soft + [0.9] * 10) == 5 + 3
    assert _frames_to_barge_in(_after_silence(), [0.2, 0.9] + [0.9] * 10) == 1 + 5
    # turned off: 120 ms of voiced frames, as before
    assert _frames_to_barge_in(_after_silence(0), soft + [0.9] * 10) == 5 + 6


def test_soft_frames_alone_never_barge_in_and_silence_is_not_an_onset() -> None:
    assert _frames_to_barge_in(_after_silence(), [0.3] * 200) is None
    # a frame the model scores at its silence floor (0.01) is no onset
    assert _frames_to_barge_in(_after_silence(), [0.01] * 5 + [0.9] * 10) == 5 + 6
    # the soft onset counts once per burst: frames inside a burst's short gaps do not
    t = _after_silence()
    assert _frames_to_barge_in(t, [0.2, 0.2, 0.2, 0.9, 0.2, 0.9]) is None
    assert _frames_to_barge_in(t, [0.9]) == 1  # 3 + 1 + 1 + 1 voiced: 6 frames


SOFT_VOICE = b"\x00\x0c" * (FB // 2)  # peak 0x0C00: 9 dB below the agent audio (0x2222)


def _playing_while_the_line_returns(frame: bytes, frames: int, learn: bool = True) -> Turns:
    t = Turns(Segmenter(SegmenterParams()), Pacer(FB), 120, echo_learn=learn)
    start_long_answer(t)
    for _ in range(frames):
        t.next_playout_frame()
        assert t.on_caller_frame(frame, 0.9 if any(frame) else 0.0) == []
    return t


def _barge_in_after(t: Turns, frame: bytes, frames: int = 20) -> int | None:
    for k in range(1, frames + 1):
        t.next_playout_frame()
        if any(isinstance(a, BargeIn) for a in t.on_caller_frame(frame, 0.9)):
            return k
    return None


def test_on_a_line_without_echo_a_caller_quieter_than_the_agent_barges_in() -> None:
    """The line returned nothing for 900 ms of the answer: a caller 9 dB under the agent's
    peak (which the fixed 6 dB guard takes for echo) stops it after 120 ms."""
    assert _barge_in_after(_playing_while_the_line_returns(QUIET, 45), SOFT_VOICE) == 6
    assert _barge_in_after(_playing_while_the_line_returns(QUIET, 45, False), SOFT_VOICE) is None
    # not learnt yet (300 ms of quiet, then under 500 ms of returns): the fixed guard
    assert _barge_in_after(_playing_while_the_line_returns(QUIET, 35), SOFT_VOICE) is None


def test_the_learnt_guard_keeps_a_lines_echo_out_and_lets_the_caller_in() -> None:
    """The line returns ECHO (12 dB under the agent) for 2 s: echo up to 6 dB louder than
    that is still echo; the caller's own voice still barges in."""
    t = _playing_while_the_line_returns(ECHO, 100)
    louder_echo = b"\x00\x0f" * (FB // 2)  # 0x0F00: 5.5 dB above ECHO
    assert _barge_in_after(t, louder_echo, 50) is None
    assert t.echo_frames == 150
    # the echo's burst goes on into the caller's voice: judged by its peak, it counts now
    assert _barge_in_after(t, VOICE) == 1


# --- the early hold (barge_in_hold_ms) --------------------------------------------------------


def held_turns(hold_ms: int = 60) -> Turns:
    t = Turns(Segmenter(SegmenterParams()), Pacer(FB), 120, barge_in_hold_ms=hold_ms)
    for k in range(40):  # frame k of the answer is all byte k + 1: where it is, is audible
        t.push_audio("resp-1", k, bytes([k + 1]) * FB, k == 39)
    return t


def play(t: Turns, probs: list[float], frame: bytes = VOICE) -> tuple[list[object], list[int]]:
    actions: list[object] = []
    heard: list[int] = []
    for prob in probs:
        actions += t.on_caller_frame(frame if prob else QUIET, prob)
        heard.append(t.next_playout_frame()[0])
    return actions, heard


def test_a_short_sound_pauses_the_answer_which_then_goes_on_from_the_same_sample() -> None:
    """A cough of 80 ms: playback pauses at its 60th ms (the 3rd voiced frame plays
    silence) and resumes once the burst is over (60 ms of quiet), with the frame that was
    next: nothing of the answer is lost, and it is no barge-in."""
    t = held_turns()
    actions, heard = play(t, [0.0] * 5 + [0.9] * 4 + [0.0] * 6)
    assert heard == [1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 8, 9, 10, 11]
    assert not any(isinstance(a, BargeIn) for a in actions)
    assert (t.holds, t.holds_resumed, t.barge_ins) == (1, 1, 0)
    assert t.playing


def test_speech_pauses_the_answer_at_the_hold_and_cuts_it_at_the_guard() -> None:
    """Speech: silent from the 3rd voiced frame (60 ms), not the 6th (the guard, 120 ms),
    and the barge-in comes at the guard as without the hold."""
    t = held_turns()
    actions, heard = play(t, [0.0] * 5 + [0.9] * 10)
    assert heard == [1, 2, 3, 4, 5, 6, 7] + [0] * 8
    assert [a for a in actions if isinstance(a, BargeIn)] == [BargeIn("resp-1", 11)]
    assert (t.holds, t.holds_resumed, t.barge_ins) == (1, 0, 1)
    assert not t.playing
    assert not t.pacer.held  # the cut clears the hold: the next answer plays


def test_echo_does_not_pause_the_answer() -> None:
    """A burst taken for echo (12 dB under the agent) neither holds nor cuts."""
    t = Turns(Segmenter(SegmenterParams()), Pacer(FB), 120, barge_in_hold_ms=60)
    start_long_answer(t)
    _, heard = play(t, [0.0] * 5 + [0.9] * 10, frame=ECHO)
    assert heard == [0x22] * 15
    assert t.holds == 0


def test_the_hold_is_off_at_zero() -> None:
    t = held_turns(hold_ms=0)
    _, heard = play(t, [0.0] * 5 + [0.9] * 4 + [0.0] * 6)
    assert heard == list(range(1, 16))
    assert t.holds == 0


def test_pacer_hold_consumes_nothing_and_needs_an_answer_playing() -> None:
    p = Pacer(FB)
    assert not p.hold()  # nothing playing: nothing to pause
    assert not p.held
    p.push("r", 0, b"\x01" * FB + b"\x02" * FB, True)
    assert p.next_frame()[0] == 1
    assert p.hold()
    assert not p.hold()  # already held
    assert p.next_frame() == QUIET
    assert not p.audible
    p.resume()
    assert p.next_frame()[0] == 2
