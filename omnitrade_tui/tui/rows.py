"""Rows of the watchlist and the blotter's tabs, built from ``TerminalState`` (no Textual).

Each function turns state into ``Row`` values for a ``RowTable``; cells carry the name of a
component class (``buy``, ``sell``, ``up``, ``down``...) so colours come from the theme.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

from omnitrade_tui.domain.decimals import fmt
from omnitrade_tui.domain.enums import OrderStatus, Side
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.widgets.row_table import Column, Row

_SPARK = "▁▂▃▄▅▆▇█"

WATCH_COLUMNS = [
    Column("Symbol", 8),
    Column("Last", 10, ">"),
    Column("24h", 6, ">"),
    Column("Trend", 8),
]
# Most telling first: on a narrow screen the table scrolls sideways for the rest.
ORDER_COLUMNS = [
    Column("Side", 4),
    Column("Price", 12, ">"),
    Column("Qty", 11, ">"),
    Column("Filled", 11, ">"),
    Column("Status", 16),
    Column("Symbol", 8),
    Column("Type", 11),
    Column("Time", 8),
    Column("Client id", 26),
]
FILL_COLUMNS = [
    Column("Side", 4),
    Column("Price", 12, ">"),
    Column("Qty", 11, ">"),
    Column("Fee", 16, ">"),
    Column("Symbol", 8),
    Column("Time", 8),
    Column("Notional", 12, ">"),
    Column("Role", 5),
    Column("Trade", 10, ">"),
]
BALANCE_COLUMNS = [
    Column("Asset", 6),
    Column("Free", 16, ">"),
    Column("Locked", 16, ">"),
    Column("Total", 16, ">"),
]
POSITION_COLUMNS = [
    Column("Symbol", 8),
    Column("Qty", 12, ">"),
    Column("Avg price", 12, ">"),
    Column("Mark", 12, ">"),
    Column("Realized", 12, ">"),
    Column("Unrealized", 12, ">"),
    Column("Fees", 10, ">"),
    Column("Net", 12, ">"),
]
LOG_COLUMNS = [Column("Time", 8), Column("Event", 200)]


def hms(time_ms: int) -> str:
    """``HH:MM:SS`` UTC of an epoch-milliseconds time."""
    return time.strftime("%H:%M:%S", time.gmtime(time_ms / 1000)) if time_ms else "--:--:--"


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
    for symbol in state.watchlist:
        view = state.symbols[symbol]
        inst = state.instruments.get(symbol)
        places = inst.price_decimals if inst else 2
        last = view.last
        ticker = view.ticker
        change = ticker.change_pct if ticker is not None else None
        cls = "" if change is None else "up" if change >= 0 else "down"
        marker = "▸" if symbol == state.active else " "
        rows.append(
            Row(
                symbol,
                (
                    (f"{marker}{symbol}", "" if symbol != state.active else "warn"),
                    (f"{last:,.{places}f}" if last is not None else "-", ""),
                    (f"{change:+.2f}%" if change is not None else "-", cls),
                    (sparkline(view.spark, 8), cls),
                ),
            )
        )
    return rows


def _side_cls(side: Side) -> str:
    return "buy" if side is Side.BUY else "sell"


def order_rows(state: TerminalState) -> list[Row]:
    """Open orders of every symbol, newest first; UNKNOWN ones stand out."""
    rows = []
    for o in state.open_orders():
        inst = state.instruments.get(o.symbol)
        places = inst.price_decimals if inst else 8
        qplaces = inst.quantity_decimals if inst else 8
        price = f"{o.price:.{places}f}" if o.price is not None else "MARKET"
        status_cls = "error" if o.status is OrderStatus.UNKNOWN else "muted"
        status = o.status.value + (" ?" if o.status is OrderStatus.UNKNOWN else "")
        held = state.held_for(o.client_order_id)
        if held is not None:
            status, status_cls = f"held {held[1]:.0f}s", "warn"
        rows.append(
            Row(
                o.client_order_id,
                (
                    (o.side.value, _side_cls(o.side)),
                    (price, _side_cls(o.side)),
                    (f"{o.quantity:.{qplaces}f}", ""),
                    (f"{o.filled_qty:.{qplaces}f}", ""),
                    (status, status_cls),
                    (o.symbol, ""),
                    (o.type.value, ""),
                    (hms(o.created_ms or o.updated_ms), "muted"),
                    (o.client_order_id, "muted"),
                ),
            )
        )
    return rows


def fill_rows(state: TerminalState) -> list[Row]:
    """Our fills, newest first."""
    rows = []
    for f in reversed(state.fills):
        inst = state.instruments.get(f.symbol)
        places = inst.price_decimals if inst else 8
        rows.append(
            Row(
                f"{f.symbol}:{f.trade_id}",
                (
                    (f.side.value, _side_cls(f.side)),
                    (f"{f.price:.{places}f}", _side_cls(f.side)),
                    (fmt(f.qty), ""),
                    (f"{fmt(f.commission)} {f.commission_asset}", "muted"),
                    (f.symbol, ""),
                    (hms(f.time_ms), "muted"),
                    (f"{f.quote_qty:,.2f}", ""),
                    ("maker" if f.is_maker else "taker", "muted"),
                    (str(f.trade_id), "muted"),
                ),
            )
        )
    return rows


def balance_rows(state: TerminalState) -> list[Row]:
    """Non-zero balances, largest holdings of the watchlist's assets first."""
    rows = []
    for asset in sorted(state.balances):
        b = state.balances[asset]
        if b.total == 0:
            continue
        rows.append(
            Row(
                asset,
                (
                    (asset, ""),
                    (fmt(b.free), ""),
                    (fmt(b.locked), "muted" if b.locked == 0 else "warn"),
                    (fmt(b.total), ""),
                ),
            )
        )
    return rows


def position_rows(state: TerminalState) -> list[Row]:
    """Positions with realized and unrealized PnL at the last price, and fees."""
    rows = []
    for p in state.portfolio.positions:
        view = state.symbols.get(p.symbol)
        last = view.last if view is not None else None
        mark = Decimal(repr(last)) if last is not None else p.avg_price
        unrealized = p.unrealized_pnl(mark)
        net = p.net_pnl(mark)
        rows.append(
            Row(
                p.symbol,
                (
                    (p.symbol, ""),
                    (fmt(p.qty), "buy" if p.qty > 0 else "sell" if p.qty < 0 else ""),
                    (f"{p.avg_price:.2f}", ""),
                    (f"{mark:.2f}", "muted"),
                    (f"{p.realized_pnl:+.2f}", _pnl_cls(p.realized_pnl)),
                    (f"{unrealized:+.2f}", _pnl_cls(unrealized)),
                    (f"{p.fees_quote:.4f}", "muted"),
                    (f"{net:+.2f}", _pnl_cls(net)),
                ),
            )
        )
    return rows


def _pnl_cls(value: Decimal) -> str:
    return "up" if value > 0 else "down" if value < 0 else ""


def log_rows(state: TerminalState) -> list[Row]:
    """The order event log, newest first."""
    cls = {"error": "error", "warning": "warn"}
    return [
        Row(str(i), ((hms(line.time_ms), "muted"), (line.text, cls.get(line.severity, ""))))
        for i, line in enumerate(reversed(state.log))
    ]
