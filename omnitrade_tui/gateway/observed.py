"""What the gateway adds to its run's metrics and readiness: attached sessions, serving.

``observe_gateway`` is the one call ``run_gateway`` makes once its server listens: the
``omnitrade_gateway_sessions{role}`` gauge (read from the server's terminals at scrape
time) and a ``gateway`` readiness check (the server has a URL, so it listens).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from omnitrade_tui.gateway.roles import Role
from omnitrade_tui.gateway.server import GatewayServer
from omnitrade_tui.metrics import MetricsExporter


class GatewaySessions(Collector):
    """Attached terminals per role, when scraped."""

    def __init__(self, server: GatewayServer) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        """``omnitrade_gateway_sessions{role}``, every role listed (0 when none)."""
        by_role = Counter(t.principal.role.value for t in self.server.terminals)
        family = GaugeMetricFamily(
            "omnitrade_gateway_sessions", "Terminals attached to the gateway", labels=["role"]
        )
        for role in Role:
            family.add_metric([role.value], by_role.get(role.value, 0))
        yield family


def observe_gateway(metrics: MetricsExporter, server: GatewayServer) -> None:
    """Export the gateway's sessions and make readiness need its server listening."""
    metrics.registry.register(GatewaySessions(server))

    def serving() -> tuple[bool, str]:
        if server.url:
            return True, f"serving at {server.url}, {len(server.terminals)} attached"
        return False, "not listening"

    metrics.health.add_check("gateway", serving)
