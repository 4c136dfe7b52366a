"""Saved llama.cpp states by token prefix (sans-I/O): lookup, replacement, byte budget."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llm_worker.providers.prompt_cache import (
    MIN_GAIN_TOKENS,
    SavedState,
    StateCache,
    common_prefix,
    tokens_to_eval,
)

SYSTEM = tuple(range(100))


def state(*parts: tuple[int, ...], size: int = 1000) -> SavedState:
    return SavedState(tuple(t for p in parts for t in p), bytes(size))


@given(st.lists(st.integers(0, 3), max_size=300), st.lists(st.integers(0, 3), max_size=300))
def test_common_prefix_matches_the_naive_definition(a: list[int], b: list[int]) -> None:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    assert common_prefix(a, b) == n
    assert common_prefix(tuple(a), b) == n


def test_tokens_to_eval_keeps_at_least_the_last_prompt_token() -> None:
    assert tokens_to_eval([], [1, 2, 3]) == 3
    assert tokens_to_eval([1, 2, 9], [1, 2, 3]) == 1
    assert tokens_to_eval([1, 2, 3], [1, 2, 3]) == 1  # the logits must be fresh
    assert tokens_to_eval([1, 2, 3, 4, 5], [1, 2, 3]) == 1
    assert tokens_to_eval([1], []) == 0


def test_best_finds_the_conversation_that_shares_most() -> None:
    cache = StateCache(10**6)
    cache.put("a", state(SYSTEM, (1, 1, 1) * 10))
    cache.put("b", state(SYSTEM, (2, 2, 2) * 10))
    prompt = SYSTEM + (2, 2, 2) * 10 + (7, 7)
    match = cache.best(prompt)
    assert match is not None
    assert (match.key, match.prefix) == ("b", 130)
    # the live context already holds the system prompt: only a bigger gain counts
    assert cache.best(prompt, beats=130 - MIN_GAIN_TOKENS + 1) is None
    assert cache.best(prompt, beats=100) is not None
    assert cache.best((9, 9, 9)) is None


def test_put_replaces_the_conversations_older_state() -> None:
    cache = StateCache(10**6)
    cache.put("a", state(SYSTEM, size=100))
    cache.put("a", state(SYSTEM, (1,) * 50, size=300))
    assert len(cache) == 1
    assert cache.bytes == 300 + 8 * 150


def test_least_recently_used_goes_first_within_the_byte_budget() -> None:
    one = state(SYSTEM, size=1000).size
    cache = StateCache(3 * one)
    for key in "abc":
        cache.put(key, state(SYSTEM, size=1000))
    cache.best((*SYSTEM, 5))  # a hit makes its state the most recent
    hit = next(k for k in "abc" if k in cache)
    cache.put("d", state(SYSTEM, size=1000))
    assert len(cache) == 3
    assert cache.bytes <= cache.max_bytes
    assert hit in cache
    assert "d" in cache


def test_too_big_empty_key_and_disabled_are_not_kept() -> None:
    cache = StateCache(500)
    cache.put("a", state(SYSTEM, size=1000))
    cache.put("", state(size=10))
    assert len(cache) == 0
    assert cache.bytes == 0
    off = StateCache(0)
    assert not off.enabled
    off.put("a", state(SYSTEM, size=10))
    assert len(off) == 0
    with pytest.raises(ValueError, match="max_bytes"):
        StateCache(-1)
