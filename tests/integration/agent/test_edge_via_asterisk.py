"""sip-edge behind the real Asterisk (issue 4): a PJSUA2 phone registered as 1001 dials 2000,
Asterisk sends the call to sip-edge's registration, and the test plays the workers' part by
reading and writing the session's streams on a private Redis.

Audio is compared window by window (100 ms windows, correlation >= 0.8 after G.711 twice:
phone -> Asterisk -> sip-edge), as in services/sip-edge/tests: a jitter buffer may insert or
drop a 20 ms frame, which would spoil one correlation over a whole utterance.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import redis
from asp.messages import (
    CallAction,
    CallActionKind,
    CallDtmf,
    ResponseAudio,
    ResponseCancel,
    SessionStart,
    Utterance,
)
from edge_support import dial_2000, wait_audio_heard, wait_for
from pbx_support import cli, wait_heard
from sip_edge.testing import (
    EdgeProcess,
    agent_tone,
    audio_found,
    frame_rms,
    from_pcm,
    pcm,
    read_wav,
    send,
    session_messages,
    speech_wav,
    write_response,
)
from sipphone import FRAME_SAMPLES, SAMPLE_RATE, Phone, make_signal, poll_until

OWN_EVENTS = ("session.start", "audio.speech_start", "utterance", "audio.end", "session.end")


@pytest.fixture(scope="module")
def speech(edge_dir: Path) -> npt.NDArray[Any]:
    path = speech_wav("Eu gostaria de saber o saldo da minha conta.", edge_dir / "speech.wav")
    return read_wav(path)[0]


@pytest.fixture(scope="module")
def answer(edge_dir: Path) -> npt.NDArray[Any]:
    path = speech_wav("Bem-vindo. O seu saldo é de cem reais.", edge_dir / "answer.wav")
    return read_wav(path)[0]


def test_speech_becomes_an_utterance_and_the_answer_reaches_the_phone(
    sip_edge: EdgeProcess,
    phones: dict[str, Phone],
    r: redis.Redis,
    speech: npt.NDArray[Any],
    answer: npt.NDArray[Any],
) -> None:
    call, sid = dial_2000(phones["1001"], r)
    time.sleep(0.5)
    call.play(speech.astype(np.int16))
    log = wait_for(r, sid, "audio.end")

    types, log = session_messages(r, sid)
    assert [t for t in types if t in OWN_EVENTS] == [
        "session.start",
        "audio.speech_start",
        "utterance",
        "audio.end",
    ]
    start = log[0]
    assert isinstance(start, SessionStart)
    assert start.audio is not None
    assert start.audio.sample_rate == 8000
    assert start.metadata is not None
    assert start.metadata["caller_number"] == "1001"
    utterances = [m for m in log if isinstance(m, Utterance)]
    assert len(utterances) == 1
    why = audio_found(from_pcm(utterances[0].audio), speech)
    assert why is None, why

    write_response(r, sid, "answer-1", pcm(answer))
    wait_audio_heard(call, answer)

    call.hangup()
    wait_for(r, sid, "session.end", timeout=15)
    types, _ = session_messages(r, sid)
    assert types.count("session.end") == 1


def test_dtmf_from_the_phone_is_published(
    sip_edge: EdgeProcess, phones: dict[str, Phone], r: redis.Redis
) -> None:
    call, sid = dial_2000(phones["1001"], r)
    time.sleep(0.5)
    call.send_dtmf("7")
    time.sleep(0.5)
    call.send_dtmf("#")
    poll_until(
        lambda: len([m for m in session_messages(r, sid)[1] if isinstance(m, CallDtmf)]) >= 2,
        15,
        "two call.dtmf entries",
        interval=0.1,
    )
    digits = [m.digit for m in session_messages(r, sid)[1] if isinstance(m, CallDtmf)]
    assert digits == ["7", "#"]


def test_hangup_asked_by_the_pipeline_ends_the_call(
    sip_edge: EdgeProcess, phones: dict[str, Phone], r: redis.Redis
) -> None:
    call, sid = dial_2000(phones["1001"], r)
    send(r, sid, CallAction(session_id=sid, action=CallActionKind.HANGUP))
    call.wait_disconnected(15)
    wait_for(r, sid, "session.end", timeout=15)


def test_transfer_asked_by_the_pipeline_rings_1002(
    sip_edge: EdgeProcess, phones: dict[str, Phone], r: redis.Redis
) -> None:
    call, sid = dial_2000(phones["1001"], r)
    send(r, sid, CallAction(session_id=sid, action=CallActionKind.TRANSFER, target="1002"))
    incoming = phones["1002"].wait_incoming(20)  # rings: the phone answered 180
    incoming.answer()
    # sip-edge's leg is gone once the transfer is accepted; the caller now talks to 1002.
    wait_for(r, sid, "session.end", timeout=15)
    assert not call.disconnected.is_set()
    signal = make_signal(2.0, seed=7)
    incoming.play(signal, loop=True)
    wait_heard(call, signal[2000:10000], timeout=15)


@pytest.mark.parametrize("target", ["8000", "1099"])
def test_a_transfer_outside_the_allowlist_fails_at_asterisk(
    sip_edge: EdgeProcess, phones: dict[str, Phone], r: redis.Redis, target: str
) -> None:
    """The second check (issue 15): even when a call.action reaches sip-edge without the
    llm-worker's check (a compromised worker or Redis), the REFER to the conference room or
    to an unlisted extension fails at Asterisk: the agent's leg transfers in the
    agent-transfer context, which holds only AGENT_TRANSFER_ALLOWLIST (1001-1005). The
    caller stays with the agent and never reaches the room."""
    call, sid = dial_2000(phones["1001"], r)
    before = sip_edge.log().count("transfer failed")
    send(r, sid, CallAction(session_id=sid, action=CallActionKind.TRANSFER, target=target))
    poll_until(
        lambda: sip_edge.log().count("transfer failed") > before,
        15,
        "sip-edge to report the refused transfer",
        interval=0.2,
    )
    assert "transfer failed (404)" in sip_edge.log()
    assert not call.disconnected.is_set()
    assert "session.end" not in session_messages(r, sid)[0]
    assert "8000" not in cli("confbridge list")
    assert not phones["1002"].has_incoming()
    # the agent still talks to the caller after the refusal
    tone = agent_tone(1.0)
    write_response(r, sid, "after-refusal", pcm(tone))
    poll_until(lambda: int(np.sum(frame_rms(call.recording()) > 500)) >= 20, 15, "the agent")
    call.hangup()
    wait_for(r, sid, "session.end", timeout=15)


def test_barge_in_stops_the_answer_and_drops_the_rest(
    sip_edge: EdgeProcess, phones: dict[str, Phone], r: redis.Redis, speech: npt.NDArray[Any]
) -> None:
    """The phone speaks during a long answer: the answer stops at the phone (measured in
    its recording), response.cancel(barge_in) is published, and the answer's later chunks
    are not played."""
    call, sid = dial_2000(phones["1001"], r)
    tone = agent_tone(12.0)
    half = len(tone) // 2
    n = write_response(r, sid, "long-1", pcm(tone[:half]))
    poll_until(lambda: int(np.sum(frame_rms(call.recording()) > 500)) >= 50, 15, "the answer", 0.1)
    call.play(speech.astype(np.int16))
    # Where the phone's speech went out, in the recording's samples (same media clock).
    mark = call.play_mark()
    cancel = None

    def cancelled() -> bool:
        nonlocal cancel
        msgs = session_messages(r, sid)[1]
        cancel = next((m for m in msgs if isinstance(m, ResponseCancel)), None)
        return cancel is not None

    poll_until(cancelled, 15, "response.cancel after the phone spoke", interval=0.05)
    assert cancel is not None
    assert (cancel.response_id, cancel.reason) == ("long-1", "barge_in")
    rest = pcm(tone[half:])
    for k, seq in enumerate(range(n, n + 10)):
        send(r, sid, ResponseAudio(
            session_id=sid, response_id="long-1", seq=seq,
            audio=rest[k * 3200 : (k + 1) * 3200], is_final=seq == n + 9,
        ))  # fmt: skip
    wait_for(r, sid, "audio.end")
    time.sleep(2.0)  # time for late chunks to be (wrongly) played
    heard = call.recording()
    call.hangup()

    rms = frame_rms(heard)
    start = mark // FRAME_SAMPLES
    level = float(np.median(rms[start - 40 : start - 5]))  # the tone, before the phone spoke
    assert level > 500
    # Onset and stop to 5 ms: the first 5 ms of speech above 5 % of its loudest 20 ms frame,
    # and the first 5 ms of the answer's audio quieter than a tenth of the tone after it.
    onset = mark + int(np.argmax(frame_rms(speech, 40) > 0.05 * frame_rms(speech).max())) * 40
    after = frame_rms(heard[onset:], 40)
    quiet = np.nonzero(after < 0.1 * level)[0]
    assert len(quiet), "playback never stopped"
    stopped = onset + int(quiet[0]) * 40
    latency = (stopped - onset) / SAMPLE_RATE
    print(f"barge-in through Asterisk: answer stopped {latency * 1000:.0f} ms after onset")
    # The bound: the early pause (60 ms of voiced speech, SIP_EDGE_BARGE_IN_HOLD_MS;
    # the cut follows at the 120 ms guard), the VAD's delay, and the jitter buffers and
    # bridges of two hops (phone -> Asterisk -> sip-edge, and back); never before the pause.
    assert 0.06 < latency <= 0.2, latency
    # Nothing of the cut response afterwards (the late chunks were dropped).
    assert np.all(rms[stopped // FRAME_SAMPLES + 5 :] < 0.1 * level)


def test_a_60_second_answer_reaches_the_phone_complete_in_order_and_without_gaps(
    sip_edge: EdgeProcess, phones: dict[str, Phone], r: redis.Redis
) -> None:
    """60 one-second steps of a continuous tone, each louder than the one before: the phone
    must hear all 60 s, the steps in order, and no silence longer than 40 ms inside."""
    call, sid = dial_2000(phones["1001"], r)
    steps = [agent_tone(1.0, amplitude=200.0 * 1.05**k) for k in range(60)]  # 5 % steps
    write_response(r, sid, "long-60", pcm(np.concatenate(steps)))

    def heard_all() -> bool:
        loud = np.nonzero(frame_rms(call.recording()) > 150)[0]
        return len(loud) >= 2900 and len(frame_rms(call.recording())) - loud[-1] > 50

    poll_until(heard_all, 120, "the whole 60 s answer", interval=0.5)
    rms = frame_rms(call.recording())
    call.hangup()
    loud = np.nonzero(rms > 150)[0]
    first, last = int(loud[0]), int(loud[-1])
    # 3000 frames, give or take what the jitter buffers inserted or dropped.
    assert 2990 <= last - first + 1 <= 3010, last - first + 1
    quiet = rms[first : last + 1] <= 150
    longest, run = 0, 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    assert longest <= 2, f"a gap of {longest * 20} ms inside the answer"
    # Each second's level, from the middle of that second: strictly rising = in order.
    levels = [float(np.median(rms[first + 50 * k + 10 : first + 50 * k + 40])) for k in range(60)]
    assert bool(np.all(np.diff(levels) > 0)), levels
