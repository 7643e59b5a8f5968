"""The trading journal, computed in the engine from the recorded fills.

The fills come from the store through the bus (``FillHistory``), so an attached terminal
gets the same journal as the trading box. Positions are rebuilt from the first recorded
fill with the portfolio's own ``apply_fill`` (one piece of accounting for the live
positions and the journal): what a fill realizes is the change it makes to its position's
realized PnL, attributed to the day it happened in the journal's time zone, and only the
range asked for is reported.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.domain.commands import FillHistory, JournalSummary
from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.journal import JournalDay, JournalRow, TradingJournal
from omnitrade_tui.domain.models import Fill
from omnitrade_tui.engine.portfolio import Position, apply_fill

ZERO = Decimal(0)
#: The most fills one journal reads (a long history is read whole: positions need it).
MAX_FILLS = 1_000_000


def _day(time_ms: int, utc_offset_s: int) -> str:
    moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC) + timedelta(seconds=utc_offset_s)
    return moment.strftime("%Y-%m-%d")


class _Tally:
    """Running figures of one row."""

    __slots__ = ("fees", "fills", "loss_total", "losses", "realized", "volume", "win_total", "wins")

    def __init__(self) -> None:
        self.realized = ZERO
        self.fees = ZERO
        self.volume = ZERO
        self.fills = 0
        self.wins = 0
        self.losses = 0
        self.win_total = ZERO
        self.loss_total = ZERO

    def add(self, realized: Decimal, fee: Decimal, volume: Decimal, closing: bool) -> None:
        self.realized += realized
        self.fees += fee
        self.volume += volume
        self.fills += 1
        if closing:
            result = realized - fee
            if result > 0:
                self.wins += 1
                self.win_total += result
            else:
                self.losses += 1
                self.loss_total += result

    def row(self, key: str, quote: str) -> JournalRow:
        return JournalRow(
            key=key,
            quote_asset=quote,
            realized=self.realized,
            fees=self.fees,
            volume=self.volume,
            fills=self.fills,
            wins=self.wins,
            losses=self.losses,
            win_total=self.win_total,
            loss_total=self.loss_total,
        )


def build_journal(
    fills: Iterable[Fill],
    assets: Mapping[str, tuple[str, str]],
    since_ms: int,
    until_ms: int,
    quote_asset: str = "USDT",
    utc_offset_s: int = 0,
    venue: str = "binance",
) -> TradingJournal:
    """The journal of ``since_ms``..``until_ms`` from every fill up to ``until_ms``."""
    positions: dict[str, Position] = {}
    seen: set[tuple[str, int]] = set()
    total = _Tally()
    by_symbol: dict[str, _Tally] = defaultdict(_Tally)
    by_venue: dict[str, _Tally] = defaultdict(_Tally)
    by_day: dict[str, _Tally] = defaultdict(_Tally)
    other_fees: dict[str, Decimal] = defaultdict(Decimal)
    for fill in sorted(fills, key=lambda f: (f.time_ms, f.symbol, f.trade_id)):
        key = (fill.symbol, fill.trade_id)
        if key in seen or fill.time_ms > until_ms:
            continue
        seen.add(key)
        base, quote = assets.get(fill.symbol, (fill.symbol, ""))
        before = positions.get(fill.symbol) or Position(
            symbol=fill.symbol, base_asset=base, quote_asset=quote
        )
        after = apply_fill(before, fill)
        positions[fill.symbol] = after
        if fill.time_ms < since_ms:
            continue
        realized = after.realized_pnl - before.realized_pnl
        fee = after.fees_quote - before.fees_quote
        signed = fill.qty if fill.side is Side.BUY else -fill.qty
        closing = before.qty != 0 and (before.qty > 0) != (signed > 0)
        volume = fill.price * fill.qty
        by_symbol[fill.symbol].add(realized, fee, volume, closing)
        for asset, amount in after.fees_other.items():
            extra = amount - before.fees_other.get(asset, ZERO)
            if extra:
                other_fees[asset] += extra
        if quote != quote_asset:
            continue  # its money is in another asset: its own row only
        total.add(realized, fee, volume, closing)
        by_venue[venue].add(realized, fee, volume, closing)
        by_day[_day(fill.time_ms, utc_offset_s)].add(realized, fee, volume, closing)
    days = []
    running = ZERO
    for day in sorted(by_day):
        t = by_day[day]
        running += t.realized - t.fees
        days.append(
            JournalDay(
                day=day,
                realized=t.realized,
                fees=t.fees,
                volume=t.volume,
                fills=t.fills,
                cumulative_net=running,
            )
        )
    return TradingJournal(
        since_ms=since_ms,
        until_ms=until_ms,
        quote_asset=quote_asset,
        utc_offset_s=utc_offset_s,
        total=total.row("total", quote_asset),
        days=days,
        symbols=[by_symbol[s].row(s, assets.get(s, (s, ""))[1]) for s in sorted(by_symbol)],
        venues=[by_venue[v].row(v, quote_asset) for v in sorted(by_venue)],
        other_fees=dict(other_fees),
    )


class JournalService:
    """Answers ``JournalSummary`` from the fills the store keeps."""

    def __init__(self, bus: Bus, assets: Mapping[str, tuple[str, str]], venue: str) -> None:
        self.bus = bus
        self.assets = dict(assets)
        self.venue = venue

    def register(self) -> None:
        """Handle ``JournalSummary``."""
        self.bus.handle(JournalSummary, self.summary)

    def unregister(self) -> None:
        """Stop handling it."""
        self.bus.unhandle(JournalSummary)

    async def summary(self, command: JournalSummary) -> TradingJournal:
        """The journal of the command's range."""
        until = command.until_ms if command.until_ms is not None else int(time.time() * 1000)
        fills = await self.bus.request(FillHistory(limit=MAX_FILLS), timeout=30.0)
        return build_journal(
            fills,
            self.assets,
            command.since_ms,
            until,
            command.quote_asset,
            command.utc_offset_s,
            self.venue,
        )
