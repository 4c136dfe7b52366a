"""The gateway's own metrics (``asp_gateway_*``), beside the edge's (``sip_edge_*``: VAD,
barge-in, turn timings, Redis) on the same registry and the same /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["GatewayMetrics"]


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.connections = Gauge(
            "asp_gateway_connections", "WebSocket connections open", registry=r
        )
        self.connection_attempts = Counter(
            "asp_gateway_connection_attempts",
            "WebSocket connection attempts by outcome: accepted, unauthorized (no or wrong "
            "token), not_found (another path), limited (too many connections)",
            ["outcome"],
            registry=r,
        )
        self.sessions = Gauge("asp_gateway_sessions", "ASP sessions live", registry=r)
        self.sessions_started = Counter(
            "asp_gateway_sessions_started", "ASP sessions accepted", registry=r
        )
        self.errors = Counter(
            "asp_gateway_protocol_errors", "protocol.error sent, by ASP code", ["code"], registry=r
        )
        self.slow_clients = Counter(
            "asp_gateway_slow_clients_closed",
            "Connections closed because the client did not read (send queue full)",
            registry=r,
        )
