"""Amend an open order's price or quantity (cancel-replace), checked like the ticket.

The replacement's client order id is fixed when the dialog opens, so a second Enter after a
timeout resends the same amend, which cannot place a second replacement.

A leg of an OCO list is never amended alone (a cancel-replace of one leg would cancel the
other at the venue and drop the protective stop): the dialog then shows both legs, takes
the new limit, stop and stop-limit prices and the quantity, and sends ``ReplaceOco``, which
replaces the whole list.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.commands import ReplaceOco, ReplaceOrder
from omnitrade_tui.domain.enums import OrderType
from omnitrade_tui.domain.models import Order, new_client_order_id
from omnitrade_tui.tui.naming import order_name
from omnitrade_tui.tui.refusal import refusal_text
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.ticket_form import TicketCheck, TicketForm

_SINGLE_FIELDS = (("price", "Price"), ("quantity", "Quantity"))
_OCO_FIELDS = (
    ("price", "Limit"),
    ("stop_price", "Stop"),
    ("stop_limit_price", "Stop limit"),
    ("quantity", "Quantity"),
)


class AmendOrder(ModalScreen[None]):
    """New price and quantity for one order (or both legs of its OCO list); Enter sends."""

    DEFAULT_CSS = """
    AmendOrder { align: center middle; }
    AmendOrder > Vertical {
        width: 90; max-width: 100%; height: auto;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    AmendOrder .field { height: auto; }
    AmendOrder .field > Label { width: 11; }
    AmendOrder .field > Input {
        width: 22; height: 1; border: none; padding: 0 1; background: $boost;
        &:focus { background: $accent 35%; }
    }
    AmendOrder .reason { width: 1fr; color: $error; padding: 0 0 0 1; }
    AmendOrder #legs { color: $text-muted; }
    AmendOrder #sends { color: $warning; }
    AmendOrder #problem { color: $error; text-style: bold; }
    AmendOrder #keys { color: $text-muted; }
    """

    #: How long to wait for the engine's answer to the amend.
    timeout_s = 20.0

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("up", "nudge(1)", "Up", show=False, priority=True),
        Binding("down", "nudge(-1)", "Down", show=False, priority=True),
    ]

    def __init__(
        self, bus: Bus, state: TerminalState, order: Order, legs: list[Order] | None = None
    ) -> None:
        """``legs``: both open legs of ``order``'s OCO list, when it is in one."""
        super().__init__()
        self.bus = bus
        self.state = state
        self.order = order
        self.legs = legs or []
        inst = state.instruments[order.symbol]
        places = inst.price_decimals

        def price(value: Decimal | None) -> str:
            return f"{value:.{places}f}" if value is not None else ""

        quantity = f"{order.remaining_qty:.{inst.quantity_decimals}f}"
        if self.legs:
            limit = next(o for o in self.legs if o.type is OrderType.LIMIT_MAKER)
            stop = next(o for o in self.legs if o is not limit)
            self.form = TicketForm(
                inst,
                side=order.side,
                oco=True,
                type=OrderType.LIMIT_MAKER,
                price=price(limit.price),
                stop_price=price(stop.stop_price),
                stop_limit_price=price(stop.price),
                quantity=quantity,
            )
        else:
            self.form = TicketForm(
                inst,
                side=order.side,
                type=order.type,
                price=price(order.price),
                stop_price=price(order.stop_price),
                quantity=quantity,
            )
            if order.time_in_force is not None:
                self.form.time_in_force = order.time_in_force
        self.fields = _OCO_FIELDS if self.legs else _SINGLE_FIELDS
        #: The replacement's id: one per intent, kept across a resend after a timeout (an
        #: OCO's new list and leg ids are the form's, fixed likewise).
        self.new_client_order_id = new_client_order_id()
        self._sending = False

    def compose(self) -> ComposeResult:
        """The order (both legs of an OCO), its fields with their reasons, what Enter sends."""
        o = self.order
        names = self.state.instruments
        with Vertical():
            if self.legs:
                yield Static(
                    f"Amend OCO list {o.order_list_id}: both legs are replaced together", id="title"
                )
                yield Static(
                    "\n".join(f"  now: {order_name(leg, names)}" for leg in self.legs), id="legs"
                )
            else:
                yield Static(f"Amend {order_name(o, names)}", id="title")
            for name, label in self.fields:
                with Horizontal(classes="field"):
                    yield Label(label)
                    yield Input(getattr(self.form, name), id=name)
                    yield Static("", classes="reason", id=f"reason-{name}")
            yield Static(id="sends")
            yield Static(id="problem")
            what = "cancel the list, place the new one" if self.legs else "cancel-replace"
            yield Static(f"↑↓ tick/step · Enter send ({what}) · Esc close", id="keys")

    def on_mount(self) -> None:
        """Start on the price."""
        if self.app.animation_level == "none":
            # As in the ticket: over SSH a blinking cursor is two redraws a second for
            # nothing, and a snapshot taken mid-blink differed from run to run.
            for field in self.query(Input):
                field.cursor_blink = False
        self.query_one("#price", Input).focus()
        self._check()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if event.input.id in {name for name, _ in self.fields}:
            setattr(self.form, event.input.id or "", event.value)
        self._check()

    def _check(self) -> TicketCheck:
        check = self.form.check(self.state.symbols[self.order.symbol].top)
        for name, _ in self.fields:
            self.query_one(f"#reason-{name}", Static).update(check.errors.get(name, ""))
        sends = ""
        if check.oco is not None:
            names = self.state.instruments
            sends = "\n".join(f"  new: {order_name(leg, names)}" for leg in check.oco)
        self.query_one("#sends", Static).update(sends)
        return check

    def action_nudge(self, steps: int) -> None:
        """A tick or a step up or down in the focused field."""
        focused = self.focused
        if isinstance(focused, Input) and focused.id in {name for name, _ in self.fields}:
            self.form.nudge(focused.id or "", steps)
            focused.value = getattr(self.form, focused.id or "")

    def action_close(self) -> None:
        """Esc: close (not while the amend's answer is awaited)."""
        if self._sending:
            self.app.bell()
            return
        self.dismiss(None)

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        if self._sending:
            return
        check = self._check()
        if check.request is None:
            self.app.bell()
            return
        command: ReplaceOrder | ReplaceOco
        if check.oco is not None:
            command = ReplaceOco(
                symbol=self.order.symbol,
                order_list_id=self.order.order_list_id,
                above=check.oco[0],
                below=check.oco[1],
                list_client_order_id=self.form.list_client_order_id,
            )
        else:
            price = Decimal(self.form.price) if self.form.price else None
            qty = Decimal(self.form.quantity)
            command = ReplaceOrder(
                symbol=self.order.symbol,
                client_order_id=self.order.client_order_id,
                price=price if price != self.order.price else None,
                quantity=qty if qty != self.order.remaining_qty else None,
                new_client_order_id=self.new_client_order_id,
            )
        self._sending = True  # now, not when the worker starts: a second Enter finds it set
        self._send(command)

    @work(exclusive=True, group="amend", exit_on_error=False)
    async def _send(self, command: ReplaceOrder | ReplaceOco) -> None:
        names = self.state.instruments
        problem = self.query_one("#problem", Static)
        problem.update(f"sending the amend of {order_name(self.order, names)}…")
        try:
            placed: Any = await self.bus.request(command, timeout=self.timeout_s)
        except TimeoutError:
            problem.update(
                f"no answer within {self.timeout_s:.0f} s: the amend may have happened; watch "
                "the blotter. Enter sends the same amend again (same ids), which cannot "
                "place a second replacement"
            )
            return
        except Exception as exc:
            # Refused: nothing holds these ids, and what is sent next is a new intent.
            self.new_client_order_id = new_client_order_id()
            self.form.renew_ids()
            problem.update(f"REJECTED: {refusal_text(exc)}")
            return
        finally:
            self._sending = False
        for order in placed if isinstance(placed, list) else [placed]:
            self.app.notify(
                f"amended ({order.status}): {order_name(order, names)}",
                title="OCO leg" if isinstance(placed, list) else "Order",
            )
        self.dismiss(None)
