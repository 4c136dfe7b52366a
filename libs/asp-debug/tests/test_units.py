"""The parts of asp-debug without I/O: framing, levels, WAV checks, entry decoding."""

from __future__ import annotations

import hashlib
import math
import struct
import uuid
import wave
from pathlib import Path

import msgpack
import pytest
from asp import AgentAudioFrame, AudioConfig, CallerAudioFrame, SessionStart, to_entry
from asp.messages import ResponseAudio
from asp.testing import utterance
from asp_debug.audio import WavError, dbfs, frames_of, read_wav, write_wav
from asp_debug.framing import CallerFramer, FrameError, Framing, decode_agent_frame
from asp_debug.render import decode_entry, format_entry

SID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"


def test_spec_caller_frames_are_numbered_and_stamped() -> None:
    framer = CallerFramer(Framing.SPEC, SID)
    first = CallerAudioFrame.decode(framer.frame(b"\x01\x00" * 160, 0))
    second = CallerAudioFrame.decode(framer.frame(b"\x02\x00" * 160, 20_000))
    assert (first.sequence, second.sequence) == (0, 1)
    assert second.timestamp_us == 20_000
    assert second.payload == b"\x02\x00" * 160


def test_seed_caller_frame_is_the_12_byte_header_of_the_seed() -> None:
    data = CallerFramer(Framing.SEED, SID).frame(b"\xaa\xbb", 0)
    assert data[:2] == b"\x01\x00"
    assert data[2:10] == hashlib.md5(SID.encode(), usedforsecurity=False).digest()[:8]
    assert data[10:12] == b"\x00\x00"
    assert data[12:] == b"\xaa\xbb"


def test_agent_frames_of_either_framing_are_read() -> None:
    spec = decode_agent_frame(AgentAudioFrame(7, 140_000, b"\x10\x00" * 4, is_final=True).encode())
    assert (spec.framing, spec.sequence, spec.is_final, spec.payload) == (
        Framing.SPEC,
        7,
        True,
        b"\x10\x00" * 4,
    )
    seed = decode_agent_frame(
        b"\x01\x01"
        + hashlib.md5(SID.encode(), usedforsecurity=False).digest()[:8]
        + b"\0\0"
        + b"xy"
    )
    assert (seed.framing, seed.payload) == (Framing.SEED, b"xy")
    assert seed.session_hash == hashlib.md5(SID.encode(), usedforsecurity=False).digest()[:8]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "(empty)"),
        (b"\x01\x00" + b"\x00" * 20, "not agent audio"),  # caller audio echoed back
        (b"\x01\x01\x00", "shorter than its 12-byte header"),
        (b"\x02\x00\x00", "shorter than its header"),
        (struct.pack("<HIQB", 2, 0, 0, 0x80), "flags"),
    ],
)
def test_a_frame_that_is_not_agent_audio_is_a_clear_error(data: bytes, needle: str) -> None:
    with pytest.raises(FrameError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        decode_agent_frame(data)


def test_levels_in_dbfs() -> None:
    assert dbfs(struct.pack("<4h", 32767, -32767, 32767, -32767)) == pytest.approx(0.0, abs=0.01)
    half = struct.pack("<2h", 16384, -16384)
    assert dbfs(half) == pytest.approx(20 * math.log10(0.5), abs=0.1)
    assert dbfs(b"\x00" * 320) is None
    assert dbfs(b"") is None


def test_frames_are_whole_and_the_last_is_padded() -> None:
    frames = frames_of(b"\x01" * 700, 320)
    assert [len(f) for f in frames] == [320, 320, 320]
    assert frames[-1].endswith(b"\x00" * 260)


def _wav(path: Path, channels: int = 1, width: int = 2, rate: int = 16000, n: int = 160) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x01" * n * channels * width)
    return path


def test_wav_roundtrip(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", 8000, b"\x01\x02" * 800)
    wav = read_wav(tmp_path / "a.wav")
    assert (wav.sample_rate, wav.pcm, wav.duration_ms) == (8000, b"\x01\x02" * 800, 100)


def test_bad_wavs_are_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "text.wav").write_text("not audio")
    cases = {
        tmp_path / "missing.wav": "no such file",
        tmp_path / "text.wav": "not a WAV file",
        _wav(tmp_path / "stereo.wav", channels=2): "2 channel",
        _wav(tmp_path / "8bit.wav", width=1): "8-bit",
        _wav(tmp_path / "empty.wav", n=0): "no audio",
    }
    for path, needle in cases.items():
        with pytest.raises(WavError, match=needle):
            read_wav(path)


def test_entries_written_by_the_codec_are_decoded() -> None:
    sid = str(uuid.uuid4())
    rates: dict[str, int] = {}
    start = decode_entry(
        "1-0", to_entry(SessionStart(session_id=sid, audio=AudioConfig(sample_rate=16000))), rates
    )
    assert start["type"] == "session.start"
    assert start["data"]["audio"]["sample_rate"] == 16000
    assert rates == {sid: 16000}
    pcm = struct.pack("<2h", 16384, -16384) * 800  # 100 ms at 16 kHz, -6 dBFS
    reply = decode_entry(
        "2-0",
        to_entry(ResponseAudio(session_id=sid, response_id="r-1", seq=0, audio=pcm, is_final=True)),
        rates,
    )
    assert reply["audio"] == {"bytes": 3200, "dbfs": -6.0, "duration_ms": 100}
    assert "audio" not in reply["data"]
    assert "error" not in reply
    line = format_entry(reply)
    assert "response.audio" in line
    assert "3200 bytes, 100 ms, -6.0 dBFS" in line
    assert '"response_id":"r-1"' in line
    utt = decode_entry(
        "3-0",
        to_entry(utterance(sid, "u-1", b"\x00" * 320, ms=20)),
    )
    assert utt["audio"] == {"bytes": 320, "dbfs": None, "duration_ms": 20}
    assert "-inf dBFS" in format_entry(utt)


def test_a_malformed_entry_is_reported_not_raised() -> None:
    bad = decode_entry("9-0", {b"type": b"transcript", b"data": b"\xc1"})
    assert "not msgpack" in bad["error"]
    missing = decode_entry("9-1", {b"type": b"transcript"})
    assert missing["error"] == "entry has no data field"
    wrong = decode_entry(
        "9-2", {b"type": b"transcript", b"data": msgpack.packb({"session_id": SID})}
    )
    assert wrong["data"] == {"session_id": SID}
    assert "not a valid ASP event (1001)" in wrong["error"]
    assert "!!" in format_entry(wrong)
