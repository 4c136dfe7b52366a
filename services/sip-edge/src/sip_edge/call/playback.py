"""Playback of the agent's answers, paced by the media clock (pure: no clock, no I/O).

The media clock asks for one frame every ``frame_ms`` (:meth:`Pacer.next_frame`); the bridge
hands over ``response.audio`` chunks as they arrive (:meth:`Pacer.push`). The pacer:

- plays the chunks of a response in ``seq`` order, across chunk boundaries, in frames of
  exactly ``frame_bytes`` (the last frame of a response is padded with silence);
- while a response is still open (its final chunk not yet played) and the next chunk has not
  arrived, plays silence and counts an underrun: nothing is skipped, the late chunk plays
  when it comes;
- never drops the end of a long answer: there is no size limit. Instead
  :meth:`Pacer.wants_more` tells the reader to stop reading from Redis while more than
  ``high_water_ms`` is buffered (back-pressure; Redis keeps the rest);
- on barge-in, :meth:`Pacer.cancel` flushes what is queued and remembers the response, so
  its late chunks are dropped (and counted) instead of played;
- on a possible barge-in (the caller started speaking, not yet long enough to be sure),
  :meth:`Pacer.hold` pauses playback where it is (silence, nothing consumed) and
  :meth:`Pacer.resume` goes on from the same sample when it was not one;
- :meth:`Pacer.close` ends a response that will get no more chunks (a replica died in the
  middle of it and the retried turn is a new response): what is queued in order still
  plays, then the next response, instead of waiting for a final chunk that never comes.

:attr:`Pacer.audible` says whether the last frame handed out was audio; the call's
no-answer watchdog (:mod:`sip_edge.call.turns`) counts the silent ones.

Responses play one after another in the order their first chunk arrived.
"""

from __future__ import annotations

import collections
import dataclasses

__all__ = ["Pacer", "PacerStats"]


@dataclasses.dataclass(slots=True)
class PacerStats:
    frames_played: int = 0
    underruns: int = 0
    """Silent frames played inside an open response while its next chunk was late."""
    late_chunks_dropped: int = 0
    """Chunks of a cancelled or finished response that arrived afterwards."""
    duplicate_chunks: int = 0


@dataclasses.dataclass(slots=True)
class _Response:
    response_id: str
    chunks: dict[int, bytes] = dataclasses.field(default_factory=dict)
    next_seq: int = 0
    final_seq: int | None = None
    started: bool = False
    cut: bool = False  # closed before its final chunk came (the rest never will)

    @property
    def complete(self) -> bool:
        return self.final_seq is not None and self.next_seq > self.final_seq


class Pacer:
    def __init__(self, frame_bytes: int, frame_ms: int = 20, high_water_ms: int = 10_000) -> None:
        if frame_bytes <= 0 or frame_bytes % 2:
            raise ValueError("frame_bytes must be a positive even number (PCM16)")
        self.frame_bytes = frame_bytes
        self.frame_ms = frame_ms
        self.high_water_ms = high_water_ms
        self.stats = PacerStats()
        self._silence = bytes(frame_bytes)
        self._queue: collections.deque[_Response] = collections.deque()
        self._by_id: dict[str, _Response] = {}
        self._closed: set[str] = set()
        self._pcm = bytearray()  # bytes of the current response, in order, not yet played
        self._buffered = 0  # bytes held in chunks not yet moved to _pcm
        self.started: list[str] = []
        """Responses whose first frame was played, not yet taken (:meth:`take_started`)."""
        self.audible = False
        """True when the last frame :meth:`next_frame` gave was audio (not silence)."""
        self.held = False
        """Playback paused by :meth:`hold` (silence out, nothing consumed) until
        :meth:`resume` or :meth:`cancel`."""
        self.owes_speech = False
        """True once a response cut short (:meth:`close` before its final chunk) has
        played what it had, until audio of a later response plays or :meth:`cancel`: the
        caller heard part of an answer and is still owed the rest (or an apology)."""

    # --- input --------------------------------------------------------------------------

    def push(self, response_id: str, seq: int, audio: bytes, is_final: bool) -> bool:
        """Queues one chunk. False when it is dropped (its response was cancelled/played)."""
        if response_id in self._closed:
            self.stats.late_chunks_dropped += 1
            return False
        resp = self._by_id.get(response_id)
        if resp is None:
            resp = _Response(response_id)
            self._by_id[response_id] = resp
            self._queue.append(resp)
        if seq < resp.next_seq or seq in resp.chunks or seq < 0:
            self.stats.duplicate_chunks += 1
            return False
        if resp.final_seq is not None and seq > resp.final_seq:
            self.stats.late_chunks_dropped += 1
            return False
        resp.chunks[seq] = audio
        self._buffered += len(audio)
        if is_final:
            resp.final_seq = seq
        return True

    def hold(self) -> bool:
        """A possible barge-in: play silence from the next frame on without consuming
        anything, until :meth:`resume` (not one after all: the answer goes on from the same
        sample) or :meth:`cancel`. True when it paused a response that was playing."""
        if self.held or not self.playing:
            return False
        self.held = True
        return True

    def resume(self) -> None:
        self.held = False

    def cancel(self, response_id: str | None = None) -> list[str]:
        """Barge-in: stop now, flush everything queued and drop late chunks of the flushed
        responses. Returns the ids of the responses that were cut (playing or queued)."""
        cut: list[str] = []
        self.owes_speech = False
        self.held = False
        for resp in list(self._queue):
            if response_id is None or resp.response_id == response_id:
                cut.append(resp.response_id)
                self._close(resp)
        if response_id is not None and not cut:
            self._closed.add(response_id)  # not arrived yet: its chunks are dropped when they do
        return cut

    def close(self, response_id: str) -> bool:
        """No more chunks will come for ``response_id``: the chunks queued in order play,
        the ones after a gap are dropped, and the next response follows. True when the
        response was open."""
        resp = self._by_id.get(response_id)
        if resp is None:
            return False
        last = resp.next_seq - 1
        while last + 1 in resp.chunks:
            last += 1
        for seq in [s for s in resp.chunks if s > last]:
            self._buffered -= len(resp.chunks.pop(seq))
            self.stats.late_chunks_dropped += 1
        if resp.final_seq is None or resp.final_seq > last:
            resp.final_seq = last
            resp.cut = True
        return True

    def _close(self, resp: _Response) -> None:
        if self._queue and self._queue[0] is resp:
            self._pcm.clear()
        self._queue.remove(resp)
        self._by_id.pop(resp.response_id, None)
        self._closed.add(resp.response_id)
        self._buffered -= sum(len(c) for c in resp.chunks.values())

    # --- state --------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        """True while a response is open (audio queued or its final chunk not yet played)."""
        return bool(self._queue)

    def holds(self, response_id: str) -> bool:
        """True while ``response_id`` is queued or playing (not finished, not cut)."""
        return response_id in self._by_id

    @property
    def current_response(self) -> str | None:
        return self._queue[0].response_id if self._queue else None

    @property
    def buffered_ms(self) -> int:
        total = len(self._pcm) + self._buffered
        return total * self.frame_ms // self.frame_bytes

    def audio_ready(self) -> bool:
        """True when :meth:`next_frame` would give audio now (a whole frame of the current
        response is there, or the end of a response is): a transport that sends only
        audio (the WebSocket gateway) skips the silence of a late chunk instead."""
        while self._queue and not self._pcm:  # a finished response still at the head
            head = self._queue[0]
            if not head.complete:
                break
            self._finish(head)
        if not self._queue:
            return False
        resp = self._queue[0]
        available = len(self._pcm)
        seq = resp.next_seq
        while seq in resp.chunks and available < self.frame_bytes:
            available += len(resp.chunks[seq])
            seq += 1
        if available >= self.frame_bytes:
            return True
        return resp.final_seq is not None and seq > resp.final_seq

    def wants_more(self) -> bool:
        """Back-pressure: False while more than high_water_ms is buffered."""
        return self.buffered_ms < self.high_water_ms

    # --- output (called by the media clock, once per frame) -----------------------------

    def next_frame(self) -> bytes:
        """The next frame to play: audio, or silence when there is none (or on hold)."""
        frame = self._silence if self.held else self._next_frame()
        self.audible = frame is not self._silence
        return frame

    def _next_frame(self) -> bytes:
        while self._queue:
            resp = self._queue[0]
            # Move every chunk that is next in order into the playout buffer.
            while resp.next_seq in resp.chunks:
                chunk = resp.chunks.pop(resp.next_seq)
                self._buffered -= len(chunk)
                self._pcm += chunk
                resp.next_seq += 1
            if len(self._pcm) >= self.frame_bytes:
                frame = bytes(self._pcm[: self.frame_bytes])
                del self._pcm[: self.frame_bytes]
                self.owes_speech = False  # the head's audio: later than any cut one
                if not resp.started:
                    resp.started = True
                    self.started.append(resp.response_id)
                self.stats.frames_played += 1
                return frame
            if resp.complete:
                tail = bytes(self._pcm)
                self._pcm.clear()
                self._finish(resp)
                self.owes_speech = resp.cut
                if tail:
                    self.stats.frames_played += 1
                    if not resp.started:  # a response shorter than one frame
                        resp.started = True
                        self.started.append(resp.response_id)
                    return tail + self._silence[len(tail) :]
                continue
            if resp.started:
                self.stats.underruns += 1
            return self._silence
        return self._silence

    def take_started(self) -> list[str]:
        """The responses whose first frame was played since the last call, in order."""
        started, self.started = self.started, []
        return started

    def _finish(self, resp: _Response) -> None:
        self._queue.popleft()
        self._by_id.pop(resp.response_id, None)
        self._closed.add(resp.response_id)
