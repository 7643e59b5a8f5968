"""The consolidated view of one pair (``V`` on the main screen): each venue's best bid and
ask, the best across venues, and one ladder of every venue's levels marked with its venue.

It reads what the main screen reads: ``TerminalState`` keeps the newest ``BookTop`` of every
instrument id of the watchlist (``state.symbols``), whatever symbol is active. A timer at
the app's frame rate hands the ``ConsolidatedLadder`` the pair's books when one of them
changed (a book is a new object on every update, so comparing identities is the test), so
a burst of updates costs one merge a frame, as the ladder's does.

Esc (or ``V``, ``q``) closes it; the kill switch and unlock are the app's priority keys and
work here as on every screen.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen

from omnitrade_tui.domain.consolidated import VenueBook
from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.domain.venue import symbol_of, venue_of
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.widgets.consolidated_ladder import ConsolidatedLadder

#: How the profile's first venue is named when the run does not say (its ids carry none).
FIRST_VENUE = "first"


def pair_venues(watchlist: tuple[str, ...] | list[str], pair: str) -> list[str]:
    """The instrument ids of ``pair`` in the watchlist: the profile's first venue first,
    then the others in the watchlist's order."""
    ids = [i for i in watchlist if symbol_of(i) == pair]
    return sorted(ids, key=lambda i: venue_of(i) != "")  # a stable sort keeps the order


class ConsolidatedScreen(ModalScreen[None]):
    """One pair across every venue of the watchlist that lists it."""

    DEFAULT_CSS = """
    ConsolidatedScreen { background: $surface; }
    ConsolidatedScreen > ConsolidatedLadder { width: 100%; height: 1fr; }
    """

    BINDINGS = [Binding("escape,V,q", "dismiss", "Close")]

    def __init__(
        self, state: TerminalState, instrument_id: str, first_venue: str = "", frame_rate: int = 30
    ) -> None:
        super().__init__()
        self.state = state
        self.pair = symbol_of(instrument_id)
        self.ids = pair_venues(state.watchlist, self.pair) or [instrument_id]
        self.labels = {i: venue_of(i) or first_venue or FIRST_VENUE for i in self.ids}
        self.frame_rate = frame_rate
        self._shown: list[tuple[BookTop | None, BookState]] = []
        self._ladder: ConsolidatedLadder | None = None

    def compose(self) -> ComposeResult:
        """The one widget: quotes, best, crosses and the merged ladder."""
        yield ConsolidatedLadder(id="consolidated")

    def on_mount(self) -> None:
        """Draw the books there are now, then follow them at the app's frame rate."""
        ladder = self._ladder = self.query_one(ConsolidatedLadder)
        ladder.configure(self.pair, self.labels, self.state.numbers)
        ladder.focus()
        self._frame()
        self.set_interval(1 / self.frame_rate, self._frame)

    def _frame(self) -> None:
        """Hand the widget the pair's books when one of them changed since the last frame."""
        if self._ladder is None:
            return
        views = [self.state.symbols.get(i) for i in self.ids]
        now = [(v.top, v.book_state) if v is not None else (None, BookState.SYNCING) for v in views]
        if len(now) == len(self._shown) and all(
            a[0] is b[0] and a[1] is b[1] for a, b in zip(now, self._shown, strict=True)
        ):
            return
        self._shown = now
        books = [
            VenueBook(i, top.bids if top else [], top.asks if top else [], book_state)
            for i, (top, book_state) in zip(self.ids, now, strict=True)
        ]
        self._ladder.show_books(books)
