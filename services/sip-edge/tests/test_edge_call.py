"""One real call, end to end without Asterisk: a PJSUA2 caller (its own process) dials
sip-edge (its own process) straight on its SIP port; real Redis in between; the test plays
the pipeline's part by reading and writing the streams.

Timeline of the call (seconds after answer): the test writes a greeting as response.audio
chunks as soon as session.start shows up; the caller sends DTMF at 0.5 s, starts speaking at
3 s, and hangs up at 8.5 s. Malformed entries are written on the session stream meanwhile.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from asp import streams as layout
from asp.messages import CallDtmf, Message, SessionStart, Utterance
from sip_edge.testing import (
    MALFORMED_ENTRIES,
    REDIS_URL,
    EdgeProcess,
    audio_found,
    caller_result,
    dial,
    from_pcm,
    metric,
    pcm,
    read_wav,
    session_messages,
    speech_wav,
    windowed_match,
    write_response,
)

pytestmark = pytest.mark.integration  # sip-edge and a PJSUA2 caller as processes, a redis-server


@dataclass
class CallRun:
    session_id: str
    entries: list[Message]
    raw_types: list[str]
    caller: dict[str, Any]
    heard: Any
    speech: Any
    greeting: Any
    metrics: str
    edge_rc: int | None
    edge_log: str


@pytest.fixture(scope="module")
def call_run(tmp_path_factory: pytest.TempPathFactory) -> CallRun:
    tmp = tmp_path_factory.mktemp("edge-call")
    speech_path = speech_wav("Eu gostaria de saber o saldo da minha conta.", tmp / "speech.wav")
    greet_path = speech_wav("Bem-vindo. Como posso ajudar?", tmp / "greeting.wav")
    speech, _ = read_wav(speech_path)
    greeting, _ = read_wav(greet_path)
    r = redis.Redis.from_url(REDIS_URL)
    edge = EdgeProcess(tmp / "edge.log", REDIS_URL=REDIS_URL)
    try:
        with edge:
            caller, session_id = dial(
                r, edge,
                "--play", str(speech_path), "--play-at", "3.0",
                "--record", str(tmp / "heard.wav"),
                "--dtmf", "5", "--dtmf-at", "0.5",
                "--hangup-at", "8.5",
            )  # fmt: skip
            write_response(r, session_id, "greeting-1", pcm(greeting))
            stream = layout.session_stream(session_id)
            for bad in MALFORMED_ENTRIES:
                r.xadd(stream, bad)
            result = caller_result(caller)
            deadline = time.monotonic() + 5  # session.end is written once the BYE is seen
            while time.monotonic() < deadline:
                raw_types, entries = session_messages(r, session_id)
                if "session.end" in raw_types:
                    break
                time.sleep(0.1)
            metrics = edge.metrics()
        heard, _ = read_wav(tmp / "heard.wav")
    finally:
        r.close()
    return CallRun(
        session_id, entries, raw_types, result, heard, speech, greeting, metrics,
        edge.returncode, edge.log(),
    )  # fmt: skip


def test_call_is_answered_and_hung_up_by_the_caller(call_run: CallRun) -> None:
    assert call_run.caller["confirmed"] is True
    assert call_run.caller["hung_up_by"] == "caller"


def test_session_events_come_in_order(call_run: CallRun) -> None:
    own = [
        t
        for t in call_run.raw_types
        if t in ("session.start", "audio.speech_start", "utterance", "audio.end", "session.end")
    ]
    assert own == ["session.start", "audio.speech_start", "utterance", "audio.end", "session.end"]
    start = call_run.entries[0]
    assert isinstance(start, SessionStart)
    assert start.audio is not None
    assert start.audio.sample_rate == 8000
    assert start.metadata is not None
    assert start.metadata["language"] == "pt-BR"
    assert start.metadata["sip_call_id"]
    assert start.call_id == start.metadata["sip_call_id"]


def test_utterance_matches_what_the_caller_said(call_run: CallRun) -> None:
    utts = [e for e in call_run.entries if isinstance(e, Utterance)]
    assert len(utts) == 1
    audio = from_pcm(utts[0].audio)
    why = audio_found(audio, call_run.speech)
    assert why is None, why
    # Prefix padding: the first syllable is not at the first sample of the utterance.
    assert windowed_match(audio, call_run.speech)[0][1] > 0
    assert utts[0].duration_ms == len(utts[0].audio) // 16


def test_greeting_reaches_the_caller_complete(call_run: CallRun) -> None:
    why = audio_found(call_run.heard, call_run.greeting)
    assert why is None, why
    assert windowed_match(call_run.heard, call_run.greeting)[0][1] < 8000  # within 1 s


def test_caller_dtmf_is_published(call_run: CallRun) -> None:
    dtmf = [e for e in call_run.entries if isinstance(e, CallDtmf)]
    assert [d.digit for d in dtmf] == ["5"]


def test_malformed_entries_are_counted_and_skipped(call_run: CallRun) -> None:
    assert metric(call_run.metrics, "sip_edge_malformed_entries_total") == len(MALFORMED_ENTRIES)
    assert metric(call_run.metrics, "sip_edge_calls_total") == 1
    assert metric(call_run.metrics, "sip_edge_barge_ins_total") == 0


def test_metrics_count_frames_vad_events_and_the_greeting(call_run: CallRun) -> None:
    m = call_run.metrics
    assert metric(m, "sip_edge_frames_in_total") > 200  # 8.5 s of 20 ms frames, minus setup
    assert metric(m, "sip_edge_frames_out_total") >= 60  # the greeting: about 1.9 s
    assert 'sip_edge_vad_events_total{event="utterance"} 1.0' in m
    assert 'sip_edge_vad_events_total{event="speech_start"} 1.0' in m
    assert metric(m, "sip_edge_answer_to_greeting_seconds_count") == 1
    assert metric(m, "sip_edge_underruns_total") == 0


def test_edge_stops_cleanly_on_sigterm(call_run: CallRun) -> None:
    assert call_run.edge_rc == 0, call_run.edge_log[-3000:]
    assert "Traceback" not in call_run.edge_log


def test_session_keys_expire(call_run: CallRun) -> None:
    r = redis.Redis.from_url(REDIS_URL)
    try:
        ttl = r.ttl(layout.session_stream(call_run.session_id))
        assert isinstance(ttl, int)  # a sync client: the reply, not an awaitable
        assert 0 < ttl <= layout.SESSION_ENDED_TTL_S
        assert r.zscore(layout.ACTIVE_SESSIONS, call_run.session_id) is None
    finally:
        r.close()


def test_session_ids_are_uuids(call_run: CallRun) -> None:
    assert str(uuid.UUID(call_run.session_id)) == call_run.session_id
