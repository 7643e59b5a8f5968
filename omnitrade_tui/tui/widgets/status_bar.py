"""The status bar: profile, links, latency, book health, rate-limit use, recorder, kill switch.

One line, redrawn only when one of its inputs changed (a few times a second at most), so a
plain ``render()`` of a Rich ``Text`` is cheap enough here.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from omnitrade_tui.domain.events import BookState, LinkState
from omnitrade_tui.tui.state import TerminalState

_LINK_MARK = {
    LinkState.CONNECTED: ("●", "status-bar--ok"),
    LinkState.CONNECTING: ("◌", "status-bar--warn"),
    LinkState.RECONNECTING: ("◌", "status-bar--warn"),
    LinkState.DISCONNECTED: ("○", "status-bar--bad"),
    LinkState.FAILED: ("✕", "status-bar--bad"),
}


class StatusBar(Widget):
    """What state the connection, the book and the account plumbing are in."""

    COMPONENT_CLASSES = {
        "status-bar--live",
        "status-bar--profile",
        "status-bar--ok",
        "status-bar--warn",
        "status-bar--bad",
        "status-bar--muted",
        "status-bar--locked",
    }

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        & > .status-bar--live { background: $live-badge; color: white; text-style: bold; }
        & > .status-bar--profile { background: $primary; color: $text; text-style: bold; }
        & > .status-bar--ok { color: $success; }
        & > .status-bar--warn { color: $warning; text-style: bold; }
        & > .status-bar--bad { color: $error; text-style: bold; }
        & > .status-bar--muted { color: $text-muted; }
        & > .status-bar--locked { background: $error; color: white; text-style: bold; }
    }
    """

    def __init__(
        self, state: TerminalState, label: str, live: bool, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.state = state
        self.label = label
        self.live = live

    def render(self) -> Text:
        """The bar as one line of styled text."""
        s = self.state
        style = self.get_component_rich_style
        text = Text(no_wrap=True, overflow="ellipsis")
        badge = f" {'LIVE - REAL MONEY' if self.live else self.label} "
        text.append(badge, style("status-bar--live" if self.live else "status-bar--profile"))
        if s.locked:
            text.append(
                " KILL SWITCH: TRADING LOCKED (ctrl+u unlocks) ", style("status-bar--locked")
            )
        for link in ("market", "user"):
            event = s.links.get(link)
            mark, cls = (
                _LINK_MARK.get(event.state, ("?", "status-bar--muted"))
                if event
                else (
                    "◌",
                    "status-bar--muted",
                )
            )
            word = event.state if event else "starting"
            text.append(f"  {link} ", style("status-bar--muted"))
            text.append(f"{mark} {word}", style(cls))
        if s.latency_ms is not None:
            cls = "status-bar--ok" if s.latency_ms < 250 else "status-bar--warn"
            text.append("  lat ", style("status-bar--muted"))
            text.append(f"{s.latency_ms:.0f}ms", style(cls))
        view = s.symbols.get(s.active)
        if view is not None:
            state = view.book_state
            cls = "status-bar--ok" if state is BookState.LIVE else "status-bar--warn"
            text.append("  book ", style("status-bar--muted"))
            health = view.health
            extra = (
                f" gaps {health.gaps} resyncs {health.resyncs}" if health and health.gaps else ""
            )
            text.append(f"{state}{extra}", style(cls))
        if s.rate_limit is not None and s.rate_limit.limit:
            share = s.rate_limit.used / s.rate_limit.limit
            cls = (
                "status-bar--ok"
                if share < 0.5
                else "status-bar--warn"
                if share < 0.8
                else "status-bar--bad"
            )
            text.append("  weight ", style("status-bar--muted"))
            text.append(f"{share:.0%}", style(cls))
        if s.circuit is not None and s.circuit.state != "closed":
            text.append(f"  REST {s.circuit.state}", style("status-bar--bad"))
        rec = s.recorder
        text.append("  rec ", style("status-bar--muted"))
        if rec is None:
            text.append("off", style("status-bar--muted"))
        else:
            cls = "status-bar--ok" if rec.state == "ok" else "status-bar--bad"
            # A batch in flight is normal; a backlog past a few batches means the DB lags.
            backlog = f" backlog {rec.backlog_rows}" if rec.backlog_rows > 2_000 else ""
            if rec.spilled_rows:
                backlog += f" spilled {rec.spilled_rows}"
            text.append(f"{rec.state}{backlog}", style(cls))
        return text
