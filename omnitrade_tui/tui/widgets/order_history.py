"""The blotter's order history: final orders (filled, cancelled, expired, rejected) from the
store, asked for through the bus (``FinalOrders``), so an attached terminal and a restarted
app show the same history.

Keys while it has the keyboard: Enter opens one order's detail and status timeline, ``t``
switches between the active symbol and every symbol, ``e`` writes what is shown to a CSV
file in the data folder, ``r`` reads the store again.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.binding import Binding, BindingType

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.commands import FinalOrders
from omnitrade_tui.domain.models import OrderRecord
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.refusal import refusal_text
from omnitrade_tui.tui.rows import HISTORY_COLUMNS, history_rows
from omnitrade_tui.tui.screens.order_detail import OrderDetail
from omnitrade_tui.tui.widgets.row_table import RowTable

#: The newest final orders read at once (the store keeps them all; the CSV says so).
HISTORY_LIMIT = 500
_CSV_HEADER = (
    "updated_utc",
    "symbol",
    "side",
    "type",
    "status",
    "quantity",
    "filled_qty",
    "price",
    "stop_price",
    "avg_price",
    "cum_quote_qty",
    "fees",
    "fills",
    "client_order_id",
    "order_id",
    "timeline",
)


class OrderHistoryTable(RowTable):
    """Final orders, newest first, for the active symbol or every symbol."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "open", "Detail", show=False, tooltip="this order's detail and status timeline"
        ),
        Binding(
            "t", "scope", "Symbol/all", show=False, tooltip="history of the active symbol or of all"
        ),
        Binding(
            "e", "export", "Export CSV", show=False, tooltip="write what is shown to a CSV file"
        ),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(
        self,
        bus: Bus,
        numbers: Numbers,
        active: Callable[[], str],
        export_dir: Path,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(HISTORY_COLUMNS, "reading the order history…", id=id)
        self.bus = bus
        self.numbers = numbers
        self.active = active
        self.export_dir = export_dir
        #: Every symbol (True) or the active one only (False).
        self.all_symbols = False
        self.records: list[OrderRecord] = []

    @property
    def scope(self) -> str:
        """What the history shows: the active symbol, or ``all symbols``."""
        return "all symbols" if self.all_symbols else self.active()

    @work(exclusive=True, group="order-history", exit_on_error=False)
    async def reload(self) -> None:
        """Ask the store for the final orders of the scope and show them."""
        symbol = None if self.all_symbols else self.active()
        try:
            records = await self.bus.request(
                FinalOrders(symbol=symbol, limit=HISTORY_LIMIT), timeout=15.0
            )
        except Exception as exc:
            self.empty = f"order history unavailable: {refusal_text(exc)}"
            self.set_rows([])
            return
        self.show_records(list(records))

    def show_records(self, records: list[OrderRecord]) -> None:
        """Show ``records``, newest first."""
        records.sort(key=lambda r: r.order.updated_ms, reverse=True)
        self.records = records
        other = "this symbol" if self.all_symbols else "all symbols"
        self.empty = f"no final orders for {self.scope} · t {other}"
        self.set_rows(history_rows(records, self.numbers))

    def action_reload(self) -> None:
        """Read the store again."""
        self.reload()

    def action_scope(self) -> None:
        """Switch between the active symbol and every symbol."""
        self.all_symbols = not self.all_symbols
        other = "this symbol" if self.all_symbols else "all symbols"
        self.notify(f"order history: {self.scope} (t: {other})", timeout=3)
        self.reload()

    def action_open(self) -> None:
        """The selected order's detail and status timeline."""
        key = self.cursor_key
        record = next((r for r in self.records if r.order.client_order_id == key), None)
        if record is None:
            self.notify("no order selected: ↑↓ to one, then Enter", severity="warning")
            return
        self.app.push_screen(OrderDetail(record, self.numbers))

    def action_export(self) -> None:
        """Write the orders shown to ``order-history-<scope>-<time>.csv`` in the data folder."""
        if not self.records:
            self.notify("nothing to export: the order history shown is empty", severity="warning")
            return
        scope = "all" if self.all_symbols else self.active()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = self.export_dir / f"order-history-{scope}-{stamp}.csv"
        try:
            write_csv(path, self.records)
        except OSError as exc:
            self.notify(f"export failed: {exc}", severity="error", timeout=8)
            return
        self.notify(f"{len(self.records)} orders written to {path}", timeout=8)


def write_csv(path: Path, records: list[OrderRecord]) -> None:
    """Write ``records`` as CSV with exact values (no thousands separators, UTC times)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    utc = Numbers({}, utc=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(_CSV_HEADER)
        for r in records:
            o = r.order
            avg = o.avg_price
            writer.writerow(
                (
                    utc.stamp(o.updated_ms),
                    o.symbol,
                    o.side.value,
                    o.type.value,
                    o.status.value,
                    o.quantity,
                    o.filled_qty,
                    "" if o.price is None else o.price,
                    "" if o.stop_price is None else o.stop_price,
                    "" if avg is None else avg,
                    o.cum_quote_qty,
                    " ".join(f"{amount} {asset}" for asset, amount in r.fees),
                    r.fills,
                    o.client_order_id,
                    "" if o.order_id is None else o.order_id,
                    " > ".join(
                        f"{utc.stamp(s.time_ms)} {s.execution_type} {s.status.value}"
                        for s in r.steps
                    ),
                )
            )
