"""Diagnostics: messages per second per stream, bus queues and drops, latencies, rate
limits, reconnects and resyncs, recorder lag: what the Prometheus endpoint serves, from the
``sys.diagnostics`` event the runtime publishes once a second.
"""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from omnitrade_tui.tui.state import TerminalState


class DiagnosticsScreen(ModalScreen[None]):
    """The engine's health, refreshed every second."""

    DEFAULT_CSS = """
    DiagnosticsScreen { align: center middle; }
    DiagnosticsScreen > VerticalScroll {
        width: 100; max-width: 100%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    DiagnosticsScreen #keys { color: $text-muted; }
    """

    BINDINGS = [Binding("escape,d,q", "dismiss", "Close")]

    def __init__(self, state: TerminalState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        """One body, rebuilt every second."""
        with VerticalScroll():
            yield Static("Esc close · refreshed every second", id="keys")
            yield Static(id="diagnostics")

    def on_mount(self) -> None:
        """Draw now and every second."""
        self._draw()
        self.set_interval(1.0, self._draw)

    def _draw(self) -> None:
        body = self.query_one("#diagnostics", Static)
        d = self.state.diagnostics
        if d is None:
            body.update("waiting for the first diagnostics event (published once a second)")
            return
        summary = Table.grid(padding=(0, 2))
        summary.add_row("reconnects", str(d.reconnects), "resyncs", str(d.resyncs))
        summary.add_row("gaps", str(d.gaps), "kill switch", "ENGAGED" if d.kill_switch else "off")
        lag = f"{d.recorder_lag_s * 1000:.0f} ms" if d.recorder_lag_s is not None else "-"
        summary.add_row("recorder lag", lag, "", "")
        streams = Table("stream", "msgs/s", "total", title="Streams", expand=True)
        for s in sorted(d.streams, key=lambda s: -s.per_second):
            streams.add_row(s.topic, f"{s.per_second:,.1f}", f"{s.total:,}")
        queues = Table("subscriber", "kind", "depth", "dropped", "errors", "worst lag", title="Bus")
        for q in d.queues:
            queues.add_row(
                q.subscriber,
                q.kind,
                str(q.depth),
                str(q.dropped),
                str(q.errors),
                f"{q.worst_lag_s * 1000:.1f} ms",
            )
        lat = Table("latency", "n", "p50", "p99", "max", title="Latencies")
        for x in d.latencies:
            lat.add_row(
                x.kind,
                str(x.count),
                f"{x.p50_s * 1000:.1f} ms",
                f"{x.p99_s * 1000:.1f} ms",
                f"{x.max_s * 1000:.1f} ms",
            )
        limits = Table("venue", "limit", "interval", "used", "of", title="Rate limits")
        for r in d.rate_limits:
            limits.add_row(r.venue, r.kind, r.interval, str(r.used), str(r.limit))
        grid = Table.grid()
        for part in (summary, streams, queues, lat, limits):
            grid.add_row(part)
        body.update(grid)
