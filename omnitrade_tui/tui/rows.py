"""Rows of the watchlist and the blotter's tabs, built from ``TerminalState`` (no Textual).

Each function turns state into ``Row`` values for a ``RowTable``; cells carry the name of a
component class (``buy``, ``sell``, ``up``, ``down``...) so colours come from the theme.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import PositionValue
from omnitrade_tui.domain.models import Order, OrderRecord
from omnitrade_tui.domain.venue import short_label, symbol_of, unqualified
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.widgets.row_table import Column, Row

_SPARK = "▁▂▃▄▅▆▇█"

WATCH_COLUMNS = [
    Column("Symbol", 8),
    Column("Last", 10, ">"),
    Column("24h", 6, ">"),
    Column("Trend", 8),
]
# Columns with ``drop`` give way on a narrow table (the highest first) and show in the
# detail line of the selected row instead: never a sideways scrollbar.
ORDER_COLUMNS = [
    Column("Symbol", 12),
    Column("Side", 4),
    Column("Type", 6),
    Column("Price", 14, ">"),
    Column("Stop", 14, ">", drop=1),
    Column("Qty", 13, ">"),
    Column("Filled", 13, ">", drop=2),
    Column("Status", 9),
    Column("Time", 8, drop=3),
    Column("Client id", 26, drop=4),
]
FILL_COLUMNS = [
    Column("Symbol", 12),
    Column("Side", 4),
    Column("Price", 14, ">"),
    Column("Qty", 13, ">"),
    Column("Fee", 18, ">", drop=2),
    Column("Time", 8, drop=1),
    Column("Notional", 14, ">", drop=3),
    Column("Role", 5, drop=4),
    Column("Trade", 10, ">", drop=5),
]
BALANCE_COLUMNS = [
    Column("Asset", 9),
    Column("Free", 18, ">"),
    Column("Locked", 18, ">", drop=1),
    Column("Total", 18, ">"),
]
POSITION_COLUMNS = [
    Column("Symbol", 12),
    Column("Qty", 13, ">"),
    Column("Avg price", 14, ">", drop=3),
    Column("Mark", 14, ">", drop=4),
    Column("Realized", 12, ">", drop=2),
    Column("Unrealized", 12, ">", drop=1),
    Column("Fees", 10, ">", drop=5),
    Column("Net", 12, ">"),
]
LOG_COLUMNS = [Column("Time", 8), Column("Event", 200)]
HISTORY_COLUMNS = [
    Column("Symbol", 12),
    Column("Side", 4),
    Column("Type", 5),
    Column("Filled", 13, ">", drop=3),
    Column("Avg price", 14, ">"),
    Column("Status", 9),
    Column("Fee", 20, ">", drop=2),
    Column("Time", 14, drop=1),
    Column("Price", 14, ">", drop=4),
    Column("Qty", 13, ">", drop=5),
    Column("Client id", 26, drop=6),
]

#: Order types as a trader writes them (``STOP_LOSS_LIMIT`` does not fit a blotter column).
TYPE_CODES = {
    OrderType.LIMIT: "LMT",
    OrderType.MARKET: "MKT",
    OrderType.STOP_LOSS: "SL",
    OrderType.STOP_LOSS_LIMIT: "SL-L",
    OrderType.TAKE_PROFIT: "TP",
    OrderType.TAKE_PROFIT_LIMIT: "TP-L",
    OrderType.LIMIT_MAKER: "LM",
}
#: Statuses short enough for the Status column.
STATUS_CODES = {
    OrderStatus.PENDING_NEW: "PENDING",
    OrderStatus.PARTIALLY_FILLED: "PARTIAL",
    OrderStatus.PENDING_CANCEL: "CANCELING",
    OrderStatus.EXPIRED_IN_MATCH: "EXPIRED",
    OrderStatus.UNKNOWN: "UNKNOWN ?",
}
#: How the two legs of an OCO are drawn as one bracket in the Type column.
_OCO_MARKS = ("┌", "└")


def type_code(order: Order) -> str:
    """The order's type as a short code (``SL-L``)."""
    return TYPE_CODES.get(order.type, order.type.value)


def status_code(status: OrderStatus) -> str:
    """The status as it fits its column (``PARTIAL``)."""
    return STATUS_CODES.get(status, status.value)


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as block characters, low to high."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    lo, hi = min(tail), max(tail)
    span = hi - lo
    if span <= 0:
        return _SPARK[3] * len(tail)
    return "".join(_SPARK[min(7, int((v - lo) / span * 8))] for v in tail)


def watch_rows(state: TerminalState) -> list[Row]:
    """One row per watchlist symbol: last, 24 h change, recent trend."""
    rows = []
    previous = ""
    for symbol in state.watchlist:
        # A pair on several venues is one group: its second venue's row says only the venue.
        label = short_label(symbol, symbol_of(symbol) == symbol_of(previous), 7)
        previous = symbol
        view = state.symbols[symbol]
        last = view.last
        ticker = view.ticker
        change = ticker.change_pct if ticker is not None else None
        cls = "" if change is None else "up" if change >= 0 else "down"
        marker = "▸" if symbol == state.active else " "
        rows.append(
            Row(
                symbol,
                (
                    (f"{marker}{label}", "" if symbol != state.active else "warn"),
                    (state.numbers.price(symbol, last), ""),
                    (f"{change:+.2f}%" if change is not None else "-", cls),
                    (sparkline(view.spark, 8), cls),
                ),
            )
        )
    return rows


def _side_cls(side: Side) -> str:
    return "buy" if side is Side.BUY else "sell"


def grouped_open_orders(state: TerminalState) -> list[Order]:
    """Open orders of every symbol, newest first, the legs of an OCO side by side."""
    out: list[Order] = []
    placed: set[str] = set()
    orders = state.open_orders()
    for o in orders:
        if o.client_order_id in placed:
            continue
        legs = [o]
        if o.order_list_id >= 0:
            legs = [x for x in orders if x.order_list_id == o.order_list_id]
        for leg in legs:
            placed.add(leg.client_order_id)
            out.append(leg)
    return out


def order_rows(state: TerminalState) -> list[Row]:
    """Open orders of every symbol, newest first; OCO legs bracketed together; UNKNOWN
    ones stand out."""
    rows = []
    numbers = state.numbers
    orders = grouped_open_orders(state)
    for n, o in enumerate(orders):
        status_cls = "error" if o.status is OrderStatus.UNKNOWN else "muted"
        status = status_code(o.status)
        held = state.held_for(o.client_order_id)
        if held is not None:
            status, status_cls = f"held {held[1]:.0f}s", "warn"
        code = type_code(o)
        client = o.client_order_id
        if o.order_list_id >= 0:
            first = n == 0 or orders[n - 1].order_list_id != o.order_list_id
            code = (_OCO_MARKS[0] if first else _OCO_MARKS[1]) + code
            client = f"{client} (OCO {o.order_list_id})"
        price = numbers.price(o.symbol, o.price) if o.price is not None else "MARKET"
        stop = numbers.price(o.symbol, o.stop_price) if o.stop_price is not None else ""
        rows.append(
            Row(
                o.client_order_id,
                (
                    (o.symbol, ""),
                    (o.side.value, _side_cls(o.side)),
                    (code, ""),
                    (price, _side_cls(o.side)),
                    (stop, "warn"),
                    (numbers.qty(o.symbol, o.quantity), ""),
                    (numbers.qty(o.symbol, o.filled_qty), ""),
                    (status, status_cls),
                    (numbers.clock(o.created_ms or o.updated_ms), "muted"),
                    (client, "muted"),
                ),
            )
        )
    return rows


def fill_rows(state: TerminalState) -> list[Row]:
    """Our fills, newest first."""
    rows = []
    numbers = state.numbers
    for f in reversed(state.fills):
        quote = state.instruments[f.symbol].quote_asset if f.symbol in state.instruments else ""
        rows.append(
            Row(
                f"{f.symbol}:{f.trade_id}",
                (
                    (f.symbol, ""),
                    (f.side.value, _side_cls(f.side)),
                    (numbers.price(f.symbol, f.price), _side_cls(f.side)),
                    (numbers.qty(f.symbol, f.qty), ""),
                    (numbers.money_with_asset(f.commission_asset, f.commission), "muted"),
                    (numbers.clock(f.time_ms), "muted"),
                    (numbers.money(quote, f.quote_qty), ""),
                    ("maker" if f.is_maker else "taker", "muted"),
                    (str(f.trade_id), "muted"),
                ),
            )
        )
    return rows


def balance_rows(state: TerminalState) -> list[Row]:
    """Non-zero balances by asset; an asset held on several venues shows each venue's row
    under the first (``└@alt``) and their sum (``Σ USDT``)."""
    rows = []
    money = state.numbers.money
    groups: dict[str, list[str]] = {}
    for asset in sorted(state.balances):
        if state.balances[asset].total:
            groups.setdefault(unqualified(asset), []).append(asset)
    for group in groups.values():
        for n, asset in enumerate(group):
            b = state.balances[asset]
            rows.append(
                Row(
                    asset,
                    (
                        (short_label(asset, n > 0, 9), ""),
                        (money(asset, b.free), ""),
                        (money(asset, b.locked), "muted" if b.locked == 0 else "warn"),
                        (money(asset, b.total), ""),
                    ),
                )
            )
        if len(group) > 1:
            rows.append(_balance_total(state, group))
    return rows


def _balance_total(state: TerminalState, assets: list[str]) -> Row:
    """One asset summed over the venues that hold it."""
    money = state.numbers.money
    name = unqualified(assets[0])
    free = sum((state.balances[a].free for a in assets), Decimal(0))
    locked = sum((state.balances[a].locked for a in assets), Decimal(0))
    return Row(
        f"Σ{name}",
        (
            (f"Σ {name}"[:9], "muted"),
            (money(name, free), "muted"),
            (money(name, locked), "muted"),
            (money(name, free + locked), "muted"),
        ),
    )


def position_rows(state: TerminalState) -> list[Row]:
    """Positions with realized and unrealized PnL at the last price, and fees; a pair held
    on several venues shows each venue's row, then their sum (``Σ BTCUSDT``)."""
    rows = []
    numbers = state.numbers
    groups: dict[str, list[PositionValue]] = {}
    for position in state.portfolio.positions:
        groups.setdefault(symbol_of(position.symbol), []).append(position)
    for pair, group in groups.items():
        for p in group:
            # Valued in the engine (``acct.positions``): every terminal shows these numbers.
            mark, unrealized, net = p.mark, p.unrealized_pnl, p.net_pnl
            quote = p.quote_asset or "USDT"
            rows.append(
                Row(
                    p.symbol,
                    (
                        (p.symbol, ""),
                        (
                            numbers.qty(p.symbol, p.qty),
                            "buy" if p.qty > 0 else "sell" if p.qty < 0 else "",
                        ),
                        (numbers.price(p.symbol, p.avg_price), ""),
                        (numbers.price(p.symbol, mark), "muted"),
                        (numbers.money(quote, p.realized_pnl, True), _pnl_cls(p.realized_pnl)),
                        (numbers.money(quote, unrealized, True), _pnl_cls(unrealized)),
                        (numbers.money(quote, p.fees_quote), "muted"),
                        (numbers.money(quote, net, True), _pnl_cls(net)),
                    ),
                )
            )
        if len(group) > 1:
            rows.append(_position_total(state, pair, group))
    return rows


def _position_total(state: TerminalState, pair: str, group: list[PositionValue]) -> Row:
    """One pair summed over the venues it is held on (the quote asset is one unit of
    account on every venue; an average price across venues would mislead, so none)."""
    numbers = state.numbers
    quote = unqualified(group[0].quote_asset or "USDT")

    def total(value: Callable[[PositionValue], Decimal]) -> Decimal:
        return sum((value(p) for p in group), Decimal(0))

    qty = total(lambda p: p.qty)
    realized = total(lambda p: p.realized_pnl)
    unrealized = total(lambda p: p.unrealized_pnl)
    net = total(lambda p: p.net_pnl)
    return Row(
        f"Σ{pair}",
        (
            (f"Σ {pair}", "muted"),
            (numbers.qty(group[0].symbol, qty), "buy" if qty > 0 else "sell" if qty < 0 else ""),
            ("", ""),
            ("", ""),
            (numbers.money(quote, realized, True), _pnl_cls(realized)),
            (numbers.money(quote, unrealized, True), _pnl_cls(unrealized)),
            (numbers.money(quote, total(lambda p: p.fees_quote)), "muted"),
            (numbers.money(quote, net, True), _pnl_cls(net)),
        ),
    )


def _pnl_cls(value: Decimal) -> str:
    return "up" if value > 0 else "down" if value < 0 else ""


def log_rows(state: TerminalState) -> list[Row]:
    """The order event log, newest first."""
    cls = {"error": "error", "warning": "warn"}
    return [
        Row(
            str(i),
            (
                (state.numbers.clock(line.time_ms), "muted"),
                (line.text, cls.get(line.severity, "")),
            ),
        )
        for i, line in enumerate(reversed(state.log))
    ]


def fee_text(record: OrderRecord, numbers: Numbers) -> str:
    """The fees an order paid, by asset (``0.07 USDT``); ``-`` when none."""
    if not record.fees:
        return "-"
    return " + ".join(numbers.money_with_asset(asset, amount) for asset, amount in record.fees)


_FINAL_CLS = {
    OrderStatus.FILLED: "up",
    OrderStatus.REJECTED: "error",
    OrderStatus.EXPIRED: "warn",
    OrderStatus.EXPIRED_IN_MATCH: "warn",
}


def history_rows(records: Sequence[OrderRecord], numbers: Numbers) -> list[Row]:
    """Final orders as the History tab shows them, in the order given."""
    rows = []
    for r in records:
        o = r.order
        avg = o.avg_price
        rows.append(
            Row(
                o.client_order_id,
                (
                    (o.symbol, ""),
                    (o.side.value, _side_cls(o.side)),
                    (type_code(o), ""),
                    (numbers.qty(o.symbol, o.filled_qty), ""),
                    (numbers.price(o.symbol, avg) if avg is not None else "-", _side_cls(o.side)),
                    (status_code(o.status), _FINAL_CLS.get(o.status, "muted")),
                    (fee_text(r, numbers), "muted"),
                    (numbers.stamp(o.updated_ms)[5:16], "muted"),
                    (numbers.price(o.symbol, o.price) if o.price is not None else "MARKET", ""),
                    (numbers.qty(o.symbol, o.quantity), ""),
                    (o.client_order_id, "muted"),
                ),
            )
        )
    return rows
