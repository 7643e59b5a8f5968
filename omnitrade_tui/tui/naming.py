"""How an order is named to the trader in every notification and question: side, quantity,
symbol, type, price (and stop), client id, so no message leaves them guessing which order
a cancel, an amend or an answer concerns."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import Order, OrderRequest


def order_name(order: Order | OrderRequest, instruments: Mapping[str, Instrument]) -> str:
    """``SELL 0.0300 BTCUSDT STOP_LOSS_LIMIT @ 66,450.00 stop 66,500.00 (cid omt-...)``."""
    inst = instruments.get(order.symbol)
    places = inst.price_decimals if inst is not None else 8
    qplaces = inst.quantity_decimals if inst is not None else 8
    if order.quantity is not None:
        qty = f"{order.quantity:.{qplaces}f}"
    else:
        qty = f"{_amount(order.quote_order_qty, places)} quote of"
    price = f" @ {_amount(order.price, places)}" if order.price is not None else ""
    stop = f" stop {_amount(order.stop_price, places)}" if order.stop_price is not None else ""
    return (
        f"{order.side} {qty} {order.symbol} {order.type}{price}{stop} (cid {order.client_order_id})"
    )


def _amount(value: Decimal | None, places: int) -> str:
    return f"{value:,.{places}f}" if value is not None else "-"
