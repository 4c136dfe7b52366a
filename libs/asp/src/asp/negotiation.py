"""Negotiation as pure functions: capabilities + requested configuration -> answer.

Rules (docs/ASP_SPECIFICATION.md, "Negociação"):
- a different MAJOR version: rejected, 1004;
- audio the AI side does not support: rejected (recoverable) with 2001 sample rate,
  2002 encoding or channels, 2003 frame duration; audio is never silently changed;
- VAD: an out-of-range value is clamped to the range and reported as an Adjustment
  (field, requested, applied, reason) with status accepted_with_changes; when the AI side
  does not let VAD be configured, requested values are replaced by its defaults (and
  reported), and a session.update of VAD is rejected with 3002.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .audio import (
    CHANNELS,
    ENCODINGS,
    FRAME_DURATIONS_MS,
    SAMPLE_RATES,
    VAD_RANGES,
    AudioConfig,
    VADConfig,
    VADPatch,
)
from .errors import ErrorCode, ProtocolError, make_error
from .messages import (
    PROTOCOL_VERSION,
    Adjustment,
    Capabilities,
    Negotiated,
    ProtocolCapabilities,
    SessionStart,
    SessionStarted,
    SessionStatus,
    SessionUpdate,
    SessionUpdated,
    now_iso,
)

FEATURES = ("barge_in", "streaming_tts", "sentence_pipeline")


def default_capabilities(server_id: str | None = None) -> ProtocolCapabilities:
    """What this implementation supports: every rate and encoding of ASP, configurable VAD."""
    return ProtocolCapabilities(
        version=PROTOCOL_VERSION,
        server_id=server_id,
        capabilities=Capabilities(
            version=PROTOCOL_VERSION,
            supported_sample_rates=SAMPLE_RATES,
            supported_encodings=ENCODINGS,
            supported_frame_durations=FRAME_DURATIONS_MS,
            vad_configurable=True,
            vad_parameters=tuple(f.name for f in dataclasses.fields(VADConfig)),
            max_session_duration_seconds=4 * 3600,
            features=FEATURES,
        ),
        timestamp=now_iso(),
    )


def major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def check_version(local: str, remote: str) -> ProtocolError | None:
    """None when the two versions share their MAJOR; else the 1004 error."""
    if major(local) is not None and major(local) == major(remote):
        return None
    return make_error(
        ErrorCode.VERSION_MISMATCH,
        f"version {remote!r} is not compatible with {local!r} (different MAJOR)",
        {"local": local, "remote": remote},
    )


def _audio_errors(caps: Capabilities, audio: AudioConfig) -> list[ProtocolError]:
    rates = [r for r in caps.supported_sample_rates if r in SAMPLE_RATES]
    encodings = [e for e in caps.supported_encodings if e in ENCODINGS]
    durations = [
        d for d in (caps.supported_frame_durations or FRAME_DURATIONS_MS) if d in FRAME_DURATIONS_MS
    ]
    # (field, value, what the far end supports, error code, the message's "use ..." part)
    checks: list[tuple[str, int | str, list[Any], ErrorCode, str]] = [
        ("sample_rate", audio.sample_rate, rates, ErrorCode.UNSUPPORTED_SAMPLE_RATE,
         f"use one of {rates}"),
        ("encoding", audio.encoding, encodings, ErrorCode.UNSUPPORTED_ENCODING,
         f"use one of {encodings}"),
        ("channels", audio.channels, list(CHANNELS), ErrorCode.UNSUPPORTED_ENCODING,
         "ASP audio is mono (1)"),
        ("frame_duration_ms", audio.frame_duration_ms, durations,
         ErrorCode.INVALID_FRAME_DURATION, f"use {durations}"),
    ]  # fmt: skip
    return [
        make_error(
            code,
            f"{name} {value!r} is not supported; {use}",
            {"field": f"audio.{name}", "supported": supported},
        )
        for name, value, supported, code, use in checks
        if value not in supported
    ]


def _clamp_vad(vad: VADConfig) -> tuple[VADConfig, list[Adjustment]]:
    changes: dict[str, Any] = {}
    adjustments: list[Adjustment] = []
    for name, (low, high) in VAD_RANGES.items():
        value = getattr(vad, name)
        if low <= value <= high:
            continue
        applied = type(value)(min(max(value, low), high))
        changes[name] = applied
        adjustments.append(
            Adjustment(
                field=f"vad.{name}",
                requested=value,
                applied=applied,
                reason=f"out of range: {name} must be within {low:g}..{high:g}",
            )
        )
    return dataclasses.replace(vad, **changes), adjustments


def _not_configurable(requested: VADConfig, defaults: VADConfig) -> list[Adjustment]:
    return [
        Adjustment(
            field=f"vad.{f.name}",
            requested=getattr(requested, f.name),
            applied=getattr(defaults, f.name),
            reason="vad_not_configurable: the AI side uses its own VAD settings",
        )
        for f in dataclasses.fields(VADConfig)
        if getattr(requested, f.name) != getattr(defaults, f.name)
    ]


def _invalid_vad(vad: VADConfig | VADPatch) -> ProtocolError | None:
    for name in VAD_RANGES:
        value = getattr(vad, name)
        if isinstance(value, float) and not math.isfinite(value):
            return make_error(
                ErrorCode.INVALID_VAD_PARAMETER,
                f"{name} must be a finite number",
                {"field": f"vad.{name}"},
            )
    return None


def _rejected(session_id: str, errors: list[ProtocolError]) -> SessionStarted:
    return SessionStarted(
        session_id=session_id,
        status=SessionStatus.REJECTED,
        errors=tuple(errors),
        timestamp=now_iso(),
    )


def negotiate(
    capabilities: ProtocolCapabilities,
    request: SessionStart,
    vad_defaults: VADConfig | None = None,
) -> SessionStarted:
    """The AI side's answer to a ``session.start``: accepted, accepted_with_changes or rejected."""
    caps = capabilities.capabilities
    if request.version is not None:
        version_error = check_version(capabilities.version, request.version)
        if version_error is not None:
            return _rejected(request.session_id, [version_error])
    audio = request.audio or AudioConfig()
    errors = _audio_errors(caps, audio)
    requested_vad = request.vad or VADConfig()
    vad_error = _invalid_vad(requested_vad)
    if vad_error is not None:
        errors.append(vad_error)
    if errors:
        return _rejected(request.session_id, errors)

    defaults = vad_defaults or VADConfig()
    if caps.vad_configurable:
        vad, adjustments = _clamp_vad(requested_vad)
    else:
        vad, adjustments = defaults, _not_configurable(requested_vad, defaults)
    return SessionStarted(
        session_id=request.session_id,
        status=SessionStatus.ACCEPTED_WITH_CHANGES if adjustments else SessionStatus.ACCEPTED,
        negotiated=Negotiated(audio=audio, vad=vad, adjustments=tuple(adjustments)),
        timestamp=now_iso(),
    )


def negotiate_update(
    capabilities: ProtocolCapabilities, current: Negotiated, request: SessionUpdate
) -> SessionUpdated:
    """The answer to a ``session.update``: VAD merged into the current settings and clamped."""

    def rejected(error: ProtocolError) -> SessionUpdated:
        return SessionUpdated(
            session_id=request.session_id,
            status=SessionStatus.REJECTED,
            errors=(error,),
            timestamp=now_iso(),
        )

    if not capabilities.capabilities.vad_configurable:
        return rejected(
            make_error(ErrorCode.VAD_NOT_CONFIGURABLE, "the AI side does not accept VAD changes")
        )
    invalid = _invalid_vad(request.vad)
    if invalid is not None:
        return rejected(invalid)
    changes = {
        f.name: getattr(request.vad, f.name)
        for f in dataclasses.fields(VADPatch)
        if getattr(request.vad, f.name) is not None
    }
    vad, adjustments = _clamp_vad(dataclasses.replace(current.vad, **changes))
    return SessionUpdated(
        session_id=request.session_id,
        status=SessionStatus.ACCEPTED_WITH_CHANGES if adjustments else SessionStatus.ACCEPTED,
        negotiated=Negotiated(audio=current.audio, vad=vad, adjustments=tuple(adjustments)),
        timestamp=now_iso(),
    )
