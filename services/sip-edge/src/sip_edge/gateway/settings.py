"""asp-gateway settings: read once from the environment (every variable is in
services/sip-edge/.env.example, section "asp-gateway"). VAD, turn-taking, barge-in and
Redis are the sip-edge's own settings (:class:`sip_edge.settings.Settings`)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from pipeline.envparse import EnvReader

from ..settings import Settings as EdgeSettings
from ..settings import SettingsError

__all__ = ["AUTH_MODES", "GatewaySettings"]

AUTH_MODES = ("token", "none")


@dataclasses.dataclass(frozen=True, slots=True)
class GatewaySettings:
    edge: EdgeSettings = dataclasses.field(default_factory=EdgeSettings)
    host: str = "0.0.0.0"  # noqa: S104 - media servers connect from the network
    port: int = 8765
    auth: str = "token"
    token: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    metrics_host: str = "0.0.0.0"  # noqa: S104 - Prometheus scrapes from outside
    metrics_port: int = 9092
    max_connections: int = 1000
    max_connections_per_address: int = 64
    max_sessions_per_connection: int = 16
    session_starts_per_minute: int = 60
    max_message_bytes: int = 256 * 1024
    send_queue: int = 1000
    handshake_timeout_s: float = 30.0
    server_id: str = "asp-gateway"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        e = os.environ if env is None else env
        r = EnvReader(e, SettingsError)
        d = cls()
        auth = (e.get("ASP_GATEWAY_AUTH", d.auth) or d.auth).strip().lower()
        if auth not in AUTH_MODES:
            raise SettingsError(f"ASP_GATEWAY_AUTH must be one of {', '.join(AUTH_MODES)}")
        token = e.get("ASP_GATEWAY_TOKEN", "").strip()
        if auth == "token" and not token:
            raise SettingsError(
                "ASP_GATEWAY_TOKEN is empty: set the token clients must present "
                "(make up generates one in compose/.env), or ASP_GATEWAY_AUTH=none for a lab"
            )
        cert = e.get("ASP_GATEWAY_TLS_CERT", "").strip()
        key = e.get("ASP_GATEWAY_TLS_KEY", "").strip()
        if bool(cert) != bool(key):
            raise SettingsError("ASP_GATEWAY_TLS_CERT and ASP_GATEWAY_TLS_KEY go together")
        return cls(
            edge=EdgeSettings.from_env(e),
            host=e.get("ASP_GATEWAY_HOST", d.host) or d.host,
            port=r.integer("ASP_GATEWAY_PORT", d.port, 0, 65535),
            auth=auth,
            token=token,
            tls_cert=cert,
            tls_key=key,
            metrics_host=e.get("ASP_GATEWAY_METRICS_HOST", d.metrics_host) or d.metrics_host,
            metrics_port=r.integer("ASP_GATEWAY_METRICS_PORT", d.metrics_port, 0, 65535),
            max_connections=r.integer("ASP_GATEWAY_MAX_CONNECTIONS", d.max_connections, 1, 100_000),
            max_connections_per_address=r.integer(
                "ASP_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS", d.max_connections_per_address, 1, 100_000
            ),
            max_sessions_per_connection=r.integer(
                "ASP_GATEWAY_MAX_SESSIONS_PER_CONNECTION", d.max_sessions_per_connection, 1, 1000
            ),
            session_starts_per_minute=r.integer(
                "ASP_GATEWAY_SESSION_STARTS_PER_MINUTE", d.session_starts_per_minute, 1, 100_000
            ),
            max_message_bytes=r.integer(
                "ASP_GATEWAY_MAX_MESSAGE_BYTES", d.max_message_bytes, 1024, 16 * 1024 * 1024
            ),
            send_queue=r.integer("ASP_GATEWAY_SEND_QUEUE", d.send_queue, 10, 1_000_000),
            handshake_timeout_s=r.number(
                "ASP_GATEWAY_HANDSHAKE_TIMEOUT_S", d.handshake_timeout_s, 1, 3600
            ),
            server_id=e.get("ASP_GATEWAY_SERVER_ID", d.server_id) or d.server_id,
        )
