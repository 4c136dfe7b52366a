"""Saved llama.cpp states, found by token prefix: a bounded LRU (sans-I/O).

llama.cpp reuses, by itself, the longest common prefix of a new prompt with what its
context evaluated last. With one conversation that is enough: the next turn evaluates only
what the history added. With several conversations on one model (concurrent calls), each
turn would evaluate its whole history again, because the context last held another call.
So after each reply the local provider saves the model state (the KV cache of prompt and
reply, without llama-cpp-python's logits copy) under the conversation's key, and before a
turn restores the saved state sharing the longest prefix with the new prompt, when that
beats what the context already holds.

A cache only: a miss costs time, never correctness; another replica answers the same turn
from the history in Redis. Bounded by bytes; the least recently used state goes first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

# Tokens a restore must gain over the live context to be worth copying a state back.
MIN_GAIN_TOKENS = 8


@dataclass(frozen=True, slots=True)
class SavedState:
    tokens: tuple[int, ...]  # what the saved context evaluated, in order
    data: bytes | bytearray  # llama_state_get_data

    @property
    def size(self) -> int:
        return len(self.data) + 8 * len(self.tokens)


@dataclass(frozen=True, slots=True)
class Match:
    key: str
    state: SavedState
    prefix: int  # tokens shared with the prompt


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    # Compare in blocks first: long shared prefixes are the common case.
    i = 0
    step = 64
    while i + step <= n and list(a[i : i + step]) == list(b[i : i + step]):
        i += step
    while i < n and a[i] == b[i]:
        i += 1
    return i


def tokens_to_eval(context: Sequence[int], prompt: Sequence[int]) -> int:
    """How many prompt tokens llama.cpp evaluates when its context holds ``context``
    (it keeps the common prefix and evaluates at least the last prompt token)."""
    if not prompt:
        return 0
    return len(prompt) - min(common_prefix(context, prompt), len(prompt) - 1)


class StateCache:
    """Saved states by conversation key, at most ``max_bytes`` in all (0 disables)."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._states: OrderedDict[str, SavedState] = OrderedDict()
        self.bytes = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, key: str) -> bool:
        return key in self._states

    def put(self, key: str, state: SavedState) -> None:
        """Keeps ``state`` as ``key``'s (replacing its older one); evicts the least recently
        used states beyond the byte budget. A state larger than the budget is not kept."""
        if not key or not self.enabled:
            return
        self.drop(key)
        if state.size > self.max_bytes:
            return
        self._states[key] = state
        self.bytes += state.size
        while self.bytes > self.max_bytes:
            _, old = self._states.popitem(last=False)
            self.bytes -= old.size

    def clear(self) -> None:
        self._states.clear()
        self.bytes = 0

    def drop(self, key: str) -> None:
        old = self._states.pop(key, None)
        if old is not None:
            self.bytes -= old.size

    def best(self, prompt: Sequence[int], *, beats: int = 0) -> Match | None:
        """The saved state sharing the longest prefix with ``prompt``, if it shares more
        than ``beats`` + :data:`MIN_GAIN_TOKENS` tokens; it becomes the most recently used."""
        found: Match | None = None
        for key, state in self._states.items():
            prefix = common_prefix(state.tokens, prompt)
            if found is None or prefix > found.prefix:
                found = Match(key, state, prefix)
        if found is None or found.prefix < beats + MIN_GAIN_TOKENS:
            return None
        self._states.move_to_end(found.key)
        return found
