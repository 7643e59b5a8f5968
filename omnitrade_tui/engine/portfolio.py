"""Positions and PnL from fills: average-cost accounting, exact.

A spot "position" here is the net base quantity this client's fills moved into the
wallet: bought minus sold, less the fees paid in the base asset (a BUY of 0.52 BTC paying
0.00052 BTC commission holds 0.51948, as the wallet does), with its average cost (the
fill prices; the base fee's value is in the fees). Selling realizes ``(price - avg) *
qty``; buying past a short (selling more than was bought) flips the position at the fill
price. Fees are counted in the quote asset when paid in the base or quote asset; fees in a
third asset (BNB) are kept apart per asset, since converting them needs a price we may not
have.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.models import Fill
from omnitrade_tui.domain.recent import RecentKeys

#: Fills remembered by (symbol, trade id) so a repeat counts once: a repeat comes within
#: seconds (the stream and a REST answer, a reconnect's replay), never this many fills later.
KEEP_SEEN_FILLS = 10_000


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """The net position in one symbol and what it has earned so far."""

    symbol: str
    base_asset: str
    quote_asset: str
    qty: Decimal = ZERO  # > 0 long, < 0 short (sold more than bought)
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO  # in the quote asset, before fees
    fees_quote: Decimal = ZERO  # fees paid in base or quote, valued in quote
    fees_other: dict[str, Decimal] = msgspec.field(default_factory=dict)
    bought: Decimal = ZERO
    sold: Decimal = ZERO

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """PnL of the open quantity at ``mark`` (a mid or last price)."""
        return (mark - self.avg_price) * self.qty

    def net_pnl(self, mark: Decimal) -> Decimal:
        """Realized plus unrealized, less fees valued in the quote asset."""
        return self.realized_pnl + self.unrealized_pnl(mark) - self.fees_quote


def apply_fill(position: Position, fill: Fill) -> Position:
    """The position after one fill (pure: returns a new value)."""
    signed = fill.qty if fill.side is Side.BUY else -fill.qty
    qty, avg, realized = position.qty, position.avg_price, position.realized_pnl
    if qty == 0 or (qty > 0) == (signed > 0):
        new_qty = qty + signed
        avg = (avg * abs(qty) + fill.price * fill.qty) / abs(new_qty)
        qty = new_qty
    else:
        closing = min(abs(signed), abs(qty))
        direction = Decimal(1) if qty > 0 else Decimal(-1)
        realized += (fill.price - avg) * closing * direction
        qty += signed
        if qty == 0:
            avg = ZERO
        elif (qty > 0) != (direction > 0):
            avg = fill.price  # flipped through zero: the rest opens at this price
    if fill.commission and fill.commission_asset == position.base_asset:
        # The fee was taken from the base asset: the wallet holds that much less.
        qty -= fill.commission
        if qty == 0:
            avg = ZERO
    fees_quote = position.fees_quote
    fees_other = position.fees_other
    if fill.commission:
        if fill.commission_asset == position.quote_asset:
            fees_quote += fill.commission
        elif fill.commission_asset == position.base_asset:
            fees_quote += fill.commission * fill.price
        else:
            fees_other = dict(fees_other)
            fees_other[fill.commission_asset] = (
                fees_other.get(fill.commission_asset, ZERO) + fill.commission
            )
    return msgspec.structs.replace(
        position,
        qty=qty,
        avg_price=avg,
        realized_pnl=realized,
        fees_quote=fees_quote,
        fees_other=fees_other,
        bought=position.bought + (fill.qty if fill.side is Side.BUY else ZERO),
        sold=position.sold + (fill.qty if fill.side is Side.SELL else ZERO),
    )


class Portfolio:
    """Positions of every symbol, fed fill by fill; a fill seen twice counts once."""

    def __init__(self, assets: dict[str, tuple[str, str]]) -> None:
        """``assets`` maps a symbol to its (base, quote) assets."""
        self._assets = dict(assets)
        self._positions: dict[str, Position] = {}
        self._seen: RecentKeys[tuple[str, int]] = RecentKeys(KEEP_SEEN_FILLS)

    def add_symbol(self, symbol: str, base: str, quote: str) -> None:
        """Make a symbol's assets known."""
        self._assets[symbol] = (base, quote)

    def apply(self, fill: Fill) -> Position | None:
        """Fold a fill in; ``None`` when it was already counted (same symbol and trade id)."""
        key = (fill.symbol, fill.trade_id)
        if key in self._seen:
            return None
        self._seen.add(key)
        position = self._positions.get(fill.symbol)
        if position is None:
            base, quote = self._assets.get(fill.symbol, (fill.symbol, ""))
            position = Position(symbol=fill.symbol, base_asset=base, quote_asset=quote)
        position = apply_fill(position, fill)
        self._positions[fill.symbol] = position
        return position

    def position(self, symbol: str) -> Position | None:
        """The position in ``symbol``, if any fill was seen."""
        return self._positions.get(symbol)

    @property
    def positions(self) -> list[Position]:
        """Every position, by symbol."""
        return [self._positions[s] for s in sorted(self._positions)]
