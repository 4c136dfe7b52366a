"""sip_edge.testing.windows_missed: the order check of the audio comparisons (audio_found)."""

from __future__ import annotations

from sip_edge.testing import windows_missed

STEP = 800  # 100 ms windows at 8 kHz


def _in_order(n: int) -> list[tuple[float, int]]:
    return [(0.99, 1400 + k * STEP) for k in range(n)]


def test_windows_in_order_all_count() -> None:
    assert windows_missed(_in_order(10), 0.8) == 0


def test_a_dropped_frame_moves_the_rest_back_by_20_ms_and_is_no_miss() -> None:
    windows = _in_order(10)
    windows[5:] = [(s, o - 160) for s, o in windows[5:]]
    assert windows_missed(windows, 0.8) == 0


def test_one_window_matched_far_ahead_is_one_miss_not_one_per_later_window() -> None:
    # seen in a 20-call run: window 9 matched 0.81 at 11486, then 9320, 10120, 10920
    windows = _in_order(13)
    windows[9] = (0.8146, 11486)
    assert windows_missed(windows, 0.8) == 1


def test_weak_windows_and_windows_going_back_are_misses() -> None:
    windows = _in_order(8)
    windows[2] = (0.5, windows[2][1])
    windows[6] = (0.99, 200)  # far back
    assert windows_missed(windows, 0.8) == 2
    assert windows_missed([(0.1, 0), (0.2, 800)], 0.8) == 2
    assert windows_missed([], 0.8) == 0


def test_a_shuffled_needle_is_mostly_misses() -> None:
    offsets = [1400 + k * STEP for k in (5, 1, 7, 3, 0, 6, 2, 4)]
    assert windows_missed([(0.99, o) for o in offsets], 0.8) >= 4
