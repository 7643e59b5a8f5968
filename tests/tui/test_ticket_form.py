"""The ticket's rules without a terminal: parsing, filters per field, nudges, sizing from the
balance, the market preview from the local book, LIMIT_MAKER crossing, and OCO legs."""

from __future__ import annotations

from decimal import Decimal as D

from omnitrade_tui.domain.enums import OrderType, Side
from omnitrade_tui.domain.events import BookTop
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.tui.ticket_form import TicketForm
from omnitrade_tui.venues.sim.symbols import default_instruments

BTC = next(i for i in default_instruments(["BTCUSDT"]) if i.symbol == "BTCUSDT")


def book(bid: float = 67000.0, ask: float = 67001.0) -> BookTop:
    return BookTop(
        symbol="BTCUSDT",
        update_id=1,
        bids=[BookLevel(bid - i, 0.5) for i in range(20)],
        asks=[BookLevel(ask + i, 0.5) for i in range(20)],
    )


def test_a_valid_limit_builds_the_request() -> None:
    form = TicketForm(BTC, side=Side.BUY, price="66990.00", quantity="0.01")
    check = form.check(book())
    assert check.errors == {}
    assert check.request is not None
    assert check.request.price == D("66990.00")
    assert check.request.quantity == D("0.01")
    assert check.request.type is OrderType.LIMIT
    assert check.preview.notional == D("669.9000")
    assert check.preview.fee == D("0.6699000")


def test_each_bad_field_gets_its_own_reason_and_no_request() -> None:
    form = TicketForm(BTC, price="100.123", quantity="0.000001")
    check = form.check(book())
    assert check.request is None
    assert "100.12 or 100.13" in check.errors["price"]
    assert check.errors["price"].startswith("PRICE_FILTER")
    assert "LOT_SIZE" in check.errors["quantity"]
    typo = TicketForm(BTC, price="67,000", quantity="0.01").check(book())
    assert "not a plain decimal number" in typo.errors["price"]


def test_nudges_move_by_tick_and_step_from_the_rounded_value() -> None:
    form = TicketForm(BTC, price="67000.005", quantity="0.01")
    form.nudge("price", 1)
    assert form.price == "67000.01"
    form.nudge("price", -3)
    assert form.price == "66999.98"
    form.nudge("quantity", 2)
    assert form.quantity == "0.01002"
    form.price = "oops"
    form.nudge("price", 1)
    assert form.price == "oops"  # nothing sensible to nudge: left for the trader to fix


def test_size_from_balance_buys_with_the_quote_and_sells_the_base() -> None:
    buy = TicketForm(BTC, side=Side.BUY, price="50000")
    assert buy.size_from_balance(D("0.5"), D("1"), D("10000"), None) is None
    assert buy.quantity == "0.10000"
    sell = TicketForm(BTC, side=Side.SELL)
    assert sell.size_from_balance(D("0.25"), D("0.3"), D("0"), None) is None
    assert sell.quantity == "0.07500"
    empty = TicketForm(BTC, side=Side.SELL)
    assert empty.size_from_balance(D("1"), D("0"), D("100"), None) == "no free BTC to size from"
    unpriced = TicketForm(BTC, side=Side.BUY)
    assert "enter a price first" in (unpriced.size_from_balance(D("1"), D(0), D(1), None) or "")


def test_market_preview_walks_the_book_for_price_and_slippage() -> None:
    form = TicketForm(BTC, side=Side.BUY, type=OrderType.MARKET, quantity="1.2")
    check = form.check(book())
    assert check.errors == {}
    # 0.5 at 67001, 0.5 at 67002, 0.2 at 67003.
    assert check.preview.avg_price is not None
    assert abs(check.preview.avg_price - (0.5 * 67001 + 0.5 * 67002 + 0.2 * 67003) / 1.2) < 1e-6
    assert check.preview.slippage_bps is not None and check.preview.slippage_bps > 0
    assert any("3 levels" in line for line in check.preview.lines)
    thin = TicketForm(BTC, side=Side.BUY, type=OrderType.MARKET, quantity="50").check(book())
    assert not thin.preview.fillable
    assert any("holds only" in line for line in thin.preview.lines)


def test_limit_maker_that_would_cross_is_refused_before_sending() -> None:
    form = TicketForm(
        BTC, side=Side.BUY, type=OrderType.LIMIT_MAKER, price="67001.00", quantity="0.01"
    )
    check = form.check(book())
    assert check.request is None
    assert "would take the ask" in check.errors["price"]


def test_sell_oco_builds_take_profit_above_and_stop_below() -> None:
    form = TicketForm(
        BTC,
        side=Side.SELL,
        oco=True,
        price="68000.00",
        stop_price="66000.00",
        stop_limit_price="65990.00",
        quantity="0.01",
    )
    check = form.check(book())
    assert check.errors == {}
    assert check.oco is not None
    above, below = check.oco
    assert (above.type, above.price) == (OrderType.LIMIT_MAKER, D("68000.00"))
    assert (below.type, below.stop_price, below.price) == (
        OrderType.STOP_LOSS_LIMIT,
        D("66000.00"),
        D("65990.00"),
    )
    assert above.quantity == below.quantity == D("0.01")
    assert above.client_order_id != below.client_order_id


def test_oco_on_the_wrong_side_of_the_market_or_a_bad_leg_is_explained() -> None:
    wrong = TicketForm(
        BTC,
        side=Side.SELL,
        oco=True,
        price="66000.00",
        stop_price="68000.00",
        stop_limit_price="67990.00",
        quantity="0.01",
    ).check(book())
    assert wrong.oco is None
    assert "limit price above the market" in wrong.errors["price"]
    bad_leg = TicketForm(
        BTC,
        side=Side.BUY,
        oco=True,
        price="66000.00",
        stop_price="68000.00",
        stop_limit_price="68000.005",
        quantity="0.01",
    ).check(book())
    assert bad_leg.oco is None
    assert "PRICE_FILTER" in bad_leg.errors["stop_limit_price"]


def test_the_client_order_id_is_fixed_when_the_form_is_made_and_kept_across_checks() -> None:
    form = TicketForm(BTC, price="67000.00", quantity="0.01")
    first = form.check(book())
    form.quantity = "0.02"
    second = form.check(book())
    assert first.request is not None and second.request is not None
    assert first.request.client_order_id == second.request.client_order_id
    assert first.request.client_order_id == form.client_order_id
    form.renew_ids()
    third = form.check(book())
    assert third.request is not None
    assert third.request.client_order_id != first.request.client_order_id
