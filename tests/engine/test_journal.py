"""The trading journal: a history of fills made through the simulated venue, and every figure
of ``JournalSummary`` checked against a recomputation straight from the ``fills`` table
(plain SQL rows and a few lines of average-cost arithmetic written here, apart from the
engine's)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypedDict

import pytest

from omnitrade_tui.config import Overrides, load_settings
from omnitrade_tui.domain.commands import JournalSummary, PlaceOrder
from omnitrade_tui.domain.enums import OrderType, Side
from omnitrade_tui.domain.journal import TradingJournal
from omnitrade_tui.domain.models import Fill, OrderRequest
from omnitrade_tui.engine.journal import build_journal
from omnitrade_tui.runtime import Runtime

ZERO = Decimal(0)


class Figures(TypedDict):
    """What ``recompute`` finds: the journal's totals, and per day (realized, fees, volume,
    fills)."""

    realized: Decimal
    fees: Decimal
    volume: Decimal
    fills: int
    wins: int
    losses: int
    days: dict[str, tuple[Decimal, ...]]


def recompute(db: Path, quote: str, offset_s: int) -> Figures:
    """The journal's figures from the fills table alone."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT symbol, side, price, qty, commission, commission_asset, time_ms "
            "FROM fills ORDER BY time_ms, symbol, trade_id"
        ).fetchall()
    qty: dict[str, Decimal] = defaultdict(Decimal)
    avg: dict[str, Decimal] = defaultdict(Decimal)
    days: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO])
    realized_total = fees_total = volume_total = ZERO
    wins = losses = 0
    for symbol, side, price_s, qty_s, fee_s, fee_asset, time_ms in rows:
        assert symbol.endswith(quote)
        base = symbol.removesuffix(quote)
        price, size, fee = Decimal(price_s), Decimal(qty_s), Decimal(fee_s)
        signed = size if side == "BUY" else -size
        realized = ZERO
        held = qty[symbol]
        if held == 0 or (held > 0) == (signed > 0):
            avg[symbol] = (avg[symbol] * abs(held) + price * size) / abs(held + signed)
            closing = False
        else:
            closed = min(size, abs(held))
            realized = (price - avg[symbol]) * closed * (1 if held > 0 else -1)
            closing = True
            if abs(signed) > abs(held):
                avg[symbol] = price
        qty[symbol] = held + signed
        if fee_asset == base:
            qty[symbol] -= fee  # the wallet got that much less: so does the position
            if qty[symbol] == 0:
                avg[symbol] = ZERO
        fee_quote = fee if fee_asset == quote else fee * price if fee_asset == base else ZERO
        day = (datetime.fromtimestamp(time_ms / 1000, UTC) + timedelta(seconds=offset_s)).date()
        figures = days[day.isoformat()]
        figures[0] += realized
        figures[1] += fee_quote
        figures[2] += price * size
        figures[3] += 1
        realized_total += realized
        fees_total += fee_quote
        volume_total += price * size
        if closing:
            if realized - fee_quote > 0:
                wins += 1
            else:
                losses += 1
    return {
        "realized": realized_total,
        "fees": fees_total,
        "volume": volume_total,
        "fills": len(rows),
        "wins": wins,
        "losses": losses,
        "days": {d: tuple(v) for d, v in days.items()},
    }


async def _trade(tmp_path: Path) -> tuple[TradingJournal, Path]:
    env = {
        "OMNITRADE_CONFIG_DIR": str(tmp_path / "config"),
        "OMNITRADE_STATE_DIR": str(tmp_path / "state"),
        "OMNITRADE_DATA_DIR": str(tmp_path / "data"),
        "OMNITRADE_DB_URL": f"sqlite:///{tmp_path / 'h.db'}",
    }
    settings = load_settings(Overrides(), env=env)
    async with Runtime.start(settings, seed=9) as runtime:
        steps = [
            ("BTCUSDT", Side.BUY, "0.03"),
            ("ETHUSDT", Side.BUY, "0.5"),
            ("BTCUSDT", Side.SELL, "0.01"),
            ("BTCUSDT", Side.SELL, "0.01"),
            ("ETHUSDT", Side.SELL, "0.7"),  # through zero: short 0.2
            ("BTCUSDT", Side.BUY, "0.02"),
            ("ETHUSDT", Side.BUY, "0.2"),
        ]
        for symbol, side, qty in steps:
            request = OrderRequest(
                symbol=symbol, side=side, type=OrderType.MARKET, quantity=Decimal(qty)
            )
            await runtime.bus.request(PlaceOrder(request=request), timeout=10)
            await asyncio.sleep(0.6)  # the market moves between the trader's orders
        await asyncio.sleep(0.6)  # the recorder's batch
        journal: TradingJournal = await runtime.bus.request(
            JournalSummary(since_ms=0, utc_offset_s=-5 * 3600), timeout=10
        )
    return journal, tmp_path / "h.db"


@pytest.mark.slow
async def test_every_figure_equals_a_recomputation_from_the_fills_table(tmp_path: Path) -> None:
    journal, db = await _trade(tmp_path)
    expected = recompute(db, "USDT", -5 * 3600)
    total = journal.total
    assert total.fills == expected["fills"] >= 7
    assert total.realized == expected["realized"]
    assert total.fees == expected["fees"]
    assert total.volume == expected["volume"]
    assert (total.wins, total.losses) == (expected["wins"], expected["losses"])
    assert total.wins + total.losses >= 4  # the sells and the buy-backs closed something
    days = {d.day: (d.realized, d.fees, d.volume, Decimal(d.fills)) for d in journal.days}
    assert days == expected["days"]
    assert journal.days[-1].cumulative_net == total.realized - total.fees
    assert {row.key for row in journal.symbols} == {"BTCUSDT", "ETHUSDT"}
    assert sum((row.realized for row in journal.symbols), ZERO) == total.realized
    assert [v.key for v in journal.venues] == ["sim"]


def _fill(trade_id: int, side: Side, price: str, qty: str, time_ms: int) -> Fill:
    return Fill(
        symbol="BTCUSDT",
        trade_id=trade_id,
        order_id=trade_id,
        client_order_id=f"c{trade_id}",
        side=side,
        price=Decimal(price),
        qty=Decimal(qty),
        commission=Decimal("0.1"),
        commission_asset="USDT",
        is_maker=False,
        time_ms=time_ms,
    )


def test_a_range_reports_only_its_days_but_positions_come_from_all_history() -> None:
    day = 86_400_000
    fills = [
        _fill(1, Side.BUY, "100", "1", 0),  # before the range: opens the position
        _fill(2, Side.SELL, "110", "0.5", 2 * day),  # in range: realizes +5
        _fill(3, Side.SELL, "90", "0.5", 3 * day),  # in range: realizes -5
        _fill(3, Side.SELL, "90", "0.5", 3 * day),  # the same fill told twice
        _fill(4, Side.BUY, "95", "1", 9 * day),  # after the range
    ]
    journal = build_journal(fills, {"BTCUSDT": ("BTC", "USDT")}, day, 5 * day)
    assert [d.day for d in journal.days] == ["1970-01-03", "1970-01-04"]
    assert journal.total.realized == 0
    assert journal.total.fees == Decimal("0.2")
    assert (journal.total.wins, journal.total.losses) == (1, 1)
    assert journal.total.win_rate == Decimal("0.5")
    assert journal.total.avg_win == Decimal("4.9")
    assert journal.total.avg_loss == Decimal("-5.1")
