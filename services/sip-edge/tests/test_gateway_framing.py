"""The gateway's pure parts: the two binary framings, the older session.start shape, and
the pacer's 'audio ready' that lets a WebSocket send only audio."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
from asp import AgentAudioFrame, ASPError
from sip_edge.call import Pacer
from sip_edge.gateway import g711
from sip_edge.gateway.connection import normalize_start
from sip_edge.gateway.framing import (
    Framing,
    encode_agent_audio,
    parse_caller_audio,
    seed_hash,
    unknown_seed_session,
)

SID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
PCM = bytes(range(200)) * 2


def seed(sid: str, pcm: bytes = PCM, direction: int = 0) -> bytes:
    return (
        bytes((1, direction))
        + hashlib.md5(sid.encode(), usedforsecurity=False).digest()[:8]
        + b"\x00\x00"
        + pcm
    )


def test_a_seed_frame_of_a_live_session_is_told_from_an_asp_frame() -> None:
    live = {seed_hash(SID): SID}
    got = parse_caller_audio(seed(SID), live)
    assert (got.framing, got.session_hash, got.payload) == (Framing.SEED, seed_hash(SID), PCM)
    asp = struct.pack("<HIQ", 1, 7, 140_000) + PCM
    got = parse_caller_audio(asp, live)
    assert (got.framing, got.session_hash, got.payload) == (Framing.ASP, None, PCM)
    # a seed frame of another session parses as an ASP frame: the connection decides (4001)
    other = seed("11111111-2222-3333-4444-555555555555")
    assert parse_caller_audio(other, live).framing is Framing.ASP
    assert unknown_seed_session(other)
    assert not unknown_seed_session(struct.pack("<HIQ", 1, 7, 1 << 40) + PCM)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x01", 1001),
        (b"\x02\x00" + bytes(20), 1003),
        (b"\x01\x01" + bytes(20), 1003),  # the agent's direction
        (b"\x01\x07" + bytes(20), 1003),
        (b"\x01\x00" + bytes(5), 1001),
    ],
)
def test_bad_frames_get_their_codes(data: bytes, code: int) -> None:
    with pytest.raises(ASPError) as e:
        parse_caller_audio(data, {})
    assert e.value.error.code == code


def test_agent_audio_goes_out_in_the_clients_framing() -> None:
    out = encode_agent_audio(Framing.SEED, SID, PCM)
    assert out == seed(SID, direction=1)
    out = encode_agent_audio(Framing.ASP, SID, PCM, sequence=3, timestamp_us=60_000, is_final=True)
    frame = AgentAudioFrame.decode(out)
    assert (frame.sequence, frame.timestamp_us, frame.is_final, frame.payload) == (
        3,
        60_000,
        True,
        PCM,
    )


def test_the_older_session_start_shape_and_the_extensions() -> None:
    data, framing, explicit, fast = normalize_start(
        {
            "type": "session.start",
            "session_id": SID,
            "audio_config": {
                "sample_rate": 16000,
                "channels": 1,
                "sample_width": 2,
                "frame_duration_ms": 20,
            },
        }
    )
    assert data["audio"] == {"sample_rate": 16000, "channels": 1, "frame_duration_ms": 20}
    assert "audio_config" not in data
    assert (framing, explicit, fast) == (Framing.SEED, False, False)
    data, framing, explicit, fast = normalize_start(
        {
            "type": "session.start",
            "session_id": SID,
            "audio": {"sample_rate": 8000},
            "framing": "seed",
            "playback": "fast",
        }
    )
    assert (framing, explicit, fast) == (Framing.SEED, True, True)
    # audio wins over audio_config; 8-bit samples are refused by the negotiation (2002)
    data, framing, *_ = normalize_start(
        {
            "type": "session.start",
            "session_id": SID,
            "audio": {"sample_rate": 8000},
            "audio_config": {"sample_rate": 16000},
        }
    )
    assert data["audio"] == {"sample_rate": 8000}
    assert framing is Framing.ASP
    data, *_ = normalize_start(
        {"type": "session.start", "session_id": SID, "audio_config": {"sample_width": 1}}
    )
    assert data["audio"]["encoding"] == "pcm_8bit"
    for bad in (
        {"framing": "opus"},
        {"playback": "slow"},
        {"audio_config": [1]},
        {"audio_config": {"sample_width": "2"}},
    ):
        with pytest.raises(ASPError) as e:
            normalize_start({"type": "session.start", "session_id": SID, **bad})
        assert e.value.error.code == 1001


def test_audio_ready_says_when_a_frame_of_audio_is_there() -> None:
    p = Pacer(320)
    assert not p.audio_ready()
    p.push("r", 1, bytes(320), False)  # seq 0 is late
    assert not p.audio_ready()
    p.push("r", 0, b"\x01" * 160, False)  # half a frame
    assert p.audio_ready()  # with seq 1 it makes a frame and more
    assert p.next_frame()[:160] == b"\x01" * 160
    assert not p.audio_ready()  # 160 bytes left, the response still open
    p.push("r", 2, b"", True)
    assert p.audio_ready()  # the end of the response: its tail, padded
    assert len(p.next_frame()) == 320
    assert not p.audio_ready()
    assert not p.holds("r")
    assert not p.playing


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_round_trip_keeps_the_signal(encoding: str) -> None:
    t = np.arange(8000) / 8000
    x = (12000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    coded = g711.encode(x.tobytes(), encoding)
    assert len(coded) == len(x)
    y = np.frombuffer(g711.decode(coded, encoding), dtype="<i2").astype(np.float64)
    noise = y - x
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2))
    assert snr > 30, snr
    # the codes of silence and of full scale, as every G.711 implementation has them
    assert g711.encode(bytes(2), encoding) == (b"\xff" if encoding == "mulaw" else b"\xd5")
    top = b"\x80" if encoding == "mulaw" else b"\xaa"
    assert int(np.frombuffer(g711.decode(top, encoding), "<i2")[0]) in (32124, 32256)
