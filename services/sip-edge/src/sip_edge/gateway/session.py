"""One ASP session of a WebSocket client: a :class:`~sip_edge.calls.CallSession` (the edge's
own VAD, turn-taking, barge-in, Redis bridge and pacer) whose media is the client's binary
frames instead of RTP.

What differs from a phone call is only the media side:

- caller audio arrives in frames of any size and is cut into the 20 ms frames the VAD takes;
- the agent's audio goes out as binary frames in the client's framing and format, paced
  (one frame per frame duration, from the gateway's clock) or, with ``playback: "fast"``,
  as soon as it arrives; in fast mode the pacer still plays it out "virtually" on the
  clock, so barge-in and the echo guard know what the client is playing;
- call actions (hang up, transfer, DTMF) are told to the client (``call.action``), which
  carries them out, after the audio that announces them (the edge's own wait);
- the client hears of the session's events: ``response.start``, ``response.end``
  (``interrupted: true`` when the caller cut it), ``audio.speech_start`` and, for clients
  of ASP 1.1 or later, ``transcript`` and ``response.text``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from asp import VADConfig
from asp.messages import (
    CallAction,
    CallActionKind,
    Message,
    ResponseAudio,
    ResponseCancel,
    ResponseEnd,
    ResponseStart,
    ResponseText,
    SessionUpdated,
    SpeechStart,
    Transcript,
    now_iso,
)

from ..call import SpeechClassifier
from ..call.events import BargeIn, Event, SpeechStarted
from ..calls import CallSession
from ..media import CallInfo
from . import g711
from .framing import Framing, encode_agent_audio

__all__ = ["ClientHandle", "WsCallSession"]

log = logging.getLogger(__name__)

Send = Callable[[Message | bytes], None]
"""Queues a message (JSON) or a binary frame for the client; never blocks."""

INTERNAL_FRAME_MS = 20
"""The frame the edge's VAD and pacer work in."""


class ClientHandle:
    """The call's control side: the client carries the actions out."""

    def __init__(self, session_id: str, send: Send) -> None:
        self.session_id = session_id
        self._send = send

    def hangup(self, status_code: int = 0) -> None:
        self._send(CallAction(session_id=self.session_id, action=CallActionKind.HANGUP))

    def transfer(self, extension: str) -> None:
        self._send(
            CallAction(session_id=self.session_id, action=CallActionKind.TRANSFER, target=extension)
        )

    def send_dtmf(self, digits: str) -> None:
        self._send(
            CallAction(session_id=self.session_id, action=CallActionKind.DTMF, digits=digits)
        )


class WsCallSession(CallSession):
    def __init__(
        self,
        *args: Any,
        send: Send,
        framing: Framing,
        framing_confirmed: bool,
        fast: bool,
        client_frame_ms: int,
        events_11: bool,
        encoding: str = "pcm_s16le",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._send = send
        self.framing = framing
        self.framing_confirmed = framing_confirmed
        """Named by the client, or seen in one of its frames (else a default)."""
        self.fast = fast
        self.events_11 = events_11
        self.client_frame_ms = client_frame_ms
        self.g711 = encoding if encoding in ("mulaw", "alaw") else None
        """The client's G.711 law; its audio is PCM16 inside the gateway."""
        self.started_at = time.monotonic()
        self._inbox = bytearray()
        self._outbox = bytearray()
        self._out_seq = 0
        self._open: set[str] = set()  # responses the client was told started, not ended
        self._ends: dict[str, ResponseEnd] = {}  # response.end held until its audio is out
        self._after_barge_in = False
        self.frames_received = 0
        self.frames_sent = 0

    # --- caller side ------------------------------------------------------------------------

    def start(
        self,
        sample_rate: int,
        vad: VADConfig,
        metadata: dict[str, Any],
        classifier: SpeechClassifier | None = None,
    ) -> None:
        self.on_media(sample_rate, "pcm_s16le", vad, metadata, classifier)

    def feed(self, payload: bytes) -> None:
        """A binary frame of the client's PCM16, any size: cut into the VAD's 20 ms frames."""
        self.frames_received += 1
        if self.g711 is not None:
            payload = g711.decode(payload, self.g711)
        self._inbox += payload
        size = self.audio.frame_bytes
        while len(self._inbox) >= size:
            frame = bytes(self._inbox[:size])
            del self._inbox[:size]
            self.on_frame(frame)

    def apply_update(self, answer: SessionUpdated) -> None:
        """A ``session.update`` the gateway accepted: the VAD changes as on a phone call."""
        super()._on_message(answer)

    def client_turn_end(self) -> None:
        """The client's own VAD says the turn ended (``audio.end``): the turn closes as if
        the silence the session's VAD waits for had followed."""
        vad = self.vad
        frames = (vad.silence_threshold_ms + INTERNAL_FRAME_MS - 1) // INTERNAL_FRAME_MS
        frames += vad.ring_buffer_frames + 2
        self._inbox.clear()
        for _ in range(frames):
            self.on_frame(self._silence)

    def _act(self, event: Event) -> None:
        super()._act(event)
        if isinstance(event, SpeechStarted):
            self._send(SpeechStart(session_id=self.session_id, timestamp=now_iso()))
        elif isinstance(event, BargeIn):
            self._after_barge_in = True
            self._close_response(event.response_id, interrupted=True)

    # --- agent side -------------------------------------------------------------------------

    def _on_message(self, msg: Message) -> None:
        super()._on_message(msg)
        if isinstance(msg, ResponseStart):
            if msg.response_id not in self._open and not self._cut(msg.response_id):
                self._open.add(msg.response_id)
                self._send(msg)
        elif isinstance(msg, ResponseEnd):
            if msg.response_id in self._open:
                if self.fast or not self._playing(msg.response_id):
                    self._close_response(msg.response_id, msg.interrupted)
                else:
                    self._ends[msg.response_id] = msg
        elif isinstance(msg, ResponseCancel):
            self._close_response(msg.response_id, interrupted=True)
        elif isinstance(msg, Transcript | ResponseText) and self.events_11:
            self._send(msg)

    def _cut(self, response_id: str) -> bool:
        turns = self.turns
        return turns is not None and response_id in turns.pacer._closed

    def _playing(self, response_id: str) -> bool:
        turns = self.turns
        return turns is not None and turns.pacer.holds(response_id)

    def _close_response(self, response_id: str, interrupted: bool) -> None:
        self._ends.pop(response_id, None)
        if response_id not in self._open:
            return
        self._open.discard(response_id)
        if interrupted:
            self._outbox.clear()
        else:
            self._after_barge_in = False  # the answer after a barge-in is over
        self._send(
            ResponseEnd(
                session_id=self.session_id,
                response_id=response_id,
                interrupted=interrupted,
                timestamp=now_iso(),
            )
        )

    def _play(self, msg: ResponseAudio) -> bool:
        played = super()._play(msg)
        if played and self.fast:
            self._out(msg.audio, final=msg.is_final)
        return played

    def tick(self) -> None:
        """One frame time of the gateway's clock: the pacer plays one 20 ms frame (sent in
        paced mode; in fast mode the client has it already) and held response.end events
        whose audio is all out are sent."""
        turns = self.turns
        if turns is None or not self.machine.is_live:
            return
        pacer = turns.pacer
        if turns.audio_ready():
            rid = pacer.current_response
            frame = self.next_playout_frame()
            pacer.audio_ready()  # settles a response whose last frame this was
            final = rid is not None and not pacer.holds(rid)
            if not self.fast:
                self._out(frame, final=final)
        if self._ends:
            for rid in [r for r in self._ends if not pacer.holds(r)]:
                end = self._ends.pop(rid)
                self._close_response(rid, end.interrupted)

    def _out(self, pcm: bytes, final: bool) -> None:
        """Sends audio in frames of the client's duration (the last one padded)."""
        self._outbox += pcm
        size = self.audio.sample_rate * self.client_frame_ms // 1000 * 2
        while len(self._outbox) >= size:
            chunk = bytes(self._outbox[:size])
            del self._outbox[:size]
            self._emit(chunk, final=final and not self._outbox)
        if final and self._outbox:
            chunk = bytes(self._outbox) + bytes(size - len(self._outbox))
            self._outbox.clear()
            self._emit(chunk, final=True)

    def _emit(self, payload: bytes, final: bool) -> None:
        elapsed_us = int((time.monotonic() - self.started_at) * 1_000_000)
        if self.g711 is not None:
            payload = g711.encode(payload, self.g711)
        self._send(
            encode_agent_audio(
                self.framing,
                self.session_id,
                payload,
                sequence=self._out_seq,
                timestamp_us=elapsed_us,
                is_final=final,
                is_barge_in_response=self._after_barge_in,
            )
        )
        self._out_seq += 1
        self.frames_sent += 1

    # --- end ----------------------------------------------------------------------------------

    def cancel_unfinished(self, reason: str) -> None:
        """The client is gone: every response still being made or played is cancelled
        (the workers drop their work on it)."""
        bridge, turns = self.bridge, self.turns
        if bridge is None:
            return
        pending = set(self._unspoken) | set(self._open)
        if turns is not None:
            pending.update(turns.cancel())
        for rid in sorted(pending):
            bridge.publish(
                ResponseCancel(session_id=self.session_id, response_id=rid, reason=reason)
            )

    def _frame_counts(self) -> tuple[int, int]:
        """session.ended counts the client's frames (of any size), not the 20 ms ones."""
        return self.frames_received, self.frames_sent


def call_info(session_id: str, call_id: str | None, remote: str) -> CallInfo:
    """The call's identity for logs and session.start (no SIP: the client's call id)."""
    return CallInfo(
        call_ref=0, sip_call_id=call_id or session_id, caller_number="", remote_uri=remote
    )


__all__ += ["call_info"]
