"""Playback pacing, driven by a virtual media clock: one next_frame() call is 20 ms."""

from __future__ import annotations

import pytest
from sip_edge.call import Pacer

FB = 320  # 20 ms of 8 kHz PCM16
SILENCE = bytes(FB)


def tagged(tag: int, frames: int) -> bytes:
    return bytes([tag]) * (FB * frames)


def play(p: Pacer, n: int) -> list[int]:
    """n ticks of the media clock; each frame as its tag byte (0 = silence)."""
    out = []
    for _ in range(n):
        f = p.next_frame()
        assert len(f) == FB
        out.append(f[0] if len(set(f)) == 1 else -1)
    return out


def test_chunks_play_in_seq_order_across_boundaries() -> None:
    p = Pacer(FB)
    p.push("r1", 2, tagged(3, 1), True)
    p.push("r1", 0, tagged(1, 2), False)
    p.push("r1", 1, tagged(2, 1) + bytes([9]) * (FB // 2), False)  # 1.5 frames
    out = play(p, 6)
    assert out[:2] == [1, 1]
    assert out[2] == 2
    assert out[3] == -1  # half of chunk 1, half of chunk 2: no gap across the boundary
    assert out[4] == -1  # the rest of chunk 2, padded with silence at the end
    assert out[5] == 0
    assert p.stats.underruns == 0
    assert not p.playing


def test_late_chunk_is_covered_with_silence_counted_then_played() -> None:
    p = Pacer(FB)
    p.push("r1", 0, tagged(1, 2), False)
    assert play(p, 2) == [1, 1]
    assert play(p, 3) == [0, 0, 0]
    assert p.stats.underruns == 3
    p.push("r1", 1, tagged(2, 2), True)
    assert play(p, 3) == [2, 2, 0]
    assert p.stats.underruns == 3
    assert p.stats.frames_played == 4


def test_waiting_for_the_first_chunk_is_not_an_underrun() -> None:
    p = Pacer(FB)
    p.push("r1", 1, tagged(2, 1), True)  # seq 0 still on its way
    assert play(p, 2) == [0, 0]
    assert p.stats.underruns == 0
    p.push("r1", 0, tagged(1, 1), False)
    assert play(p, 2) == [1, 2]


def test_no_size_limit_drops_the_end_of_a_long_answer() -> None:
    p = Pacer(FB, high_water_ms=1000)
    minutes = 60 * 50  # one minute of frames
    for seq in range(minutes // 50):
        assert p.push("long", seq, tagged(1 + seq % 200, 50), seq == minutes // 50 - 1)
    assert not p.wants_more()  # back-pressure, not loss
    out = play(p, minutes + 1)
    assert out[:-1] == [1 + (i // 50) % 200 for i in range(minutes)]
    assert out[-1] == 0
    assert p.wants_more()


def test_back_pressure_follows_buffered_audio() -> None:
    p = Pacer(FB, high_water_ms=100)
    p.push("r", 0, tagged(1, 4), False)
    assert p.wants_more()
    p.push("r", 1, tagged(1, 2), False)
    assert p.buffered_ms == 120
    assert not p.wants_more()
    play(p, 2)
    assert p.wants_more()


def test_cancel_flushes_and_drops_late_chunks_of_that_response() -> None:
    p = Pacer(FB)
    p.push("r1", 0, tagged(1, 10), False)
    assert play(p, 2) == [1, 1]
    assert p.cancel() == ["r1"]
    assert play(p, 1) == [0]  # stops at once
    assert not p.push("r1", 1, tagged(1, 5), True)
    assert p.stats.late_chunks_dropped == 1
    assert play(p, 3) == [0, 0, 0]
    assert p.buffered_ms == 0
    p.push("r2", 0, tagged(7, 1), True)  # the next response plays normally
    assert play(p, 2) == [7, 0]


def test_responses_play_one_after_another() -> None:
    p = Pacer(FB)
    p.push("a", 0, tagged(1, 1), False)
    p.push("b", 0, tagged(2, 1), True)
    p.push("a", 1, tagged(3, 1), True)
    assert play(p, 4) == [1, 3, 2, 0]


def test_duplicates_and_chunks_after_final_are_ignored() -> None:
    p = Pacer(FB)
    p.push("r", 0, tagged(1, 1), False)
    assert not p.push("r", 0, tagged(9, 1), False)
    p.push("r", 1, tagged(2, 1), True)
    assert not p.push("r", 2, tagged(9, 1), False)
    assert not p.push("r", -1, tagged(9, 1), False)
    assert play(p, 3) == [1, 2, 0]
    assert not p.push("r", 3, tagged(9, 1), False)  # response already played out
    assert p.stats.duplicate_chunks == 2
    assert p.stats.late_chunks_dropped == 2


@pytest.mark.parametrize("size", [0, -2, 3])
def test_frame_size_must_be_pcm16(size: int) -> None:
    with pytest.raises(ValueError, match="frame_bytes"):
        Pacer(size)


def test_the_first_frame_of_each_response_is_reported_once() -> None:
    p = Pacer(FB)
    p.push("r1", 0, tagged(1, 2), True)
    p.push("r2", 0, bytes([2]) * (FB // 2), True)  # shorter than a frame
    assert p.take_started() == []  # queued is not played
    play(p, 1)
    assert p.take_started() == ["r1"]
    play(p, 1)
    assert p.take_started() == []  # the second frame of r1 is not a start
    play(p, 2)
    assert p.take_started() == ["r2"]
    p.push("r3", 0, tagged(3, 1), True)
    p.cancel("r3")
    play(p, 2)
    assert p.take_started() == []  # cut before it played
