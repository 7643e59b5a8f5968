"""Amend an open order's price or quantity (cancel-replace), checked like the ticket.

The replacement's client order id is fixed when the dialog opens, so a second Enter after a
timeout resends the same amend, which cannot place a second replacement."""

from __future__ import annotations

from decimal import Decimal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.commands import ReplaceOrder
from omnitrade_tui.domain.models import Order, new_client_order_id
from omnitrade_tui.tui.naming import order_name
from omnitrade_tui.tui.refusal import refusal_text
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.ticket_form import TicketForm


class AmendOrder(ModalScreen[None]):
    """New price and quantity for one order; Enter sends a cancel-replace."""

    DEFAULT_CSS = """
    AmendOrder { align: center middle; }
    AmendOrder > Vertical {
        width: 72; max-width: 100%; height: auto;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    AmendOrder .field { height: auto; }
    AmendOrder .field > Label { width: 10; }
    AmendOrder .field > Input {
        width: 22; height: 1; border: none; padding: 0 1; background: $boost;
        &:focus { background: $accent 35%; }
    }
    AmendOrder .reason { width: 1fr; color: $error; padding: 0 0 0 1; }
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

    def __init__(self, bus: Bus, state: TerminalState, order: Order) -> None:
        super().__init__()
        self.bus = bus
        self.state = state
        self.order = order
        inst = state.instruments[order.symbol]
        self.form = TicketForm(
            inst,
            side=order.side,
            type=order.type,
            price=f"{order.price:.{inst.price_decimals}f}" if order.price is not None else "",
            stop_price=f"{order.stop_price}" if order.stop_price is not None else "",
            quantity=f"{order.remaining_qty:.{inst.quantity_decimals}f}",
        )
        if order.time_in_force is not None:
            self.form.time_in_force = order.time_in_force
        #: The replacement's id: one per intent, kept across a resend after a timeout.
        self.new_client_order_id = new_client_order_id()
        self._sending = False

    def compose(self) -> ComposeResult:
        """Price and quantity, with the reason beside each."""
        o = self.order
        with Vertical():
            yield Static(f"Amend {o.side} {o.symbol} {o.type} ({o.client_order_id})")
            for name, label, value in (
                ("price", "Price", self.form.price),
                ("quantity", "Quantity", self.form.quantity),
            ):
                with Horizontal(classes="field"):
                    yield Label(label)
                    yield Input(value, id=name)
                    yield Static("", classes="reason", id=f"reason-{name}")
            yield Static(id="problem")
            yield Static("↑↓ tick/step · Enter send (cancel-replace) · Esc close", id="keys")

    def on_mount(self) -> None:
        """Start on the price."""
        self.query_one("#price", Input).focus()
        self._check()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if event.input.id in ("price", "quantity"):
            setattr(self.form, event.input.id, event.value)
        self._check()

    def _check(self) -> bool:
        check = self.form.check(self.state.symbols[self.order.symbol].top)
        for name in ("price", "quantity"):
            self.query_one(f"#reason-{name}", Static).update(check.errors.get(name, ""))
        return check.request is not None

    def action_nudge(self, steps: int) -> None:
        """A tick or a step up or down in the focused field."""
        focused = self.focused
        if isinstance(focused, Input) and focused.id in ("price", "quantity"):
            self.form.nudge(focused.id, steps)
            focused.value = getattr(self.form, focused.id)

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
        if not self._check():
            self.app.bell()
            return
        price = Decimal(self.form.price) if self.form.price else None
        qty = Decimal(self.form.quantity)
        self._sending = True  # now, not when the worker starts: a second Enter finds it set
        self._send(
            ReplaceOrder(
                symbol=self.order.symbol,
                client_order_id=self.order.client_order_id,
                price=price if price != self.order.price else None,
                quantity=qty if qty != self.order.remaining_qty else None,
                new_client_order_id=self.new_client_order_id,
            )
        )

    @work(exclusive=True, group="amend", exit_on_error=False)
    async def _send(self, command: ReplaceOrder) -> None:
        names = self.state.instruments
        problem = self.query_one("#problem", Static)
        problem.update(f"sending the amend of {order_name(self.order, names)}…")
        try:
            placed: Order = await self.bus.request(command, timeout=self.timeout_s)
        except TimeoutError:
            problem.update(
                f"no answer within {self.timeout_s:.0f} s: the amend may have happened; watch "
                f"the blotter (new client id {command.new_client_order_id}). Enter sends the "
                "same amend again, which cannot place a second replacement"
            )
            return
        except Exception as exc:
            self.new_client_order_id = new_client_order_id()  # refused: a new intent next
            problem.update(f"REJECTED: {refusal_text(exc)}")
            return
        finally:
            self._sending = False
        self.app.notify(f"amended ({placed.status}): {order_name(placed, names)}", title="Order")
        self.dismiss(None)
