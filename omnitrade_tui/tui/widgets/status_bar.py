"""The status bar: profile, links, latency, book health, rate-limit use, recorder, kill switch.

One line, redrawn only when one of its inputs changed (a few times a second at most). It is
drawn with the Line API like the other panels: the segments' spacing stays exactly as
built, and a narrow terminal gets short labels instead of a cut-off line.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from omnitrade_tui.domain.events import BookState, ConnectionChanged, LinkState
from omnitrade_tui.domain.venue import venue_of
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.widgets.styles import StyleCache

#: Link states from best to worst: a venue shows its worst link's.
_LINK_ORDER = (
    LinkState.CONNECTED,
    LinkState.CONNECTING,
    LinkState.RECONNECTING,
    LinkState.DISCONNECTED,
    LinkState.FAILED,
)


def _other_venues(links: Mapping[str, ConnectionChanged]) -> list[tuple[str, LinkState]]:
    """Each venue beside the first with the worst state of its links, by name."""
    worst: dict[str, LinkState] = {}
    for name, event in links.items():
        venue = venue_of(name)
        if not venue:
            continue
        known = worst.get(venue)
        if known is None or _LINK_ORDER.index(event.state) > _LINK_ORDER.index(known):
            worst[venue] = event.state
    return sorted(worst.items())


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
        self,
        state: TerminalState,
        label: str,
        live: bool,
        *,
        gateway: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.state = state
        self.label = label
        self.live = live
        #: Attached to a gateway: who is logged in where, and its certificate fingerprint.
        self.gateway = gateway
        self._styles = StyleCache(self)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def render_line(self, y: int) -> Strip:
        """The bar (line 0)."""
        width = self.size.width
        if y != 0:
            return Strip.blank(width, self._styles.base)
        segments = self.segments(compact=width < 110)
        return Strip(segments).adjust_cell_length(width, self._styles.base).crop(0, width)

    def segments(self, compact: bool = False) -> list[Segment]:
        """The bar's pieces, each styled from a component class."""
        s = self.state
        out: list[Segment] = []
        muted = self._styles("status-bar--muted")

        def add(text: str, cls: str) -> None:
            out.append(Segment(text, self._styles(cls)))

        def label(text: str, short: str) -> None:
            out.append(Segment(f"  {short if compact else text} ", muted))

        badge = "LIVE - REAL MONEY" if self.live else self.label
        add(f" {badge} ", "status-bar--live" if self.live else "status-bar--profile")
        if s.locked:
            text = " LOCKED ^u " if compact else " KILL SWITCH: TRADING LOCKED (ctrl+u unlocks) "
            add(text, "status-bar--locked")
        links: tuple[tuple[str, str], ...] = (("market", "mkt"), ("user", "usr"))
        if self.gateway is not None:
            links = (("gateway", "gw"), *links)
        for link, short in links:
            event = s.links.get(link)
            if event is None:
                mark, cls, word = "◌", "status-bar--muted", "starting"
            else:
                mark, cls = _LINK_MARK.get(event.state, ("?", "status-bar--muted"))
                word = event.state.value
            label(link, short)
            add(
                mark
                if compact and event is not None and event.state is LinkState.CONNECTED
                else f"{mark} {word}",
                cls,
            )
        # A venue beside the first: one mark for its links (market@NAME, user@NAME), the
        # worst of them, and its word when not connected.
        for venue, worst in _other_venues(s.links):
            mark, cls = _LINK_MARK.get(worst, ("?", "status-bar--muted"))
            label(f"@{venue}", f"@{venue}")
            add(mark if worst is LinkState.CONNECTED else f"{mark} {worst.value}", cls)
            usage = s.rate_limits.get(venue)
            if usage is not None and usage.used:
                # ccxt's own throttle: requests waiting in its queue (not the venue's count).
                add(f" q{usage.used}", "status-bar--warn")
        if s.latency_ms is not None:
            label("lat", "")
            add(
                f"{s.latency_ms:.0f}ms",
                "status-bar--ok" if s.latency_ms < 250 else "status-bar--warn",
            )
        view = s.symbols.get(s.active)
        if view is not None:
            state = view.book_state
            health = view.health
            extra = (
                f" gaps {health.gaps} resyncs {health.resyncs}" if health and health.gaps else ""
            )
            label("book", "book")
            add(
                f"{state.value}{extra}",
                "status-bar--ok" if state is BookState.LIVE else "status-bar--warn",
            )
        stale = [
            (symbol, sorted(view.stale.values(), key=lambda e: e.stream))
            for symbol, view in s.symbols.items()
            if view.stale
        ]
        if stale:
            # Every silent stream by name, the active symbol's first: a silent feed must
            # never pass for a quiet market.
            stale.sort(key=lambda item: item[0] != s.active)
            text = "; ".join(
                f"{symbol} " + ", ".join(f"{e.stream} {e.age_ms / 1000:.0f}s" for e in events)
                for symbol, events in stale
            )
            label("STALE", "STALE")
            add(text, "status-bar--bad")
        if s.rate_limit is not None and s.rate_limit.limit:
            share = s.rate_limit.used / s.rate_limit.limit
            cls = (
                "status-bar--ok"
                if share < 0.5
                else "status-bar--warn"
                if share < 0.8
                else "status-bar--bad"
            )
            # A first venue reached through ccxt has ccxt's request queue, not a weight.
            queue = s.rate_limit.kind == "CCXT_QUEUE"
            label("queue" if queue else "weight", "q" if queue else "w")
            add(f"{share:.0%}", cls)
        if s.circuit is not None and s.circuit.state != "closed":
            add(f"  REST {s.circuit.state}", "status-bar--bad")
        rec = s.recorder
        label("rec", "rec")
        if rec is None:
            add("off", "status-bar--muted")
        else:
            # A batch in flight is normal; a backlog past a few batches means the DB lags.
            backlog = f" backlog {rec.backlog_rows}" if rec.backlog_rows > 2_000 else ""
            if rec.spilled_rows:
                backlog += f" spilled {rec.spilled_rows}"
            add(
                f"{rec.state}{backlog}",
                "status-bar--ok" if rec.state == "ok" else "status-bar--bad",
            )
            if rec.trade_gaps:
                # Trades the venue could not give back: the history is not whole there.
                add(f" gaps {rec.trade_gaps} ({rec.missing_trades} trades)", "status-bar--warn")
        # Said once here: every time of day on the screen is in this zone.
        label("times", "")
        add(s.numbers.zone(), "status-bar--muted")
        if self.gateway is not None and not compact:
            label("via", "")
            add(self.gateway, "status-bar--muted")
        return out
