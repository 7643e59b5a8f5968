"""Average-cost positions and PnL from fills, exactly."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from omnitrade_tui.domain import Fill, Side
from omnitrade_tui.engine.portfolio import Portfolio

_ids = iter(range(1, 1_000_000))


def fill(side: Side, qty: str, price: str, fee: str = "0", asset: str = "USDT") -> Fill:
    return Fill(
        symbol="BTCUSDT",
        trade_id=next(_ids),
        order_id=1,
        client_order_id="c",
        side=side,
        price=D(price),
        qty=D(qty),
        commission=D(fee),
        commission_asset=asset,
        is_maker=False,
        time_ms=0,
    )


def book() -> Portfolio:
    return Portfolio({"BTCUSDT": ("BTC", "USDT")})


def test_average_cost_and_realized_pnl() -> None:
    p = book()
    p.apply(fill(Side.BUY, "1", "100"))
    pos = p.apply(fill(Side.BUY, "1", "110"))
    assert pos is not None and pos.qty == D(2) and pos.avg_price == D(105)
    pos = p.apply(fill(Side.SELL, "0.5", "120"))
    assert pos is not None
    assert pos.realized_pnl == D("7.5")  # (120 - 105) * 0.5
    assert pos.qty == D("1.5") and pos.avg_price == D(105)
    assert pos.unrealized_pnl(D(100)) == D("-7.5")


def test_flip_through_zero_opens_at_the_fill_price() -> None:
    p = book()
    p.apply(fill(Side.BUY, "1", "100"))
    pos = p.apply(fill(Side.SELL, "3", "90"))
    assert pos is not None
    assert pos.realized_pnl == D(-10) and pos.qty == D(-2) and pos.avg_price == D(90)
    pos = p.apply(fill(Side.BUY, "2", "80"))
    assert pos is not None and pos.qty == 0 and pos.realized_pnl == D(10)


def test_fees_in_quote_base_and_third_assets() -> None:
    p = book()
    p.apply(fill(Side.BUY, "1", "100", fee="0.001", asset="BTC"))  # 0.1 USDT
    p.apply(fill(Side.SELL, "1", "100", fee="0.1", asset="USDT"))
    pos = p.apply(fill(Side.BUY, "1", "100", fee="0.0002", asset="BNB"))
    assert pos is not None
    assert pos.fees_quote == D("0.2") and pos.fees_other == {"BNB": D("0.0002")}
    assert pos.net_pnl(D(100)) == D("-0.2")


def test_a_fill_seen_twice_counts_once() -> None:
    p = book()
    f = fill(Side.BUY, "1", "100")
    assert p.apply(f) is not None
    assert p.apply(f) is None
    pos = p.position("BTCUSDT")
    assert pos is not None and pos.qty == D(1) and pos.bought == D(1)


def test_a_fee_paid_in_the_base_asset_is_not_in_the_position() -> None:
    p = book()
    pos = p.apply(fill(Side.BUY, "0.52", "60000", fee="0.00052", asset="BTC"))
    assert pos is not None and pos.qty == D("0.51948")  # what the wallet received
    assert pos.avg_price == D(60000) and pos.fees_quote == D("31.2")
    # Net PnL is the wallet's: 0.51948 BTC worth 61000 against the 31200 USDT paid.
    assert pos.net_pnl(D(61000)) == D("0.51948") * 61000 - D(31200)
    pos = p.apply(fill(Side.SELL, "0.51948", "61000"))
    assert pos is not None and pos.qty == 0 and pos.avg_price == 0


def test_seen_fills_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from omnitrade_tui.engine import portfolio

    monkeypatch.setattr(portfolio, "KEEP_SEEN_FILLS", 3)
    p = book()
    fills = [fill(Side.BUY, "1", "100") for _ in range(5)]
    for f in fills:
        p.apply(f)
    assert len(p._seen) == 3
    assert p.apply(fills[-1]) is None  # a recent repeat still counts once
