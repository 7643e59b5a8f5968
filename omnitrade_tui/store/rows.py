"""From bus events to table rows: plain tuples in each table's column order.

Rows are tuples (not ORM objects) so the hot tables go to the database with executemany or
COPY untouched, and so a batch can be spilled to a file and read back as it was.

An instrument is its id (``BTCUSDT``, ``BTCUSDT@kraken``) where a table has its symbol: the
repository splits it into the venue and symbol columns (``store.venue_columns``), so a
journal spilled before there were venues replays as it was.
"""

from __future__ import annotations

import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

import msgspec

from omnitrade_tui.domain.commands import Command
from omnitrade_tui.domain.events import BalancesChanged, BookTop, OrderUpdated, TradeGap
from omnitrade_tui.domain.models import Candle, Trade

Row = tuple[Any, ...]
#: Rows waiting to be written, per table name.
Batch = dict[str, list[Row]]

_json = msgspec.json.Encoder()


def new_batch() -> Batch:
    """An empty batch that creates a table's list on first use."""
    return defaultdict(list)


def batch_size(batch: Batch) -> int:
    """Number of rows in a batch, over every table."""
    return sum(len(rows) for rows in batch.values())


def _dec(value: Decimal | None) -> str | None:
    # Decimals travel as their exact string (spill files and SQLite keep text as is).
    return None if value is None else str(value)


class RowBuilder:
    """Turns bus events into rows, remembering what it needs to skip repeats.

    Quotes are written only when the best bid or ask (price or size) changed, as the book
    publishes a ``BookTop`` on every update.
    """

    def __init__(self) -> None:
        self._last_top: dict[str, tuple[Any, ...]] = {}
        self._journal_seq = 0

    def add(self, batch: Batch, topic: str, event: Any) -> int:
        """Append the rows of one event to ``batch``; return how many it made."""
        if isinstance(event, Trade):
            batch["trades"].append(
                (
                    event.symbol,
                    event.trade_id,
                    event.price,
                    event.qty,
                    event.time_ms,
                    event.buyer_is_maker,
                )
            )
            return 1
        if isinstance(event, BookTop):
            return self._add_quote(batch, event)
        if isinstance(event, TradeGap):
            batch["trade_gaps"].append(
                (
                    event.symbol,
                    event.first_id,
                    event.last_id,
                    event.from_ms,
                    event.to_ms,
                    event.reason,
                    event.time_ms or int(time.time() * 1000),
                )
            )
            return 1
        if isinstance(event, Candle):
            if not event.closed:
                return 0
            batch["candles"].append(
                (
                    event.symbol,
                    event.interval,
                    event.open_ms,
                    event.close_ms,
                    event.open,
                    event.high,
                    event.low,
                    event.close,
                    event.volume,
                    event.quote_volume,
                    event.trades,
                    event.taker_buy_volume,
                    event.taker_buy_quote_volume,
                )
            )
            return 1
        if isinstance(event, OrderUpdated):
            return _add_order(batch, event)
        if isinstance(event, BalancesChanged):
            stamp = event.time_ms or int(time.time() * 1000)
            for b in event.balances:
                batch["balance_snapshots"].append((b.asset, stamp, _dec(b.free), _dec(b.locked)))
            return len(event.balances)
        if isinstance(event, Command):
            self._journal_seq += 1
            now_ns = time.time_ns()
            batch["command_journal"].append(
                (
                    f"{now_ns}-{self._journal_seq}",
                    event.name,
                    now_ns // 1_000_000,
                    _json.encode(event).decode(),
                )
            )
            return 1
        return 0

    def _add_quote(self, batch: Batch, top: BookTop) -> int:
        bid = top.bids[0] if top.bids else None
        ask = top.asks[0] if top.asks else None
        key = (
            bid.price if bid else None,
            bid.qty if bid else None,
            ask.price if ask else None,
            ask.qty if ask else None,
        )
        if self._last_top.get(top.symbol) == key:
            return 0
        self._last_top[top.symbol] = key
        batch["quotes"].append((top.symbol, top.update_id, *key, top.event_ms))
        return 1


def _add_order(batch: Batch, event: OrderUpdated) -> int:
    report = event.report
    o = report.order
    updated = o.updated_ms or report.time_ms
    batch["orders"].append(
        (
            o.client_order_id,
            o.symbol,
            o.order_id,
            o.side.value,
            o.type.value,
            o.status.value,
            o.time_in_force.value if o.time_in_force else None,
            _dec(o.quantity),
            _dec(o.price),
            _dec(o.stop_price),
            _dec(o.quote_order_qty),
            _dec(o.filled_qty),
            _dec(o.cum_quote_qty),
            o.created_ms,
            updated,
            o.reject_reason,
        )
    )
    exec_type = report.execution_type.value
    key = f"{o.client_order_id}|{exec_type}|{o.status.value}|{o.filled_qty}|{updated}"
    batch["order_events"].append(
        (
            key[:200],
            o.client_order_id,
            o.symbol,
            exec_type,
            o.status.value,
            _dec(o.filled_qty),
            updated,
            o.reject_reason,
        )
    )
    made = 2
    f = report.fill
    if f is not None:
        batch["fills"].append(
            (
                f.symbol,
                f.trade_id,
                f.order_id,
                f.client_order_id,
                f.side.value,
                _dec(f.price),
                _dec(f.qty),
                _dec(f.commission),
                f.commission_asset,
                f.is_maker,
                f.time_ms,
            )
        )
        made += 1
    return made
