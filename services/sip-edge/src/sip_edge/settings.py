"""sip-edge settings: read once from the environment in ``__main__`` (every variable is in
services/sip-edge/.env.example). Defaults work offline on one machine."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from pipeline.envparse import EnvReader, cache_dir
from pipeline.redis_client import RedisOptions

from .call.turn_end import TURN_MODES, TurnEndParams
from .sources import SourcePolicy, SourcesError, parse_sources, resolve
from .vad import CLASSIFIERS

__all__ = ["TURN_MODEL", "Settings", "SettingsError"]

DEFAULT_TURN_MODE = "silence"
"""SIP_EDGE_TURN_MODE's default: docs/perf/turn-detection.md has the measurement behind it."""

TURN_MODEL = Path("smart-turn-v3.2-pipecat-1.14.0/smart-turn-v3.2-cpu.onnx")
"""The end-of-turn model under $PABX_CACHE/models (scripts/assemble_models.py puts it there)."""


class SettingsError(ValueError):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    sip_bind: str = "0.0.0.0"  # noqa: S104 - a SIP endpoint listens on the network
    sip_port: int = 5070
    extension: str = "2000"
    password: str = ""
    registrar: str = ""
    digest_auth: bool = False
    allowed_sources: str = ""  # "": the registrar's host, or 127.0.0.1 (sources.py)
    max_calls: int = 50
    rtp_port: int = 30000
    rtp_port_range: int = 2000
    wideband: bool = False
    redis_options: RedisOptions = dataclasses.field(default_factory=RedisOptions)
    language: str = "pt-BR"
    vad: str = "gate"
    barge_in_min_ms: int = 120
    barge_in_onset_ms: int = 60  # the soft onset the guard counts (sip_edge.call.turns)
    barge_in_hold_ms: int = 60  # playback pauses here, before the guard is sure (turns.py)
    echo_guard_db: float = 6.0
    echo_guard_learn: bool = True  # the threshold follows what the line returns (turns.py)
    turn_mode: str = DEFAULT_TURN_MODE
    turn_pause_ms: int = 200
    turn_max_silence_ms: int = 1200
    turn_threshold: float = 0.5
    turn_model_path: str = ""  # "": the packaged model in $PABX_CACHE (see turn_model_file)
    turn_threads: int = 1
    speculative_pause_ms: int = 0
    playback_high_water_ms: int = 10_000
    metrics_host: str = "0.0.0.0"  # noqa: S104 - Prometheus scrapes from outside
    metrics_port: int = 9091
    drain_grace_s: float = 30.0
    action_wait_s: float = 10.0
    apology_wav: str = ""
    no_answer_s: float = 8.0
    max_utterance_s: float = 30.0
    max_call_s: float = 4 * 3600.0
    goodbye_wav: str = ""
    pj_log_level: int = 1
    jb_max_pre_ms: int = 100
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        r = EnvReader(e, SettingsError)
        d = cls()  # the defaults (slots: class attributes are descriptors)
        vad = e.get("SIP_EDGE_VAD", "gate") or "gate"
        if vad not in CLASSIFIERS:
            raise SettingsError(f"SIP_EDGE_VAD must be one of {', '.join(CLASSIFIERS)}")
        turn_pause_ms = r.integer("SIP_EDGE_TURN_PAUSE_MS", d.turn_pause_ms, 20, 5000)
        turn_max_silence_ms = r.integer(
            "SIP_EDGE_TURN_MAX_SILENCE_MS", d.turn_max_silence_ms, 100, 10_000
        )
        _check_turn_silences(turn_pause_ms, turn_max_silence_ms)
        max_utterance_s = r.number("SIP_EDGE_MAX_UTTERANCE_S", d.max_utterance_s, 0, 600)
        if 0 < max_utterance_s < 1:
            raise SettingsError("SIP_EDGE_MAX_UTTERANCE_S must be 0 (no cap) or at least 1")
        max_call_s = r.number("SIP_EDGE_MAX_CALL_S", d.max_call_s, 0, 86_400)
        if 0 < max_call_s < 10:
            raise SettingsError("SIP_EDGE_MAX_CALL_S must be 0 (no limit) or at least 10")
        extension = e.get("SIP_EDGE_EXTENSION", "2000") or "2000"
        if not extension.isascii() or not extension.isalnum():
            raise SettingsError("SIP_EDGE_EXTENSION must be letters and digits")
        allowed_sources = e.get("SIP_EDGE_ALLOWED_SOURCES", "").strip()
        registrar = e.get("SIP_EDGE_REGISTRAR", "")
        # the syntax now (host names stand for themselves); resolution at start-up
        try:
            parse_sources(allowed_sources, _default_sources(registrar), lambda _h: ["192.0.2.1"])
        except SourcesError as err:
            raise SettingsError(str(err)) from None
        digest_auth = r.flag("SIP_EDGE_DIGEST_AUTH", False)
        if digest_auth and not e.get("EXT_2000_PASSWORD", ""):
            raise SettingsError("SIP_EDGE_DIGEST_AUTH=true needs EXT_2000_PASSWORD (the password)")
        return cls(
            digest_auth=digest_auth,
            sip_bind=e.get("SIP_EDGE_SIP_BIND", d.sip_bind) or d.sip_bind,
            sip_port=r.integer("SIP_EDGE_SIP_PORT", d.sip_port, 0, 65535),
            extension=extension,
            password=e.get("EXT_2000_PASSWORD", ""),
            registrar=registrar,
            allowed_sources=allowed_sources,
            max_calls=r.integer("SIP_EDGE_MAX_CALLS", d.max_calls, 1, 500),
            rtp_port=r.integer("SIP_EDGE_RTP_PORT", d.rtp_port, 0, 65535),
            rtp_port_range=r.integer("SIP_EDGE_RTP_PORT_RANGE", d.rtp_port_range, 0, 30000),
            wideband=r.flag("SIP_EDGE_WIDEBAND", d.wideband),
            redis_options=RedisOptions.from_env(e, SettingsError),
            language=e.get("SIP_EDGE_LANGUAGE", d.language) or d.language,
            vad=vad,
            barge_in_min_ms=r.integer("SIP_EDGE_BARGE_IN_MIN_MS", d.barge_in_min_ms, 20, 2000),
            barge_in_onset_ms=r.integer("SIP_EDGE_BARGE_IN_ONSET_MS", d.barge_in_onset_ms, 0, 200),
            barge_in_hold_ms=r.integer("SIP_EDGE_BARGE_IN_HOLD_MS", d.barge_in_hold_ms, 0, 2000),
            echo_guard_db=r.number("SIP_EDGE_ECHO_GUARD_DB", d.echo_guard_db, 0, 40),
            echo_guard_learn=r.flag("SIP_EDGE_ECHO_GUARD_LEARN", d.echo_guard_learn),
            turn_mode=_turn_mode(e.get("SIP_EDGE_TURN_MODE", "")),
            turn_pause_ms=turn_pause_ms,
            turn_max_silence_ms=turn_max_silence_ms,
            turn_threshold=r.number("SIP_EDGE_TURN_THRESHOLD", d.turn_threshold, 0, 1),
            turn_model_path=e.get("SIP_EDGE_TURN_MODEL_PATH", "").strip(),
            turn_threads=r.integer("SIP_EDGE_TURN_THREADS", d.turn_threads, 1, 16),
            speculative_pause_ms=r.integer(
                "SIP_EDGE_SPECULATIVE_PAUSE_MS", d.speculative_pause_ms, 0, 5000
            ),
            playback_high_water_ms=r.integer(
                "SIP_EDGE_PLAYBACK_HIGH_WATER_MS", d.playback_high_water_ms, 200, 600_000
            ),
            metrics_host=e.get("SIP_EDGE_METRICS_HOST", d.metrics_host) or d.metrics_host,
            metrics_port=r.integer("SIP_EDGE_METRICS_PORT", d.metrics_port, 0, 65535),
            drain_grace_s=r.number("SIP_EDGE_DRAIN_GRACE_S", d.drain_grace_s, 0, 3600),
            action_wait_s=r.number("SIP_EDGE_ACTION_WAIT_S", d.action_wait_s, 0, 120),
            apology_wav=e.get("SIP_EDGE_APOLOGY_WAV", ""),
            no_answer_s=r.number("SIP_EDGE_NO_ANSWER_S", d.no_answer_s, 0, 120),
            max_utterance_s=max_utterance_s,
            max_call_s=max_call_s,
            goodbye_wav=e.get("SIP_EDGE_GOODBYE_WAV", ""),
            jb_max_pre_ms=r.integer("SIP_EDGE_JB_MAX_PRE_MS", d.jb_max_pre_ms, 20, 1000),
            pj_log_level=r.integer("SIP_EDGE_PJ_LOG_LEVEL", d.pj_log_level, 0, 6),
            log_level=(e.get("SIP_EDGE_LOG_LEVEL", d.log_level) or d.log_level).upper(),
        )

    def source_policy(self) -> SourcePolicy:
        """Who may call sip-edge; resolves host names (blocking DNS: at start-up only)."""
        try:
            return parse_sources(self.allowed_sources, _default_sources(self.registrar), resolve)
        except SourcesError as err:
            raise SettingsError(str(err)) from None

    def turn_params(self) -> TurnEndParams:
        """The end-of-turn decision's parameters (the mode as configured)."""
        return TurnEndParams(
            self.turn_mode,
            self.turn_pause_ms,
            self.turn_max_silence_ms,
            self.turn_threshold,
            self.speculative_pause_ms,
        )

    def turn_model_file(self) -> Path:
        """SIP_EDGE_TURN_MODEL_PATH, or the packaged model under $PABX_CACHE."""
        if self.turn_model_path:
            return Path(self.turn_model_path).expanduser()
        return cache_dir() / "models" / TURN_MODEL


def _default_sources(registrar: str) -> list[str]:
    """The registrar's host (``host:port``, ``[v6]:port``), or 127.0.0.1 without one."""
    r = registrar.strip()
    if not r:
        return ["127.0.0.1"]
    if r.startswith("["):
        return [r[1 : r.find("]")]] if "]" in r else [r]
    return [r.rsplit(":", 1)[0] if r.count(":") == 1 else r]


def _turn_mode(raw: str) -> str:
    mode = raw.strip().lower() or DEFAULT_TURN_MODE
    if mode not in TURN_MODES:
        raise SettingsError(f"SIP_EDGE_TURN_MODE must be one of {', '.join(TURN_MODES)}")
    return mode


def _check_turn_silences(pause_ms: int, max_silence_ms: int) -> None:
    if max_silence_ms < pause_ms:
        raise SettingsError("SIP_EDGE_TURN_MAX_SILENCE_MS must be >= SIP_EDGE_TURN_PAUSE_MS")
