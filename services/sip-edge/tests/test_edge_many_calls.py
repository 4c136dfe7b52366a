"""20 simultaneous calls into one sip-edge process (no Asterisk): each call is its own ASP
session, its utterance holds its own caller's speech and nobody else's, and each caller
hears the answer written to its session and no other."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest
import redis
from asp import streams as layout
from asp.messages import Message, Utterance
from sip_edge.testing import (
    CALLER_PHRASES,
    REDIS_URL,
    EdgeProcess,
    Signal,
    audio_found,
    caller_result,
    from_pcm,
    last_entry_id,
    pcm,
    read_wav,
    session_messages,
    session_starts,
    speech_wav,
    start_multi_caller,
    write_response,
)

pytestmark = pytest.mark.integration  # sip-edge and a PJSUA2 caller as processes, a redis-server

N = len(CALLER_PHRASES)


def test_twenty_calls_each_get_their_own_session_and_audio(tmp_path: Path) -> None:
    said = [speech_wav(p, tmp_path / f"said{i}.wav") for i, p in enumerate(CALLER_PHRASES)]
    speech = [read_wav(p)[0] for p in said]
    prefix = f"m{random.randrange(10**6, 10**7)}_"
    r = redis.Redis.from_url(REDIS_URL)
    try:
        with EdgeProcess(tmp_path / "edge.log", REDIS_URL=REDIS_URL) as edge:
            after = last_entry_id(r, layout.work_stream(layout.Stage.LLM))
            calls = [(said[i], tmp_path / f"heard{i}.wav") for i in range(N)]
            caller, call_ids = start_multi_caller(
                edge.uri, prefix, calls, "--play-at", "1.0", "--hangup-at", "10.0"
            )
            sessions = _sessions(r, after, call_ids, timeout=20)
            # Once a caller's turn is over, its session gets its own answer: the phrase of
            # the *next* caller, so that hearing its own phrase or a neighbour's is caught.
            logs: dict[int, list[Message]] = {}
            answered: set[int] = set()
            answered_at: dict[int, float] = {}
            started = time.monotonic()
            deadline = started + 15
            while len(answered) < N and time.monotonic() < deadline:
                for i, sid in sessions.items():
                    if i in answered:
                        continue
                    logs[i] = session_messages(r, sid)[1]
                    if any(isinstance(m, Utterance) for m in logs[i]):
                        write_response(r, sid, f"answer-{i}", pcm(speech[(i + 1) % N]))
                        answered.add(i)
                        answered_at[i] = time.monotonic() - started
                time.sleep(0.1)
            result = caller_result(caller, timeout=60)
            logs = {i: session_messages(r, sid)[1] for i, sid in sessions.items()}
            edge_log = edge.log()
    finally:
        r.close()
    assert result["up"] == N
    assert len(set(sessions.values())) == N
    for i in range(N):
        utts = [m for m in logs[i] if isinstance(m, Utterance)]
        assert len(utts) == 1, (i, len(utts))
        audio = from_pcm(utts[0].audio)
        assert audio_found(audio, speech[i]) is None, (i, audio_found(audio, speech[i]))
        for j in (i - 1, (i + 1) % N):  # nobody else's speech in this call's utterance
            assert audio_found(audio, speech[j]) is not None, (i, j)
        heard, _ = read_wav(tmp_path / f"heard{i}.wav")
        answer = speech[(i + 1) % N]
        # 20 calls on a loaded 2-core machine: the phones' jitter buffers insert or drop a
        # frame now and then (1-3 per 2 s phrase seen here; the jitter benchmark through
        # Asterisk is where it gets measured). Cross-talk is still caught: another call's
        # phrase matches almost no window.
        why = audio_found(heard, answer, max_bad=1 / 3)
        assert why is None, (
            i,
            why,
            _heard_diagnostics(heard, answered_at.get(i), sessions[i], edge_log),
        )
        assert audio_found(heard, speech[(i + 2) % N]) is not None, i


def _heard_diagnostics(heard: Signal, answered_s: float | None, sid: str, edge_log: str) -> str:
    """What a caller that missed its answer heard, when the answer was written (seconds after
    the sessions were found; the callers hang up 10 s after answering) and what the edge
    logged for that session."""
    rms = float(np.sqrt(np.mean(heard**2))) if len(heard) else 0.0
    voiced = int(np.count_nonzero(np.abs(heard) > 0.01))
    lines = [line for line in edge_log.splitlines() if sid in line][-12:]
    return (
        f"heard {len(heard) / 8000:.2f} s, RMS {rms:.4f}, {voiced} samples above 0.01; "
        f"answer written at {answered_s} s; edge log for {sid}: " + " | ".join(lines)
    )


def _sessions(r: redis.Redis, after: str, call_ids: list[str], timeout: float) -> dict[int, str]:
    starts = session_starts(r, after, N, timeout, lambda m: m.call_id in call_ids)
    assert len(starts) == N, f"{len(starts)} sessions of {N}"
    by_index: dict[int, str] = {}
    for m in starts:
        assert m.call_id is not None  # the filter above took only the calls placed here
        by_index[call_ids.index(m.call_id)] = m.session_id
    return by_index
