"""One real call, end to end without Asterisk: a PJSUA2 caller (its own process) dials
sip-edge (its own process) straight on its SIP port; real Redis in between; the test plays
the pipeline's part by reading and writing the streams.

Timeline of the call (seconds after answer): the test writes a greeting as response.audio
chunks as soon as session.start shows up; the caller sends DTMF at 0.5 s, starts speaking at
3 s, and hangs up at 8.5 s. Malformed entries are written on the session stream meanwhile.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from asp import ASPError, from_entry, to_entry
from asp import streams as layout
from asp.messages import CallDtmf, Message, ResponseAudio, SessionStart, Utterance
from sip_edge.testing import from_pcm, pcm, read_wav, speech_wav, windowed_match

HERE = Path(__file__).parent
CALLER = HERE / "support" / "edge_caller.py"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
MALFORMED = [
    {"type": "response.audio", "data": b"\xc1not msgpack"},
    {"type": "nope.unknown", "data": b"\x80"},
    {"data": b"\x80"},
    {"type": "response.audio", "session_id": "x", "data": b"\x81\xa3seq\x01"},
]


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
    notes: dict[str, Any] = field(default_factory=dict)


def _start_edge(tmp: Path) -> tuple[subprocess.Popen[str], int, int, Path]:
    log_path = tmp / "edge.log"
    env = {
        **os.environ,
        "SIP_EDGE_SIP_PORT": "0",
        "SIP_EDGE_SIP_BIND": "127.0.0.1",
        "SIP_EDGE_RTP_PORT": "0",
        "SIP_EDGE_METRICS_PORT": "0",
        "SIP_EDGE_METRICS_HOST": "127.0.0.1",
        "SIP_EDGE_DRAIN_GRACE_S": "2",
        "REDIS_URL": REDIS_URL,
    }
    with log_path.open("w") as log_file:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "sip_edge"],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env=env,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("SIP_EDGE_READY"):
            parts = dict(p.split("=") for p in line.split()[1:])
            return proc, int(parts["sip_port"]), int(parts["metrics_port"]), log_path
        if not line and proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    proc.stdout.close()
    raise AssertionError(f"sip-edge did not start:\n{log_path.read_text()[-3000:]}")


def _last_id(r: redis.Redis, key: str) -> str:
    last = r.xrevrange(key, count=1)
    return last[0][0].decode() if last else "0-0"


def _find_session(r: redis.Redis, after: str, caller: str, timeout: float) -> str:
    key = layout.work_stream(layout.Stage.LLM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _k, entries in r.xread({key: after}, block=200) or []:
            for entry_id, fields in entries:
                after = entry_id.decode()
                if fields.get(b"type") != b"session.start":
                    continue
                msg = from_entry(fields)
                assert isinstance(msg, SessionStart)
                if (msg.metadata or {}).get("caller_number") == caller:
                    return msg.session_id
    raise AssertionError("no session.start for the test call")


@pytest.fixture(scope="module")
def call_run(tmp_path_factory: pytest.TempPathFactory) -> CallRun:
    tmp = tmp_path_factory.mktemp("edge-call")
    speech_path = speech_wav("Eu gostaria de saber o saldo da minha conta.", tmp / "speech.wav")
    greet_path = speech_wav("Bem-vindo. Como posso ajudar?", tmp / "greeting.wav")
    speech, _ = read_wav(speech_path)
    greeting, _ = read_wav(greet_path)
    r = redis.Redis.from_url(REDIS_URL)
    edge, sip_port, metrics_port, edge_log = _start_edge(tmp)
    try:
        user = f"t{random.randrange(10**8, 10**9)}"
        after = _last_id(r, layout.work_stream(layout.Stage.LLM))
        caller = subprocess.Popen(
            [
                sys.executable, str(CALLER),
                "--target", f"sip:2000@127.0.0.1:{sip_port}",
                "--user", user,
                "--play", str(speech_path), "--play-at", "3.0",
                "--record", str(tmp / "heard.wav"),
                "--dtmf", "5", "--dtmf-at", "0.5",
                "--hangup-at", "8.5",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        session_id = _find_session(r, after, user, timeout=10)
        stream = layout.session_stream(session_id)
        # The greeting, as the TTS worker would write it: 200 ms chunks.
        data = pcm(greeting)
        chunk = 3200
        n = -(-len(data) // chunk)
        for seq in range(n):
            msg = ResponseAudio(
                session_id=session_id,
                response_id="greeting-1",
                seq=seq,
                audio=data[seq * chunk : (seq + 1) * chunk],
                is_final=seq == n - 1,
            )
            r.xadd(stream, to_entry(msg))
        for bad in MALFORMED:
            r.xadd(stream, bad)
        out, _ = caller.communicate(timeout=30)
        caller_result = json.loads(out.strip().splitlines()[-1])
        # session.end is written once the hang-up is seen.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            types = [f.get(b"type", b"").decode() for _i, f in r.xrange(stream)]
            if "session.end" in types:
                break
            time.sleep(0.1)
        raw = r.xrange(stream)
        entries: list[Message] = []
        raw_types: list[str] = []
        for _id, fields in raw:
            raw_types.append(fields.get(b"type", b"").decode())
            try:
                entries.append(from_entry(fields))
            except ASPError:  # the malformed ones the test wrote
                continue
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        heard, _ = read_wav(tmp / "heard.wav")
    finally:
        edge.send_signal(signal.SIGTERM)
        try:
            edge.wait(15)
        except subprocess.TimeoutExpired:
            edge.kill()
            edge.wait()
        if edge.stdout is not None:
            edge.stdout.close()
        r.close()
    return CallRun(
        session_id, entries, raw_types, caller_result, heard, speech, greeting, metrics,
        edge.returncode, edge_log.read_text(errors="replace"),
    )  # fmt: skip


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"metric {name} missing")


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
    windows = windowed_match(audio, call_run.speech)
    assert len(windows) >= 8
    assert min(score for score, _ in windows) >= 0.8, windows
    offsets = [offset for _, offset in windows]
    assert offsets == sorted(offsets)  # in order
    # Prefix padding: the first syllable is not at the first sample of the utterance.
    assert offsets[0] > 0
    assert utts[0].duration_ms == len(utts[0].audio) // 16


def test_greeting_reaches_the_caller_complete(call_run: CallRun) -> None:
    windows = windowed_match(call_run.heard, call_run.greeting)
    assert len(windows) >= 5
    assert min(score for score, _ in windows) >= 0.8, windows
    offsets = [offset for _, offset in windows]
    assert offsets == sorted(offsets)
    assert offsets[0] < 8000  # within the first second after the answer


def test_caller_dtmf_is_published(call_run: CallRun) -> None:
    dtmf = [e for e in call_run.entries if isinstance(e, CallDtmf)]
    assert [d.digit for d in dtmf] == ["5"]


def test_malformed_entries_are_counted_and_skipped(call_run: CallRun) -> None:
    assert _metric(call_run.metrics, "sip_edge_malformed_entries_total") == len(MALFORMED)
    assert _metric(call_run.metrics, "sip_edge_calls_total") == 1
    assert _metric(call_run.metrics, "sip_edge_barge_ins_total") == 0


def test_edge_stops_cleanly_on_sigterm(call_run: CallRun) -> None:
    assert call_run.edge_rc == 0, call_run.edge_log[-3000:]
    assert "Traceback" not in call_run.edge_log


def test_session_keys_expire(call_run: CallRun) -> None:
    r = redis.Redis.from_url(REDIS_URL)
    try:
        ttl = r.ttl(layout.session_stream(call_run.session_id))
        assert 0 < ttl <= layout.SESSION_ENDED_TTL_S
        assert r.zscore(layout.ACTIVE_SESSIONS, call_run.session_id) is None
    finally:
        r.close()


def test_session_ids_are_uuids(call_run: CallRun) -> None:
    assert str(uuid.UUID(call_run.session_id)) == call_run.session_id
