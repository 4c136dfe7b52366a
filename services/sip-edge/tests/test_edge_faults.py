"""End-to-end cases beyond the nominal call, without Asterisk: barge-in measured in the
caller's recording, 486 Busy Here past max calls, Redis going away in the middle of a call.
Each case runs its own sip-edge process and PJSUA2 caller process."""

from __future__ import annotations

import random
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from asp.messages import (
    CallAction,
    CallActionKind,
    ResponseAudio,
    ResponseCancel,
    ResponseStart,
    SessionStart,
    Utterance,
)
from pipeline.testing import RedisServer
from sip_edge.testing import (
    REDIS_URL,
    EdgeProcess,
    Signal,
    agent_tone,
    audio_found,
    caller_result,
    dial,
    find_session,
    frame_rms,
    line_noise,
    metric,
    new_caller_number,
    pcm,
    read_wav,
    send,
    session_messages,
    speech_wav,
    start_caller,
    wait_session_end,
    windowed_match,
    write_response,
    write_wav,
)

pytestmark = pytest.mark.integration  # sip-edge and a PJSUA2 caller as processes, a redis-server

RATE = 8000


def onset_s(x: Signal) -> float:
    """Where speech begins in a WAV: first 20 ms frame above 5 % of the loudest."""
    rms = frame_rms(x)
    return float(np.argmax(rms > 0.05 * rms.max())) * 0.02


def test_barge_in_stops_playback_fast_and_drops_the_rest(tmp_path: Path, r: redis.Redis) -> None:
    speech_path = speech_wav("Espera, não é isso que eu quero.", tmp_path / "speech.wav")
    speech, _ = read_wav(speech_path)
    with EdgeProcess(tmp_path / "edge.log", REDIS_URL=REDIS_URL) as edge:
        caller, sid = dial(
            r, edge,
            "--play", str(speech_path), "--play-at", "3.0",
            "--record", str(tmp_path / "heard.wav"), "--hangup-at", "7.0",
        )  # fmt: skip
        tone = agent_tone(12.0)
        half = len(tone) // 2
        # The first half of a long answer now; its second half (same response, later
        # seqs) only after the barge-in: those late chunks must not be played.
        n = write_response(r, sid, "long-1", pcm(tone[:half]))
        deadline = time.monotonic() + 10
        cancel = None
        while cancel is None and time.monotonic() < deadline:
            _types, msgs = session_messages(r, sid)
            cancel = next((m for m in msgs if isinstance(m, ResponseCancel)), None)
            time.sleep(0.05)
        assert cancel is not None, "no response.cancel after the caller spoke"
        assert (cancel.response_id, cancel.reason) == ("long-1", "barge_in")
        rest = pcm(tone[half:])
        for k, seq in enumerate(range(n, n + 10)):
            chunk = rest[k * 3200 : (k + 1) * 3200]
            audio = ResponseAudio(
                session_id=sid,
                response_id="long-1",
                seq=seq,
                audio=chunk,
                is_final=seq == n + 9,
            )
            send(r, sid, audio)
        result = caller_result(caller)
        metrics = edge.metrics()
    heard, _ = read_wav(tmp_path / "heard.wav")
    rms = frame_rms(heard)
    level = np.median(rms[10:100])  # the tone, well before the caller speaks
    assert level > 500
    played, recorded = result["play_started_s"], result["record_started_s"]
    assert isinstance(played, float)
    assert isinstance(recorded, float)
    onset = played - recorded + onset_s(speech)
    start = int(onset / 0.02)
    quiet = np.nonzero(rms[start - 25 :] < 0.1 * level)[0]
    assert len(quiet), "playback never stopped"
    stopped = (start - 25 + int(quiet[0])) * 0.02
    latency = stopped - onset
    print(f"barge-in: playback stopped {latency * 1000:.0f} ms after the caller's speech onset")
    # The guard (120 ms of voiced speech), two jitter buffers and two conference bridges,
    # within the 200 ms at the phone: measured 151-160 ms (docs/perf/sip-edge.md).
    assert 0.0 < latency <= 0.2, latency
    # Nothing of the cut response afterwards (the late chunks were dropped).
    assert np.all(rms[int(stopped / 0.02) + 5 :] < 0.1 * level)
    assert metric(metrics, "sip_edge_barge_ins_total") == 1
    assert metric(metrics, "sip_edge_late_chunks_dropped_total") == 10


def test_calls_beyond_max_calls_get_486(tmp_path: Path, r: redis.Redis) -> None:
    env = {"REDIS_URL": REDIS_URL, "SIP_EDGE_MAX_CALLS": "1"}
    with EdgeProcess(tmp_path / "edge.log", **env) as edge:
        a, _sid = dial(r, edge, "--hangup-at", "4.0")
        b = start_caller(edge.uri, new_caller_number(), "--hangup-at", "2.0", "--timeout", "6")
        second = caller_result(b)
        first_result = caller_result(a)
        metrics = edge.metrics()
    assert first_result["confirmed"] is True
    assert second["confirmed"] is False
    assert second["status"] == 486
    assert metric(metrics, "sip_edge_calls_rejected_total") == 1
    assert metric(metrics, "sip_edge_calls_total") == 1


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, so it can be stopped and started again."""
    with RedisServer() as server:
        yield server


def test_redis_restart_during_a_call(tmp_path: Path, private_redis: RedisServer) -> None:
    first = speech_wav("Quero falar sobre a minha fatura.", tmp_path / "first.wav")
    during = speech_wav("O valor veio errado este mês.", tmp_path / "during.wav")
    after = speech_wav("Você pode verificar, por favor?", tmp_path / "after.wav")
    answer, _ = read_wav(speech_wav("Claro, vou verificar agora.", tmp_path / "answer.wav"))
    apology_path = speech_wav("Desculpe, um momento.", tmp_path / "apology-8000.wav")
    apology, _ = read_wav(apology_path)
    env = {
        "REDIS_URL": private_redis.url,
        "SIP_EDGE_APOLOGY_WAV": str(tmp_path / "apology-{rate}.wav"),
    }
    r = redis.Redis.from_url(private_redis.url)
    try:
        with EdgeProcess(tmp_path / "edge.log", **env) as edge:
            who = new_caller_number()
            caller = start_caller(
                edge.uri, who,
                "--say", f"{first}@1.0", "--say", f"{during}@6.0", "--say", f"{after}@11.0",
                "--record", str(tmp_path / "heard.wav"), "--hangup-at", "18.0",
                "--timeout", "30",
            )  # fmt: skip
            sid = find_session(r, "0-0", who)
            _wait_for(lambda: _utterances(r, sid) >= 1, 8)
            private_redis.stop()  # Redis goes away (and its data with it) ...
            time.sleep(6.0)  # ... while the caller speaks a second time (at 6 s)
            private_redis.start()
            r.close()
            r = redis.Redis.from_url(private_redis.url)
            # The turn spoken during the outage arrives once Redis is back, then the next.
            _wait_for(lambda: _utterances(r, sid) >= 2, 12)
            write_response(r, sid, "after-restart", pcm(answer))
            result = caller_result(caller)
            metrics = edge.metrics()
            _types, msgs = session_messages(r, sid)
    finally:
        r.close()
    assert result["confirmed"] is True
    assert result["hung_up_by"] == "caller"  # the call stayed up through the outage
    assert edge.returncode == 0
    assert "Traceback" not in edge.log()
    assert metric(metrics, "sip_edge_redis_errors_total") > 0
    utts = [m for m in msgs if isinstance(m, Utterance)]
    assert len(utts) == 2  # the one spoken during the outage and the one after it
    heard, _ = read_wav(tmp_path / "heard.wav")
    # The caller heard the apology while Redis was down (the turn spoken at 6 s ended about
    # 8 s in, and again for the turn at 11 s if Redis was still starting under load), and the
    # answer written after the restart.
    why = audio_found(heard, apology)
    assert why is None, why
    why = audio_found(heard, answer)
    assert why is None, why
    # Not before Redis went away (the first turn was answered normally: no apology then).
    apology_at = windowed_match(heard, apology)[0][1] / RATE
    assert apology_at > 4.0, apology_at


def _utterances(r: redis.Redis, sid: str) -> int:
    try:
        types, _ = session_messages(r, sid)
    except redis.ConnectionError:
        return 0
    return types.count("utterance")


def _wait_for(cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_pipeline_call_actions_send_dtmf_then_hang_up(tmp_path: Path, r: redis.Redis) -> None:
    with EdgeProcess(tmp_path / "edge.log", REDIS_URL=REDIS_URL) as edge:
        caller, sid = dial(r, edge, "--hangup-at", "15.0")
        time.sleep(0.5)
        dtmf = CallAction(session_id=sid, action=CallActionKind.DTMF, digits="42#")
        send(r, sid, dtmf)
        time.sleep(1.5)
        send(r, sid, CallAction(session_id=sid, action=CallActionKind.HANGUP))
        result = caller_result(caller)
        wait_session_end(r, sid, edge, result)
    assert result["hung_up_by"] == "remote"
    assert result["digits_received"] == "42#"


def test_a_hang_up_waits_until_the_goodbye_was_heard(tmp_path: Path, r: redis.Redis) -> None:
    """The LLM publishes call.action right after its last words, before the TTS voiced
    them: sip-edge hangs up only once the announced response has been played to the end
    (here 3 s of audio that arrives 1 s after the action); a response announced and never
    voiced holds the hang-up only SIP_EDGE_ACTION_WAIT_S."""
    goodbye = agent_tone(3.0)
    env = {"REDIS_URL": REDIS_URL, "SIP_EDGE_ACTION_WAIT_S": "8"}
    with EdgeProcess(tmp_path / "edge.log", **env) as edge:
        caller, sid = dial(
            r, edge, "--record", str(tmp_path / "heard.wav"), "--hangup-at", "20.0",
            "--timeout", "25",
        )  # fmt: skip
        time.sleep(0.5)
        send(r, sid, ResponseStart(session_id=sid, response_id="bye-1"))
        send(r, sid, CallAction(session_id=sid, action=CallActionKind.HANGUP))
        time.sleep(1.0)
        asked = time.monotonic()
        write_response(r, sid, "bye-1", pcm(goodbye))
        result = caller_result(caller)
        waited = time.monotonic() - asked
        wait_session_end(r, sid, edge, result)

        # announced, never voiced: the hang-up comes after the cap, not never
        caller, sid2 = dial(r, edge, "--hangup-at", "20.0", "--timeout", "25")
        send(r, sid2, ResponseStart(session_id=sid2, response_id="mute-1"))
        send(r, sid2, CallAction(session_id=sid2, action=CallActionKind.HANGUP))
        capped = caller_result(caller)
        wait_session_end(r, sid2, edge, capped)
    assert result["hung_up_by"] == "remote"
    assert waited >= 2.5, waited  # not before the 3 s goodbye had played
    heard, _ = read_wav(tmp_path / "heard.wav")
    voiced_s = float(np.sum(frame_rms(heard) > 300)) * 0.02
    assert voiced_s >= 2.8, voiced_s  # the whole goodbye reached the caller
    assert capped["hung_up_by"] == "remote"


def test_sigterm_drains_refuses_new_calls_then_ends_live_ones(
    tmp_path: Path, r: redis.Redis
) -> None:
    env = {"REDIS_URL": REDIS_URL, "SIP_EDGE_DRAIN_GRACE_S": "2"}
    with EdgeProcess(tmp_path / "edge.log", **env) as edge:
        live, sid = dial(r, edge, "--hangup-at", "20.0", "--timeout", "25")
        assert edge.proc is not None
        edge.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        late = caller_result(start_caller(edge.uri, new_caller_number(), "--timeout", "5"))
        ended = caller_result(live)
        wait_session_end(r, sid, edge, ended)
        assert edge.proc.wait(15) == 0
    assert late["status"] == 486
    assert ended["hung_up_by"] == "remote"


def test_wideband_call_is_a_16_khz_session(tmp_path: Path, r: redis.Redis) -> None:
    speech_path = speech_wav("Alô, está me ouvindo?", tmp_path / "speech.wav")
    env = {"REDIS_URL": REDIS_URL, "SIP_EDGE_WIDEBAND": "true"}
    with EdgeProcess(tmp_path / "edge.log", **env) as edge:
        caller, sid = dial(
            r, edge, "--codec", "G722/",
            "--play", str(speech_path), "--play-at", "0.5", "--hangup-at", "4.0",
        )  # fmt: skip
        wait_session_end(r, sid, edge, caller_result(caller))
        _types, msgs = session_messages(r, sid)
    start = next(m for m in msgs if isinstance(m, SessionStart))
    assert start.audio is not None
    assert start.audio.sample_rate == 16000
    assert start.metadata is not None
    assert start.metadata["codec"].startswith("G722")
    utts = [m for m in msgs if isinstance(m, Utterance)]
    assert len(utts) == 1
    assert utts[0].sample_rate == 16000
    assert utts[0].duration_ms == len(utts[0].audio) // 32


def test_line_noise_makes_no_utterance_and_no_barge_in(tmp_path: Path, r: redis.Redis) -> None:
    """10 s of telephone-band noise at -20 dB SNR (20 dB above a -26 dBov speech level),
    sent by the phone while the agent speaks for the first 5 s and after it stops."""
    noise_path = write_wav(tmp_path / "noise.wav", line_noise(10.0, snr_db=-20.0))
    with EdgeProcess(tmp_path / "edge.log", REDIS_URL=REDIS_URL) as edge:
        caller, sid = dial(
            r, edge, "--play", str(noise_path), "--play-at", "0.5",
            "--hangup-at", "11.5", "--timeout", "20",
        )  # fmt: skip
        write_response(r, sid, "talking-1", pcm(agent_tone(5.0)))
        wait_session_end(r, sid, edge, caller_result(caller))
        types, _msgs = session_messages(r, sid)
        metrics = edge.metrics()
    assert "utterance" not in types
    assert "audio.speech_start" not in types
    assert "response.cancel" not in types
    assert metric(metrics, "sip_edge_barge_ins_total") == 0
    assert metric(metrics, "sip_edge_playback_holds_total") == 0  # not even a pause
    assert metric(metrics, "sip_edge_frames_in_total") > 400  # the noise did arrive
    assert edge.returncode == 0, edge.log()[-2000:]


def test_garbage_on_the_sip_port_does_not_hurt(tmp_path: Path, r: redis.Redis) -> None:
    rng = random.Random(4)
    bad = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1400))) for _ in range(40)]
    bad += [
        b"INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP\r\n\r\n",
        b"INVITE sip:2000@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0",
        b"SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n",
        b"\r\n\r\n",
        b"OPTIONS " + b"a" * 1300 + b" SIP/2.0\r\n\r\n",
    ]
    with EdgeProcess(tmp_path / "edge.log", REDIS_URL=REDIS_URL) as edge:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for datagram in bad:
                s.sendto(datagram, ("127.0.0.1", edge.sip_port))
        time.sleep(0.5)
        caller, _sid = dial(r, edge, "--hangup-at", "1.5")
        result = caller_result(caller)
    assert result["confirmed"] is True
    assert edge.returncode == 0
