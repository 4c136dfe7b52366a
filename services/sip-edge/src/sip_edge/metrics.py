"""The sip-edge's Prometheus metrics (served with /live and /ready by
:class:`pipeline.http.ThreadedServer`, default :9091)."""

from __future__ import annotations

from pipeline.metrics import TURN_BUCKETS
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.active_calls = Gauge("sip_edge_active_calls", "Calls in progress", registry=r)
        self.calls = Counter("sip_edge_calls", "Calls answered", registry=r)
        self.calls_rejected = Counter(
            "sip_edge_calls_rejected", "Calls refused (486 Busy Here)", registry=r
        )
        self.calls_forbidden = Counter(
            "sip_edge_calls_forbidden",
            "INVITEs refused with 403: not from SIP_EDGE_ALLOWED_SOURCES",
            registry=r,
        )
        self.registered = Gauge("sip_edge_registered", "1 while registered to the PBX", registry=r)
        self.frames_in = Counter("sip_edge_frames_in", "Caller audio frames received", registry=r)
        self.frames_out = Counter("sip_edge_frames_out", "Agent audio frames played", registry=r)
        self.underruns = Counter(
            "sip_edge_underruns", "Silent frames played while a response chunk was late", registry=r
        )
        self.vad_events = Counter("sip_edge_vad_events", "VAD events", ["event"], registry=r)
        self.barge_ins = Counter("sip_edge_barge_ins", "Responses cut by the caller", registry=r)
        self.holds = Counter(
            "sip_edge_playback_holds", "Playback paused for a possible barge-in", registry=r
        )
        self.holds_resumed = Counter(
            "sip_edge_playback_holds_resumed",
            "Paused playback that resumed (the caller's sound was no barge-in)",
            registry=r,
        )
        self.malformed = Counter(
            "sip_edge_malformed_entries", "Stream entries skipped as malformed", registry=r
        )
        self.redis_errors = Counter(
            "sip_edge_redis_errors", "Redis operations that failed", registry=r
        )
        self.late_chunks = Counter(
            "sip_edge_late_chunks_dropped", "Chunks of cut responses dropped", registry=r
        )
        self.answer_to_greeting = Histogram(
            "sip_edge_answer_to_greeting_seconds",
            "From answering a call to the first greeting audio",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.end_of_turn = Histogram(
            "sip_edge_end_of_turn_seconds",
            "From the caller's last voiced frame to the utterance published on Redis "
            "(the VAD's closing silence included)",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.speech_end_to_first_frame = Histogram(
            "sip_edge_speech_end_to_first_frame_seconds",
            "From the caller's last voiced frame to the first frame of the answer played "
            "(the whole turn as the caller hears it)",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.turn_to_first_audio = Histogram(
            "sip_edge_end_of_turn_to_first_audio_seconds",
            "From the caller's end of turn to the first audio of the answer",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

        self.turn_checks = Counter(
            "sip_edge_turn_checks",
            "End-of-turn model answers (model turn mode): complete (ended the turn), "
            "incomplete, stale (speech came back or the silence cap ended the turn first), error",
            ["verdict"],
            registry=r,
        )
        self.turn_model_seconds = Histogram(
            "sip_edge_turn_model_seconds",
            "Time the end-of-turn model took for one check (features and inference)",
            buckets=(0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0),
            registry=r,
        )
        self.provisional_turns = Counter(
            "sip_edge_provisional_turns",
            "Speculative start (SIP_EDGE_SPECULATIVE_PAUSE_MS): provisional utterances "
            "published, confirmed (the turn ended there) and cancelled (the caller went on)",
            ["outcome"],
            registry=r,
        )
        self.no_answers = Counter(
            "sip_edge_no_answers",
            "Turns the caller waited SIP_EDGE_NO_ANSWER_S for in silence (no answer, or an "
            "answer cut by a dead stage): the edge played its own apology",
            registry=r,
        )
        self.capped_utterances = Counter(
            "sip_edge_capped_utterances",
            "Utterances cut at SIP_EDGE_MAX_UTTERANCE_S (given to the STT as they were)",
            registry=r,
        )
        self.max_call_hangups = Counter(
            "sip_edge_max_call_hangups",
            "Calls ended by the edge at SIP_EDGE_MAX_CALL_S (after the goodbye)",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
