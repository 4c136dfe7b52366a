"""Every negotiation rule and the error code it answers with."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from asp import (
    AudioConfig,
    ErrorCode,
    SessionStart,
    SessionUpdate,
    VADConfig,
    VADPatch,
    check_version,
    default_capabilities,
    negotiate,
    negotiate_update,
)
from asp.audio import VAD_RANGES
from asp.messages import Negotiated, ProtocolCapabilities, SessionStatus
from asp.testing import SESSION_ID

CAPS = default_capabilities("test")


def start(**kw: Any) -> SessionStart:
    return SessionStart(session_id=SESSION_ID, **kw)


def caps_with(**changes: Any) -> ProtocolCapabilities:
    return dataclasses.replace(CAPS, capabilities=dataclasses.replace(CAPS.capabilities, **changes))


def test_defaults_are_accepted_unchanged() -> None:
    answer = negotiate(CAPS, start())
    assert answer.status == SessionStatus.ACCEPTED
    assert answer.negotiated == Negotiated(audio=AudioConfig(), vad=VADConfig(), adjustments=())
    assert AudioConfig().frame_bytes == 320


def test_wideband_is_accepted() -> None:
    answer = negotiate(CAPS, start(audio=AudioConfig(sample_rate=16000)))
    assert answer.status == SessionStatus.ACCEPTED
    assert answer.negotiated is not None
    assert answer.negotiated.audio.frame_bytes == 640
    assert AudioConfig(encoding="mulaw").frame_bytes == 160


@pytest.mark.parametrize(("name", "bounds"), sorted(VAD_RANGES.items()))
@pytest.mark.parametrize("side", ["low", "high"])
def test_out_of_range_vad_is_clamped_and_reported(
    name: str, bounds: tuple[float, float], side: str
) -> None:
    low, high = bounds
    requested = (low - 1) if side == "low" else (high + 1)
    if isinstance(getattr(VADConfig(), name), int):
        requested = int(requested)
    change: dict[str, Any] = {name: requested}
    answer = negotiate(CAPS, start(vad=dataclasses.replace(VADConfig(), **change)))
    assert answer.status == SessionStatus.ACCEPTED_WITH_CHANGES
    assert answer.negotiated is not None
    applied = getattr(answer.negotiated.vad, name)
    assert applied == (low if side == "low" else high)
    assert type(applied) is type(getattr(VADConfig(), name))
    (adj,) = answer.negotiated.adjustments
    assert (adj.field, adj.requested, adj.applied) == (f"vad.{name}", requested, applied)
    assert "range" in adj.reason


def test_values_on_the_bounds_are_not_adjusted() -> None:
    lows = {k: type(getattr(VADConfig(), k))(v[0]) for k, v in VAD_RANGES.items()}
    answer = negotiate(CAPS, start(vad=VADConfig(**lows)))
    assert answer.status == SessionStatus.ACCEPTED


@pytest.mark.parametrize(
    ("audio", "code"),
    [
        (AudioConfig(sample_rate=11025), ErrorCode.UNSUPPORTED_SAMPLE_RATE),
        (AudioConfig(encoding="opus"), ErrorCode.UNSUPPORTED_ENCODING),
        (AudioConfig(channels=2), ErrorCode.UNSUPPORTED_ENCODING),
        (AudioConfig(frame_duration_ms=25), ErrorCode.INVALID_FRAME_DURATION),
    ],
)
def test_unsupported_audio_is_rejected_recoverably(audio: AudioConfig, code: ErrorCode) -> None:
    answer = negotiate(CAPS, start(audio=audio))
    assert answer.status == SessionStatus.REJECTED
    assert answer.negotiated is None
    assert answer.errors is not None
    assert [e.code for e in answer.errors] == [code]
    assert answer.errors[0].recoverable is True
    assert answer.errors[0].category == "audio"


def test_rate_the_server_does_not_offer_is_2001() -> None:
    caps = caps_with(supported_sample_rates=(8000,), supported_encodings=("pcm_s16le",))
    answer = negotiate(caps, start(audio=AudioConfig(sample_rate=16000, encoding="alaw")))
    assert answer.errors is not None
    assert sorted(e.code for e in answer.errors) == [2001, 2002]


def test_frame_durations_default_to_the_protocols() -> None:
    answer = negotiate(caps_with(supported_frame_durations=None), start())
    assert answer.status == SessionStatus.ACCEPTED


def test_non_finite_vad_value_is_3001() -> None:
    answer = negotiate(CAPS, start(vad=VADConfig(threshold=float("nan"))))
    assert answer.errors is not None
    assert [e.code for e in answer.errors] == [ErrorCode.INVALID_VAD_PARAMETER]


@pytest.mark.parametrize(
    ("remote", "ok"),
    [("1.0.0", True), ("1.9.3", True), ("2.0.0", False), ("0.9", False), ("x", False)],
)
def test_version(remote: str, ok: bool) -> None:
    answer = negotiate(CAPS, start(version=remote))
    if ok:
        assert answer.status == SessionStatus.ACCEPTED
        assert check_version("1.1.0", remote) is None
    else:
        assert answer.status == SessionStatus.REJECTED
        assert answer.errors is not None
        assert [e.code for e in answer.errors] == [ErrorCode.VERSION_MISMATCH]
        assert answer.errors[0].recoverable is False


def test_vad_not_configurable_applies_server_defaults() -> None:
    caps = caps_with(vad_configurable=False)
    answer = negotiate(caps, start(vad=VADConfig(min_speech_ms=400)))
    assert answer.status == SessionStatus.ACCEPTED_WITH_CHANGES
    assert answer.negotiated is not None
    assert answer.negotiated.vad == VADConfig()
    (adj,) = answer.negotiated.adjustments
    assert adj.field == "vad.min_speech_ms"
    assert "vad_not_configurable" in adj.reason
    assert negotiate(caps, start()).status == SessionStatus.ACCEPTED


def test_update_merges_clamps_and_keeps_audio() -> None:
    first = negotiate(CAPS, start(audio=AudioConfig(sample_rate=16000)))
    assert first.negotiated is not None
    patch = VADPatch(silence_threshold_ms=5000, threshold=0.2)
    answer = negotiate_update(
        CAPS, first.negotiated, SessionUpdate(session_id=SESSION_ID, vad=patch)
    )
    assert answer.status == SessionStatus.ACCEPTED_WITH_CHANGES
    assert answer.negotiated is not None
    assert answer.negotiated.audio.sample_rate == 16000
    assert answer.negotiated.vad.silence_threshold_ms == 2000
    assert answer.negotiated.vad.threshold == 0.2
    assert answer.negotiated.vad.min_speech_ms == VADConfig().min_speech_ms


def test_update_rejections() -> None:
    current = Negotiated(audio=AudioConfig(), vad=VADConfig())
    request = SessionUpdate(session_id=SESSION_ID, vad=VADPatch(threshold=0.3))
    answer = negotiate_update(caps_with(vad_configurable=False), current, request)
    assert answer.errors is not None
    assert [e.code for e in answer.errors] == [ErrorCode.VAD_NOT_CONFIGURABLE]
    nan = SessionUpdate(session_id=SESSION_ID, vad=VADPatch(speech_ratio=float("inf")))
    answer = negotiate_update(CAPS, current, nan)
    assert answer.errors is not None
    assert [e.code for e in answer.errors] == [ErrorCode.INVALID_VAD_PARAMETER]
