"""sip-edge settings: read once from the environment in ``__main__`` (every variable is in
services/sip-edge/.env.example). Defaults work offline on one machine."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from pipeline.envparse import EnvReader

from .vad import CLASSIFIERS

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    sip_bind: str = "0.0.0.0"  # noqa: S104 - a SIP endpoint listens on the network
    sip_port: int = 5070
    extension: str = "2000"
    password: str = ""
    registrar: str = ""
    max_calls: int = 50
    rtp_port: int = 30000
    rtp_port_range: int = 2000
    wideband: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    language: str = "pt-BR"
    vad: str = "gate"
    barge_in_min_ms: int = 120
    echo_guard_db: float = 6.0
    playback_high_water_ms: int = 10_000
    metrics_host: str = "0.0.0.0"  # noqa: S104 - Prometheus scrapes from outside
    metrics_port: int = 9091
    drain_grace_s: float = 30.0
    action_wait_s: float = 10.0
    apology_wav: str = ""
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
        extension = e.get("SIP_EDGE_EXTENSION", "2000") or "2000"
        if not extension.isascii() or not extension.isalnum():
            raise SettingsError("SIP_EDGE_EXTENSION must be letters and digits")
        return cls(
            sip_bind=e.get("SIP_EDGE_SIP_BIND", d.sip_bind) or d.sip_bind,
            sip_port=r.integer("SIP_EDGE_SIP_PORT", d.sip_port, 0, 65535),
            extension=extension,
            password=e.get("EXT_2000_PASSWORD", ""),
            registrar=e.get("SIP_EDGE_REGISTRAR", ""),
            max_calls=r.integer("SIP_EDGE_MAX_CALLS", d.max_calls, 1, 500),
            rtp_port=r.integer("SIP_EDGE_RTP_PORT", d.rtp_port, 0, 65535),
            rtp_port_range=r.integer("SIP_EDGE_RTP_PORT_RANGE", d.rtp_port_range, 0, 30000),
            wideband=r.flag("SIP_EDGE_WIDEBAND", d.wideband),
            redis_url=e.get("REDIS_URL", d.redis_url) or d.redis_url,
            language=e.get("SIP_EDGE_LANGUAGE", d.language) or d.language,
            vad=vad,
            barge_in_min_ms=r.integer("SIP_EDGE_BARGE_IN_MIN_MS", d.barge_in_min_ms, 20, 2000),
            echo_guard_db=r.number("SIP_EDGE_ECHO_GUARD_DB", d.echo_guard_db, 0, 40),
            playback_high_water_ms=r.integer(
                "SIP_EDGE_PLAYBACK_HIGH_WATER_MS", d.playback_high_water_ms, 200, 600_000
            ),
            metrics_host=e.get("SIP_EDGE_METRICS_HOST", d.metrics_host) or d.metrics_host,
            metrics_port=r.integer("SIP_EDGE_METRICS_PORT", d.metrics_port, 0, 65535),
            drain_grace_s=r.number("SIP_EDGE_DRAIN_GRACE_S", d.drain_grace_s, 0, 3600),
            action_wait_s=r.number("SIP_EDGE_ACTION_WAIT_S", d.action_wait_s, 0, 120),
            apology_wav=e.get("SIP_EDGE_APOLOGY_WAV", ""),
            jb_max_pre_ms=r.integer("SIP_EDGE_JB_MAX_PRE_MS", d.jb_max_pre_ms, 20, 1000),
            pj_log_level=r.integer("SIP_EDGE_PJ_LOG_LEVEL", d.pj_log_level, 0, 6),
            log_level=(e.get("SIP_EDGE_LOG_LEVEL", d.log_level) or d.log_level).upper(),
        )
