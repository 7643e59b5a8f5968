"""The trading journal's figures: what a stretch of trading earned, cost and risked, as the
History screen shows them. Plain values (exact ``Decimal`` money in the quote asset); the
engine computes them from the recorded fills (``engine/journal.py``)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

ZERO = Decimal(0)


class JournalDay(msgspec.Struct, frozen=True, kw_only=True):
    """One calendar day (in the journal's time zone): realized PnL before fees, fees paid,
    volume traded (quote notional) and fills, and the cumulative net PnL at its end."""

    day: str  # YYYY-MM-DD
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    volume: Decimal = ZERO
    fills: int = 0
    cumulative_net: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        """Realized PnL less fees."""
        return self.realized - self.fees


class JournalRow(msgspec.Struct, frozen=True, kw_only=True):
    """The figures of one symbol (or one venue) over the range. A *round trip* is a fill that
    reduced a position: a win when what it realized beat its fee."""

    key: str
    quote_asset: str
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    volume: Decimal = ZERO
    fills: int = 0
    wins: int = 0
    losses: int = 0
    win_total: Decimal = ZERO
    loss_total: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        """Realized PnL less fees."""
        return self.realized - self.fees

    @property
    def win_rate(self) -> Decimal | None:
        """Wins over closing fills, or None when nothing was closed."""
        closed = self.wins + self.losses
        return Decimal(self.wins) / closed if closed else None

    @property
    def avg_win(self) -> Decimal | None:
        """Mean net result of the winning closing fills."""
        return self.win_total / self.wins if self.wins else None

    @property
    def avg_loss(self) -> Decimal | None:
        """Mean net result of the losing closing fills (negative or zero)."""
        return self.loss_total / self.losses if self.losses else None


class TradingJournal(msgspec.Struct, frozen=True, kw_only=True):
    """The journal of ``since_ms``..``until_ms``: totals in ``quote_asset`` (symbols quoted
    in another asset appear in ``symbols`` only, under their own quote), by day, by symbol
    and by venue. ``other_fees`` are fees paid in a third asset (BNB), not valued."""

    since_ms: int
    until_ms: int
    quote_asset: str
    utc_offset_s: int
    total: JournalRow
    days: list[JournalDay]
    symbols: list[JournalRow]
    venues: list[JournalRow]
    other_fees: dict[str, Decimal] = msgspec.field(default_factory=dict)
