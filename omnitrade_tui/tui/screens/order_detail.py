"""One final order in full: what it was, what it did, what it cost, and its status timeline
as the venue reported it (opened with Enter in the blotter's History tab)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from omnitrade_tui.domain.models import OrderRecord
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.rows import fee_text, status_code, type_code


class OrderDetail(ModalScreen[None]):
    """The detail and the status timeline of one final order."""

    DEFAULT_CSS = """
    OrderDetail { align: center middle; }
    OrderDetail > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    OrderDetail VerticalScroll { height: auto; max-height: 1fr; }
    OrderDetail Static { width: 100%; height: auto; }
    OrderDetail #title { text-style: bold; }
    OrderDetail #keys { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "dismiss", "Close"),
    ]

    def __init__(self, record: OrderRecord, numbers: Numbers) -> None:
        super().__init__()
        self.record = record
        self.numbers = numbers

    def compose(self) -> ComposeResult:
        """The order's figures, then its timeline, then the key that closes."""
        r = self.record
        o = r.order
        n = self.numbers
        with Vertical():
            yield Static(
                f"{o.symbol} {o.side.value} {type_code(o)} · {status_code(o.status)}", id="title"
            )
            with VerticalScroll():
                facts = Table.grid(padding=(0, 2))
                facts.add_column(style="dim")
                facts.add_column()
                avg = o.avg_price
                inst = n.instruments.get(o.symbol)
                quote = inst.quote_asset if inst is not None else ""
                for label, value in (
                    ("quantity", n.qty(o.symbol, o.quantity)),
                    ("filled", f"{n.qty(o.symbol, o.filled_qty)} in {r.fills} fills"),
                    ("limit price", n.price(o.symbol, o.price) if o.price else "MARKET"),
                    ("stop price", n.price(o.symbol, o.stop_price) if o.stop_price else "-"),
                    ("average fill", n.price(o.symbol, avg) if avg is not None else "-"),
                    ("quote amount", n.money_with_asset(quote, o.cum_quote_qty)),
                    ("fees", fee_text(r, n)),
                    ("created", n.stamp(o.created_ms)),
                    ("last change", n.stamp(o.updated_ms)),
                    ("client id", o.client_order_id),
                    ("venue id", str(o.order_id) if o.order_id is not None else "-"),
                    ("reason", o.reject_reason or "-"),
                ):
                    facts.add_row(label, value)
                yield Static(facts, id="facts")
                timeline = Table(
                    "time", "event", "status", "filled", box=None, padding=(0, 1), expand=False
                )
                for step in r.steps:
                    timeline.add_row(
                        n.stamp(step.time_ms),
                        step.execution_type,
                        status_code(step.status),
                        n.qty(o.symbol, step.filled_qty),
                    )
                if not r.steps:
                    timeline.add_row("-", "no status changes recorded", "", "")
                yield Static("\nstatus timeline", id="timeline-title")
                yield Static(timeline, id="timeline")
            yield Static(f"Esc close · times {n.zone()}", id="keys")
