"""Binance's order, account, trade, exchangeInfo and user-data payloads through their
schemas, with the JSON examples of Binance's own documents (``binance_doc_examples.json``);
and malformed payloads: a ``MalformedAnswer``, never a ``KeyError`` or a ``TypeError``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.instrument import LotSize, PriceFilter
from omnitrade_tui.venues.binance.exchange_info import instrument_of, symbol_entry
from omnitrade_tui.venues.binance.execution import ReplaceFailed
from omnitrade_tui.venues.binance.order_schemas import (
    MyTrade,
    account_decoder,
    cancel_replace_decoder,
    convert,
    my_trades_decoder,
    order_decoder,
    order_list_decoder,
    orders_decoder,
    parse_cancel,
    parse_cancel_all,
    parse_order,
)
from omnitrade_tui.venues.binance.rest import BinanceError, MalformedAnswer, OutcomeUnknown
from omnitrade_tui.venues.binance.user_events import (
    parse_account_position,
    parse_balance_move,
    parse_execution_report,
    parse_list_status,
)
from tests.venues.sim.doc_shapes import EXAMPLES

REST: dict[str, list[Any]] = EXAMPLES["rest"]
EVENTS: dict[str, Any] = EXAMPLES["events"]


def example(endpoint: str, index: int = 0) -> Any:
    return copy.deepcopy(REST[endpoint][index])


def raw(value: Any) -> bytes:
    return msgspec.json.encode(value)


# -- orders ------------------------------------------------------------------------------------


def test_a_full_order_answer_gives_the_order_and_its_fills() -> None:
    answer = order_decoder.decode(raw(example("POST /api/v3/order", 2)))
    order = answer.to_order()
    assert order.symbol == "BTCUSDT"
    assert order.client_order_id == "6gCrw2kRUAF9CvJDGP16IP"
    assert order.order_id == 28
    assert (order.side, order.type, order.status) == (
        Side.SELL,
        OrderType.MARKET,
        OrderStatus.FILLED,
    )
    assert order.quantity == D("10") and order.filled_qty == D("10")
    assert order.cum_quote_qty == D("10.00000000")
    assert order.price is None  # "0.00000000": a market order has none
    assert order.time_in_force is TimeInForce.GTC
    assert order.created_ms == order.updated_ms == 1507725176595  # transactTime
    fills = answer.to_fills(order)
    assert [f.trade_id for f in fills] == [56, 57, 58, 59, 60]
    assert fills[1].price == D("3999.00000000") and fills[1].qty == D("5.00000000")
    assert fills[1].commission == D("19.99500000") and fills[1].commission_asset == "USDT"
    assert all(f.order_id == 28 and f.side is Side.SELL for f in fills)
    assert all(f.time_ms == 1507725176595 and not f.is_maker for f in fills)


def test_a_result_answer_has_no_fills() -> None:
    answer = order_decoder.decode(raw(example("POST /api/v3/order", 1)))
    assert answer.to_order().status is OrderStatus.FILLED
    assert answer.to_fills(answer.to_order()) == []


def test_an_ack_answer_is_not_an_order_we_can_track() -> None:
    # We always ask for FULL; an ACK (no side, type or status) is not read as an order.
    with pytest.raises(MalformedAnswer, match="side"):
        parse_order(example("POST /api/v3/order", 0))


def test_a_queried_order_takes_its_times_from_time_and_update_time() -> None:
    body = example("GET /api/v3/order")
    order = parse_order(body)
    assert order.client_order_id == "myOrder1"
    assert order.created_ms == body["time"]
    assert order.updated_ms == body["updateTime"]
    assert order.price == D("0.1")
    assert [
        o.client_order_id for o in orders_decoder.decode(raw(REST["GET /api/v3/openOrders"][0]))
    ] == ["myOrder1"]


def test_a_cancel_answer_names_the_cancelled_order_not_the_cancel() -> None:
    order = parse_cancel(example("DELETE /api/v3/order"), "myOrder1")
    assert (
        order.client_order_id == "myOrder1"
    )  # origClientOrderId; "cancelMyOrder1" is the cancel's
    assert order.status is OrderStatus.CANCELED
    assert order.updated_ms == 1684804350068


def test_a_cancelled_leg_is_found_in_its_list() -> None:
    body = example("DELETE /api/v3/orderList")
    leg = parse_cancel(body, "TXOvglzXuaubXAaENpaRCB")
    assert (leg.order_id, leg.type, leg.order_list_id) == (3, OrderType.LIMIT_MAKER, 0)
    legs = order_list_decoder.decode(raw(body)).order_reports
    assert [r.to_order().stop_price for r in legs] == [D("1.00000000"), None]


def test_cancel_all_gives_single_orders_and_list_legs() -> None:
    orders = parse_cancel_all(example("DELETE /api/v3/openOrders"))
    assert [o.order_id for o in orders] == [11, 13, 20, 21]
    assert [o.order_list_id for o in orders] == [-1, -1, 1929, 1929]
    assert all(o.status is OrderStatus.CANCELED for o in orders)


def test_a_cancel_replace_gives_both_halves() -> None:
    answer = cancel_replace_decoder.decode(raw(example("POST /api/v3/order/cancelReplace")))
    assert answer.cancel_response.to_order().client_order_id == "DnLo3vTAQcjha43lAZhZ0y"
    placed = answer.new_order_response.to_order()
    assert (placed.order_id, placed.status, placed.price) == (10, OrderStatus.NEW, D("0.02"))


def test_a_refused_cancel_replace_says_which_half_failed() -> None:
    nothing_done = example("POST /api/v3/order/cancelReplace", 1)
    refused = ReplaceFailed(BinanceError(400, -2022, nothing_done["msg"]), nothing_done["data"])
    assert (refused.code, refused.replace_code) == (-2011, -2022)
    assert refused.canceled is None and refused.placed is None
    half = example("POST /api/v3/order/cancelReplace", 2)
    refused = ReplaceFailed(BinanceError(409, -2021, half["msg"]), half["data"])
    assert (refused.code, refused.replace_code) == (-2010, -2021)
    assert refused.canceled is not None and refused.canceled.order_id == 3
    assert refused.placed is None


def test_account_and_my_trades() -> None:
    account = account_decoder.decode(raw(example("GET /api/v3/account")))
    assert account.can_trade and account.can_withdraw and account.permissions == ["SPOT"]
    assert [b.to_balance().free for b in account.balances] == [
        D("4723846.89208129"),
        D("4763368.68006011"),
    ]
    (trade,) = my_trades_decoder.decode(raw(example("GET /api/v3/myTrades")))
    fill = trade.to_fill()
    assert (fill.symbol, fill.trade_id, fill.order_id) == ("BNBBTC", 28457, 100234)
    assert fill.side is Side.BUY and not fill.is_maker
    assert (fill.price, fill.qty, fill.commission) == (D("4.00000100"), D("12"), D("10.1"))
    assert fill.time_ms == 1499865549590


def test_extra_fields_are_ignored() -> None:
    body = {**example("GET /api/v3/order"), "aFieldBinanceAddsLater": {"x": [1, 2]}}
    assert parse_order(body) == parse_order(example("GET /api/v3/order"))


# -- exchangeInfo ------------------------------------------------------------------------------


def test_an_exchange_info_symbol_becomes_an_instrument() -> None:
    (entry,) = example("GET /api/v3/exchangeInfo")["symbols"]
    inst = instrument_of(entry)
    assert (inst.symbol, inst.base_asset, inst.quote_asset) == ("ETHBTC", "ETH", "BTC")
    assert inst.allowed_stp_modes == ("NONE",)
    assert not inst.cancel_replace_allowed
    assert inst.price_filter is None and inst.lot_size is None
    assert OrderType.STOP_LOSS_LIMIT in inst.order_types


def test_filters_are_read_exactly_and_unknown_ones_skipped() -> None:
    (entry,) = example("GET /api/v3/exchangeInfo")["symbols"]
    entry["filters"] = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.00000100",
            "maxPrice": "100000.00000000",
            "tickSize": "0.00000100",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00100000",
            "maxQty": "100000.00000000",
            "stepSize": "0.00100000",
        },
        {"filterType": "MAX_POSITION", "maxPosition": "10.00000000"},
        {"filterType": "A_FILTER_FROM_NEXT_YEAR"},
    ]
    inst = instrument_of(entry)
    assert inst.price_filter == PriceFilter(
        min_price=D("0.000001"), max_price=D("100000"), tick_size=D("0.000001")
    )
    assert inst.lot_size == LotSize(min_qty=D("0.001"), max_qty=D("100000"), step_size=D("0.001"))
    assert instrument_of(symbol_entry(inst)) == inst
    entry["filters"][0]["tickSize"] = "a tick"
    with pytest.raises(MalformedAnswer, match="PRICE_FILTER"):
        instrument_of(entry)


# -- user-data events --------------------------------------------------------------------------


def test_an_execution_report_of_a_new_order() -> None:
    report = parse_execution_report(copy.deepcopy(EVENTS["executionReport"]))
    assert report.execution_type is ExecutionType.NEW and report.fill is None
    order = report.order
    assert (order.symbol, order.client_order_id, order.order_id) == (
        "ETHBTC",
        "mUvoqJxFIILMdfAW5iGSOW",
        4293153,
    )
    assert (order.price, order.quantity, order.stop_price) == (D("0.10264410"), D("1"), None)
    assert order.time_in_force is TimeInForce.GTC and order.reject_reason is None
    assert (order.created_ms, order.updated_ms, report.time_ms) == (
        1499405658657,
        1499405658657,
        1499405658658,
    )


def test_an_execution_report_of_a_trade_carries_the_fill() -> None:
    event = {
        **EVENTS["executionReport"],
        "x": "TRADE",
        "X": "PARTIALLY_FILLED",
        "l": "0.40000000",
        "z": "0.40000000",
        "L": "0.10264400",
        "n": "0.00004",
        "N": "BNB",
        "t": 77,
        "m": True,
        "T": 1499405658700,
    }
    report = parse_execution_report(event)
    assert report.fill is not None
    assert (report.fill.trade_id, report.fill.qty, report.fill.price) == (
        77,
        D("0.4"),
        D("0.102644"),
    )
    assert (report.fill.commission, report.fill.commission_asset, report.fill.is_maker) == (
        D("0.00004"),
        "BNB",
        True,
    )
    assert report.fill.time_ms == report.order.updated_ms == 1499405658700
    assert report.order.filled_qty == D("0.4")


def test_a_cancel_report_names_the_order_and_an_expiry_its_reason() -> None:
    event = {
        **EVENTS["executionReport"],
        "x": "CANCELED",
        "X": "CANCELED",
        "c": "the-cancel",
        "C": "the-order",
    }
    assert parse_execution_report(event).order.client_order_id == "the-order"
    expired = {
        **EVENTS["executionReport"],
        "x": "EXPIRED",
        "X": "EXPIRED",
        "eR": "INSUFFICIENT_LIQUIDITY",
    }
    assert parse_execution_report(expired).order.reject_reason == "expired: INSUFFICIENT_LIQUIDITY"


def test_list_status_account_position_and_balance_moves() -> None:
    listed = parse_list_status(copy.deepcopy(EVENTS["listStatus"]))
    assert (listed.order_list_id, listed.contingency_type, listed.list_order_status) == (
        2,
        "OCO",
        "EXECUTING",
    )
    assert listed.list_client_order_id == "F4QN4G8DlFATFlIUQ0cjdD" and listed.reject_reason is None
    assert [o.order_id for o in listed.orders] == [17, 18] and listed.time_ms == 1564035303625
    position = parse_account_position(copy.deepcopy(EVENTS["outboundAccountPosition"]))
    assert position.balances[0].asset == "ETH" and position.balances[0].free == D("10000")
    assert position.time_ms == 1564034571105
    deposit = parse_balance_move(copy.deepcopy(EVENTS["balanceUpdate"]))
    assert deposit.describe() == "+100 BTC moved by the venue (deposit, withdrawal or transfer)"
    lock = parse_balance_move(copy.deepcopy(EVENTS["externalLockUpdate"]))
    assert lock.describe() == "the venue locked 10 NEO outside trading"


def test_a_malformed_answer_is_an_outcome_unknown() -> None:
    # The order manager asks the venue about an order whose answer cannot be read.
    assert issubclass(MalformedAnswer, OutcomeUnknown)
    with pytest.raises(MalformedAnswer, match="commission"):
        convert({**example("GET /api/v3/myTrades")[0], "commission": None}, MyTrade, "trade")


# -- malformed payloads ------------------------------------------------------------------------

PARSERS: list[tuple[str, Callable[[Any], object], Any]] = [
    ("FULL order", parse_order, REST["POST /api/v3/order"][2]),
    (
        "cancel",
        lambda b: parse_cancel(b, "pO9ufTiFGg3nw2fOdgeOXa"),
        REST["DELETE /api/v3/orderList"][0],
    ),
    ("cancel all", parse_cancel_all, REST["DELETE /api/v3/openOrders"][0]),
    (
        "account",
        lambda b: convert(b, type(account_decoder.decode(b"{}")), "account"),
        REST["GET /api/v3/account"][0],
    ),
    (
        "myTrades",
        lambda b: [t.to_fill() for t in convert(b, list[MyTrade], "trades")],
        REST["GET /api/v3/myTrades"][0],
    ),
    ("exchangeInfo symbol", instrument_of, REST["GET /api/v3/exchangeInfo"][0]["symbols"][0]),
    ("executionReport", parse_execution_report, EVENTS["executionReport"]),
    ("listStatus", parse_list_status, EVENTS["listStatus"]),
    ("outboundAccountPosition", parse_account_position, EVENTS["outboundAccountPosition"]),
    ("balanceUpdate", lambda b: parse_balance_move(b).describe(), EVENTS["balanceUpdate"]),
]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["NaN", "-Infinity", "1e999", "", "BUY", "LIMIT", "NEW", "TRADE"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key or index path inside a JSON value."""
    out: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


@st.composite
def mangled(draw: st.DrawFn) -> tuple[str, Callable[[Any], object], Any]:
    """A documented payload with some of its fields (at any depth) removed or replaced."""
    name, parse, original = draw(st.sampled_from(PARSERS))
    body = copy.deepcopy(original)
    if draw(st.integers(0, 9)) == 0:
        return name, parse, draw(JSON)  # not even the right kind of value
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(body)
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        holder = body
        for step in parents:
            holder = holder[step]
        if isinstance(holder, dict) and draw(st.booleans()):
            del holder[last]
        else:
            holder[last] = draw(JSON)
    return name, parse, body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mangled())
def test_malformed_payloads_give_a_malformed_answer_never_a_key_or_type_error(
    case: tuple[str, Callable[[Any], object], Any],
) -> None:
    name, parse, body = case
    try:
        parse(body)
    except MalformedAnswer as exc:
        said = exc.msg
    else:
        return  # still a readable payload
    assert said.startswith("malformed "), (name, said)
