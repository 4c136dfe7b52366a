"""One realistic sample of every ASP message, for golden fixtures and services' tests."""

from __future__ import annotations

import dataclasses

from .audio import AudioConfig, VADConfig, VADPatch
from .errors import ErrorCategory, ProtocolError
from .messages import (
    Adjustment,
    AudioEnd,
    CallAction,
    CallActionKind,
    CallDtmf,
    Capabilities,
    Message,
    Negotiated,
    ProtocolCapabilities,
    ProtocolErrorMessage,
    ResponseAudio,
    ResponseCancel,
    ResponseEnd,
    ResponseStart,
    ResponseText,
    SessionEnd,
    SessionEnded,
    SessionStart,
    SessionStarted,
    SessionStatus,
    SessionUpdate,
    SessionUpdated,
    SpeechEnd,
    SpeechStart,
    Statistics,
    Transcript,
    TurnTiming,
    Utterance,
    UtteranceCancel,
    UtteranceConfirm,
)

SESSION_ID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
TS = "2026-11-25T13:00:00.000000Z"


def _tone(samples: int) -> bytes:
    """A deterministic little PCM16 pattern (not silence, so corruption shows)."""
    return b"".join(
        ((i * 1237) % 65536 - 32768).to_bytes(2, "little", signed=True) for i in range(samples)
    )


def utterance(sid: str, uid: str, audio: bytes, rate: int = 8000, ms: int = 1000) -> Utterance:
    """Utterance ``uid`` of session ``sid``: PCM16 ``audio`` at ``rate`` Hz, said to last
    ``ms`` milliseconds (for tests of the stages and of the wire)."""
    return Utterance(
        session_id=sid,
        utterance_id=uid,
        sample_rate=rate,
        encoding="pcm_s16le",
        duration_ms=ms,
        audio=audio,
    )


SAMPLES: dict[str, Message] = {
    m.TYPE: m
    for m in [
        ProtocolCapabilities(
            version="1.1.0",
            server_id="ai-agent-1",
            capabilities=Capabilities(
                version="1.1.0",
                supported_sample_rates=(8000, 16000),
                supported_encodings=("pcm_s16le",),
                supported_frame_durations=(10, 20, 30),
                vad_configurable=True,
                vad_parameters=("silence_threshold_ms", "min_speech_ms"),
                max_session_duration_seconds=14400,
                features=("barge_in", "streaming_tts", "sentence_pipeline"),
            ),
            timestamp=TS,
        ),
        SessionStart(
            session_id=SESSION_ID,
            call_id="a84b4c76e66710@192.0.2.10",
            audio=AudioConfig(sample_rate=8000),
            vad=VADConfig(silence_threshold_ms=2500),
            metadata={"caller_number": "1001", "language": "pt-BR"},
            version="1.1.0",
            timestamp=TS,
        ),
        SessionStarted(
            session_id=SESSION_ID,
            status=SessionStatus.ACCEPTED_WITH_CHANGES,
            negotiated=Negotiated(
                audio=AudioConfig(),
                vad=VADConfig(silence_threshold_ms=2000),
                adjustments=(
                    Adjustment(
                        field="vad.silence_threshold_ms",
                        requested=2500,
                        applied=2000,
                        reason="out of range: silence_threshold_ms must be within 100..2000",
                    ),
                ),
            ),
            timestamp=TS,
        ),
        SessionUpdate(session_id=SESSION_ID, vad=VADPatch(threshold=0.7), timestamp=TS),
        SessionUpdated(
            session_id=SESSION_ID,
            status=SessionStatus.REJECTED,
            errors=(
                ProtocolError(
                    code=3002,
                    category=ErrorCategory.VAD,
                    message="the AI side does not accept VAD changes",
                    recoverable=True,
                ),
            ),
            timestamp=TS,
        ),
        SessionEnd(session_id=SESSION_ID, reason="call_hangup", timestamp=TS),
        SessionEnded(
            session_id=SESSION_ID,
            duration_seconds=42.5,
            statistics=Statistics(
                audio_frames_received=2125,
                audio_frames_sent=900,
                vad_speech_events=4,
                barge_in_count=1,
                average_response_latency_ms=850.0,
            ),
            timestamp=TS,
        ),
        SpeechStart(session_id=SESSION_ID, timestamp=TS),
        SpeechEnd(session_id=SESSION_ID, duration_ms=1800, timestamp=TS),
        AudioEnd(session_id=SESSION_ID, duration_ms=1800, timestamp=TS),
        ResponseStart(session_id=SESSION_ID, response_id="r-1", timestamp=TS),
        ResponseEnd(session_id=SESSION_ID, response_id="r-1", interrupted=False, timestamp=TS),
        ProtocolErrorMessage(
            session_id=SESSION_ID,
            error=ProtocolError(
                code=2001,
                category=ErrorCategory.AUDIO,
                message="sample_rate 11025 is not supported",
                details={"field": "audio.sample_rate"},
                recoverable=True,
            ),
            timestamp=TS,
        ),
        dataclasses.replace(utterance(SESSION_ID, "u-1", _tone(160), ms=20), timestamp=TS),
        Transcript(
            session_id=SESSION_ID,
            utterance_id="u-1",
            text="Olá, preciso de ajuda com a minha conta.",
            language="pt",
            confidence=0.93,
            timestamp=TS,
        ),
        ResponseText(
            session_id=SESSION_ID,
            response_id="r-1",
            seq=0,
            text="Claro! Posso ajudar com a sua conta.",
            is_final=False,
            timestamp=TS,
        ),
        ResponseAudio(
            session_id=SESSION_ID,
            response_id="r-1",
            seq=0,
            audio=_tone(160),
            is_final=False,
            timestamp=TS,
        ),
        ResponseCancel(session_id=SESSION_ID, response_id="r-1", reason="barge_in", timestamp=TS),
        CallDtmf(session_id=SESSION_ID, digit="5", timestamp=TS),
        CallAction(
            session_id=SESSION_ID, action=CallActionKind.TRANSFER, target="1002", timestamp=TS
        ),
        UtteranceConfirm(session_id=SESSION_ID, utterance_id="u-1", timestamp=TS),
        UtteranceCancel(
            session_id=SESSION_ID, utterance_id="u-1", reason="caller_resumed", timestamp=TS
        ),
        TurnTiming(
            session_id=SESSION_ID,
            stage="llm",
            utterance_id="u-1",
            response_id="r-u-1",
            llm_first_token_ms=331,
            llm_first_clause_ms=837,
            timestamp=TS,
        ),
    ]
}


def transcript_of(msg: Utterance, text: str) -> Transcript:
    """What a fake STT stage answers to ``msg``: ``text``, in Portuguese, sure of it."""
    return Transcript(
        session_id=msg.session_id,
        utterance_id=msg.utterance_id,
        text=text,
        language="pt",
        confidence=1.0,
    )
