"""The VAD segmenter, frame by frame: one frame is 20 ms of virtual time, no sleeps."""

from __future__ import annotations

import pytest
from sip_edge.vad import Segmenter, SegmenterParams, SpeechEnded, SpeechStarted, UtteranceReady

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
