"""How an order is named to the trader in every notification and question: side, quantity,
symbol, type, price (and stop), client id, so no message leaves them guessing which order
a cancel, an amend or an answer concerns."""

from __future__ import annotations

from collections.abc import Mapping

from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import Order, OrderRequest
from omnitrade_tui.tui.numbers import Numbers


def order_name(order: Order | OrderRequest, instruments: Mapping[str, Instrument]) -> str:
    """``SELL 0.0300 BTCUSDT STOP_LOSS_LIMIT @ 66,450.00 stop 66,500.00 (cid omt-...)``."""
    n = Numbers(instruments)
    sym = order.symbol
    if order.quantity is not None:
        qty = n.qty(sym, order.quantity)
    else:
        inst = instruments.get(sym)
        quote = inst.quote_asset if inst is not None else ""
        qty = f"{n.money(quote, order.quote_order_qty)} quote of"
    price = f" @ {n.price(sym, order.price)}" if order.price is not None else ""
    stop = f" stop {n.price(sym, order.stop_price)}" if order.stop_price is not None else ""
    return f"{order.side} {qty} {sym} {order.type}{price}{stop} (cid {order.client_order_id})"
