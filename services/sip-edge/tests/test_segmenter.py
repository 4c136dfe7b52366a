"""The VAD segmenter, frame by frame: one frame is 20 ms of virtual time, no sleeps."""

from __future__ import annotations

import pytest
from asp import VADConfig
from sip_edge.call import Segmenter, SegmenterParams, TurnEndParams, segmenter_params
from sip_edge.call.events import SpeechEnded, SpeechStarted, TurnCheck, UtteranceReady

FRAME = 320  # 20 ms of 8 kHz PCM16


def frame(tag: int) -> bytes:
    return bytes([tag % 256]) * FRAME


def run(seg: Segmenter, pattern: list[tuple[float, int]], start_tag: int = 0) -> list[object]:
    """Feeds (probability, n_frames) runs; frame i carries tag start_tag + i."""
    events: list[object] = []
    i = start_tag
    for prob, n in pattern:
        for _ in range(n):
            events.extend(seg.push(frame(i), prob))
            i += 1
    return events


def test_speech_gives_start_utterance_end_in_order() -> None:
    seg = Segmenter(SegmenterParams())
    events = run(seg, [(0.0, 50), (0.9, 50), (0.0, 30)])
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, UtteranceReady, SpeechEnded]
    start = events[0]
    assert isinstance(start, SpeechStarted)
    assert start.onset_frame == 50


def test_speech_start_comes_once_min_speech_is_voiced() -> None:
    seg = Segmenter(SegmenterParams(min_speech_ms=250))
    events = run(seg, [(0.0, 10), (0.9, 12)])
    assert events == []  # 240 ms voiced
    assert seg.push(frame(0), 0.9) == [SpeechStarted(10)]  # 260 ms


def test_utterance_has_prefix_padding_and_the_speech() -> None:
    p = SegmenterParams(prefix_padding_ms=100, silence_threshold_ms=200)
    seg = Segmenter(p)
    events = run(seg, [(0.0, 20), (0.9, 20), (0.0, 10)])
    utt = next(e for e in events if isinstance(e, UtteranceReady))
    tags = [utt.audio[i] for i in range(0, len(utt.audio), FRAME)]
    # 5 frames of padding (15..19), the 20 voiced (20..39), then a tail of at most 100 ms.
    assert tags[:5] == [15, 16, 17, 18, 19]
    assert tags[5:25] == list(range(20, 40))
    assert len(tags) == 30
    assert utt.duration_ms == 600


def test_short_noise_is_not_an_utterance() -> None:
    seg = Segmenter(SegmenterParams(min_speech_ms=250))
    events = run(seg, [(0.0, 20), (0.9, 10), (0.0, 60)])  # 200 ms of "speech"
    assert events == []
    assert not seg.in_speech


def test_pauses_shorter_than_silence_threshold_stay_in_one_utterance() -> None:
    seg = Segmenter(SegmenterParams(silence_threshold_ms=500))
    events = run(seg, [(0.9, 20), (0.0, 20), (0.9, 20), (0.0, 30)])  # 400 ms pause
    assert [type(e) for e in events] == [SpeechStarted, UtteranceReady, SpeechEnded]


def test_ring_buffer_and_speech_ratio_decide_the_trigger() -> None:
    # ratio 0.8 over 5 frames: isolated voiced frames never trigger.
    seg = Segmenter(SegmenterParams(ring_buffer_frames=5, speech_ratio=0.8))
    for i in range(100):
        seg.push(frame(i), 0.9 if i % 2 else 0.0)
    assert not seg.in_speech
    run(seg, [(0.9, 4)])
    assert seg.in_speech


def test_threshold_applies_to_the_probability() -> None:
    seg = Segmenter(SegmenterParams(threshold=0.7))
    assert run(seg, [(0.6, 100)]) == []
    assert not seg.in_speech


def test_voiced_ms_counts_voiced_frames_since_trigger() -> None:
    seg = Segmenter(SegmenterParams())
    run(seg, [(0.9, 3), (0.0, 2), (0.9, 3)])
    assert seg.voiced_ms == 120


@pytest.mark.parametrize("prefix", [0, 20, 500])
def test_prefix_padding_edges(prefix: int) -> None:
    seg = Segmenter(SegmenterParams(prefix_padding_ms=prefix, silence_threshold_ms=100))
    events = run(seg, [(0.0, 40), (0.9, 20), (0.0, 5)])
    utt = next(e for e in events if isinstance(e, UtteranceReady))
    assert len(utt.audio) // FRAME == prefix // 20 + 20 + min(5, -(-prefix // 20))


def test_utterance_says_how_long_the_closing_silence_was() -> None:
    # The end of the turn is measured from the last voiced frame: the silence that closed
    # the turn is what the edge subtracts from "now".
    seg = Segmenter(SegmenterParams(silence_threshold_ms=500))
    events = run(seg, [(0.0, 10), (0.9, 30), (0.2, 3), (0.9, 2), (0.0, 25)])
    utt = next(e for e in events if isinstance(e, UtteranceReady))
    assert utt.silence_ms == 500
    seg = Segmenter(SegmenterParams(silence_threshold_ms=300))
    utt = next(e for e in run(seg, [(0.9, 30), (0.0, 40)]) if isinstance(e, UtteranceReady))
    assert utt.silence_ms == 300


# --- model turn mode: a fake end-of-turn model decides, the test delivers its verdicts ------

MODEL = TurnEndParams("model", pause_ms=200, max_silence_ms=1200, threshold=0.5)


def model_segmenter(**params: int) -> Segmenter:
    return Segmenter(SegmenterParams(**params), MODEL)


def tags(audio: bytes) -> list[int]:
    return [audio[i] for i in range(0, len(audio), FRAME)]


def test_silence_mode_never_asks_the_model() -> None:
    seg = Segmenter(SegmenterParams(), TurnEndParams("silence", pause_ms=100))
    events = run(seg, [(0.0, 10), (0.9, 30), (0.0, 30)])
    assert [type(e) for e in events] == [SpeechStarted, UtteranceReady, SpeechEnded]


def test_a_pause_asks_the_model_about_the_turn_so_far() -> None:
    seg = model_segmenter(prefix_padding_ms=100)
    events = run(seg, [(0.0, 20), (0.9, 30), (0.0, 10)])
    assert [type(e) for e in events] == [SpeechStarted, TurnCheck]
    check = events[-1]
    assert isinstance(check, TurnCheck)
    # 5 frames of prefix, the 30 voiced, the 10 silent ones of the pause (200 ms).
    assert tags(check.audio) == list(range(15, 60))
    assert seg.awaiting(check.check_id)


def test_complete_verdict_ends_the_turn_at_once() -> None:
    seg = model_segmenter(prefix_padding_ms=100)
    events = run(seg, [(0.0, 20), (0.9, 30), (0.0, 12)])
    check = next(e for e in events if isinstance(e, TurnCheck))
    ended = seg.verdict(check.check_id, 0.93)
    assert [type(e) for e in ended] == [UtteranceReady, SpeechEnded]
    utt = ended[0]
    assert isinstance(utt, UtteranceReady)
    assert tags(utt.audio) == list(range(15, 55))  # prefix, speech, 100 ms of the pause
    assert utt.silence_ms == 240  # the closing silence heard when the verdict came
    assert not seg.in_speech
    assert not seg.awaiting(check.check_id)
    assert seg.verdict(check.check_id, 0.99) == []  # answered once


def test_incomplete_verdict_keeps_listening_until_the_cap() -> None:
    seg = model_segmenter()
    events = run(seg, [(0.0, 20), (0.9, 30), (0.0, 11)])
    check = next(e for e in events if isinstance(e, TurnCheck))
    assert seg.verdict(check.check_id, 0.2) == []
    assert seg.in_speech
    # 1200 ms of silence in all: the 60th silent frame ends the turn whatever was said.
    later = run(seg, [(0.0, 48)])
    assert later == []
    assert [type(e) for e in run(seg, [(0.0, 1)])] == [UtteranceReady, SpeechEnded]


def test_a_verdict_that_never_comes_does_not_hold_the_turn() -> None:
    seg = model_segmenter()
    events = run(seg, [(0.0, 20), (0.9, 30), (0.0, 60)])
    assert [type(e) for e in events] == [SpeechStarted, TurnCheck, UtteranceReady, SpeechEnded]
    check = events[1]
    assert isinstance(check, TurnCheck)
    assert seg.verdict(check.check_id, 1.0) == []  # late: the cap already ended the turn


def test_mid_sentence_pause_then_more_speech_is_one_utterance() -> None:
    """'Eu queria saber ... o horário de sábado': the model says incomplete at the first
    pause; the caller goes on; the second pause is a new question, answered complete."""
    seg = model_segmenter(prefix_padding_ms=0)
    events = run(seg, [(0.0, 10), (0.9, 40), (0.0, 25), (0.9, 40), (0.0, 10)])
    checks = [e for e in events if isinstance(e, TurnCheck)]
    assert len(checks) == 2
    assert seg.verdict(checks[0].check_id, 0.9) == []  # stale: speech came back meanwhile
    assert seg.verdict(checks[1].check_id, 0.1) == []  # incomplete
    events = run(seg, [(0.9, 20), (0.0, 10)], start_tag=125)
    third = next(e for e in events if isinstance(e, TurnCheck))
    done = seg.verdict(third.check_id, 0.8)
    utt = done[0]
    assert isinstance(utt, UtteranceReady)
    assert tags(utt.audio)[0] == 10
    assert len(tags(utt.audio)) == 40 + 25 + 40 + 10 + 20 + 0  # no tail with 0 padding


def test_speech_before_the_verdict_makes_it_stale() -> None:
    seg = model_segmenter()
    events = run(seg, [(0.0, 10), (0.9, 30), (0.0, 10)])
    check = next(e for e in events if isinstance(e, TurnCheck))
    run(seg, [(0.9, 1)])
    assert not seg.awaiting(check.check_id)
    assert seg.verdict(check.check_id, 1.0) == []
    assert seg.in_speech


def test_a_verdict_for_another_segmenter_is_ignored() -> None:
    old = model_segmenter()
    check = next(e for e in run(old, [(0.9, 30), (0.0, 10)]) if isinstance(e, TurnCheck))
    new = model_segmenter()  # the session's VAD parameters changed meanwhile
    mine = next(e for e in run(new, [(0.9, 30), (0.0, 10)]) if isinstance(e, TurnCheck))
    assert check.check_id != mine.check_id
    assert new.verdict(check.check_id, 1.0) == []
    assert new.in_speech


def test_short_noise_is_still_dropped_and_never_asked_about() -> None:
    seg = model_segmenter(min_speech_ms=250)
    events = run(seg, [(0.0, 20), (0.9, 10), (0.0, 60)])
    assert events == []
    assert not seg.in_speech


def test_the_model_hears_at_most_the_last_8_seconds() -> None:
    seg = model_segmenter(prefix_padding_ms=0)
    events = run(seg, [(0.0, 5), (0.9, 600), (0.0, 10)])
    check = next(e for e in events if isinstance(e, TurnCheck))
    assert len(check.audio) == 400 * FRAME
    assert tags(check.audio)[-1] == 614 % 256


def test_the_session_vad_gives_every_parameter_of_the_same_name() -> None:
    # VADConfig(enabled, silence_threshold_ms, min_speech_ms, threshold, ring_buffer_frames,
    # speech_ratio, prefix_padding_ms): none at its default
    vad = VADConfig(True, 800, 300, 0.7, 8, 0.5, 200)
    expected = SegmenterParams(0.7, 8, 0.5, 300, 800, 200, frame_ms=20, max_utterance_ms=30000)
    assert segmenter_params(vad, max_utterance_ms=30000) == expected
    assert segmenter_params(VADConfig()) == SegmenterParams()
