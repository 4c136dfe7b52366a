"""Conversation history shaping (sans-I/O).

The worker keeps one :class:`History` per session (serialized with :meth:`History.to_json`
into Redis by the worker loop). Rules:

* bounded: only the last ``max_turns`` user turns (and the replies after them) are kept, and
  the kept history always starts with a user message;
* roles alternate: consecutive messages of one role are merged (a reply the caller never
  heard leaves two user turns in a row, which most APIs reject);
* a cancelled reply (barge-in) is recorded as what the caller actually heard: the sentences
  that were played, ending in an ellipsis to mark the interruption; nothing when none was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from llm_worker.errors import HistoryError
from llm_worker.events import Message

FORMAT_VERSION = 1
INTERRUPTED_MARK = "…"


def heard_text(sentences: Sequence[str], played: int | None, *, interrupted: bool = False) -> str:
    """The part of a reply the caller heard.

    ``played`` is how many of ``sentences`` were played (None: all of them);
    ``interrupted`` marks that playback stopped inside the last played sentence or right
    after it, because the caller spoke.
    """
    if played is None:
        played = len(sentences)
    if played < 0:
        raise ValueError("played must be >= 0")
    text = " ".join(s.strip() for s in sentences[:played] if s.strip())
    if text and interrupted:
        text = text.rstrip(".!?… ") + INTERRUPTED_MARK
    return text


def normalize(messages: Sequence[Message]) -> list[Message]:
    """Merges consecutive messages of one role and drops empty ones."""
    out: list[Message] = []
    for m in messages:
        content = m.content.strip()
        if not content:
            continue
        if out and out[-1].role == m.role:
            out[-1] = Message(m.role, f"{out[-1].content}\n{content}")
        else:
            out.append(Message(m.role, content))
    return out


def bound(messages: Sequence[Message], max_turns: int) -> list[Message]:
    """Keeps the last ``max_turns`` user turns and what follows; starts on a user message."""
    msgs = normalize(messages)
    if max_turns <= 0:
        return []
    user_idx = [i for i, m in enumerate(msgs) if m.role == "user"]
    if not user_idx:
        return []
    start = user_idx[-max_turns] if len(user_idx) >= max_turns else user_idx[0]
    return msgs[start:]


@dataclass
class History:
    max_turns: int = 8
    messages: list[Message] = field(default_factory=list)

    def add_user(self, text: str) -> None:
        self.messages.append(Message("user", text))
        self._shrink()

    def add_reply(
        self, sentences: Sequence[str], *, played: int | None = None, interrupted: bool = False
    ) -> str:
        """Records a reply as heard; returns the text that was recorded ('' if none)."""
        text = heard_text(sentences, played, interrupted=interrupted)
        if text:
            self.messages.append(Message("assistant", text))
        self._shrink()
        return text

    def for_request(self) -> tuple[Message, ...]:
        """The messages to send with the next request (bounded, alternating)."""
        return tuple(bound(self.messages, self.max_turns))

    def _shrink(self) -> None:
        # Keep a little more than needed so merging never loses the newest turn.
        self.messages = bound(self.messages, self.max_turns) or normalize(self.messages)[-1:]

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": FORMAT_VERSION,
                "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str | bytes, *, max_turns: int = 8) -> History:
        """Parses what :meth:`to_json` wrote; raises HistoryError on anything else."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise HistoryError(f"history is not JSON: {e}") from e
        if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
            raise HistoryError("history: unknown format version")
        items = data.get("messages")
        if not isinstance(items, list):
            raise HistoryError("history: 'messages' must be a list")
        messages: list[Message] = []
        for item in items:
            if (
                not isinstance(item, dict)
                or item.get("role") not in ("user", "assistant")
                or not isinstance(item.get("content"), str)
            ):
                raise HistoryError(f"history: malformed message {item!r:.80}")
            messages.append(Message(item["role"], item["content"]))
        return cls(max_turns=max_turns, messages=bound(messages, max_turns))
