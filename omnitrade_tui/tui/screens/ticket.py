"""The order ticket: a modal that builds one order by keyboard and sends it on the bus.

Every keystroke revalidates the whole ticket against the instrument's filters
(``ticket_form.TicketForm.check``); each field's reason is shown beside it and nothing can be
sent while one remains. Up and down nudge a price by the tick and a quantity by the step.
A rejection by the venue or by a risk limit is shown in the ticket, which stays open for
editing; an acceptance closes it and the app shows a notification.

One ticket is one intent: its client order id (and an OCO's list and leg ids) is fixed when
it opens, so a second Enter after a timeout resends the same ids and the venue refuses a
duplicate rather than placing the order twice. After Enter the ticket takes no keys (the
kill switch, a priority binding of the app, still works) until the answer arrives; an order
the engine holds for the rate limit shows "held: rate limit, N s" while it waits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Label, Static

from omnitrade_tui.bus import Bus
from omnitrade_tui.config import SizePresets
from omnitrade_tui.domain.commands import PlaceOco, PlaceOrder
from omnitrade_tui.domain.decimals import fmt
from omnitrade_tui.domain.enums import OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.domain.models import Order, OrderRequest
from omnitrade_tui.domain.venue import symbol_of, unqualified, venue_of
from omnitrade_tui.tui.cursor import steady_cursors
from omnitrade_tui.tui.refusal import refusal_text
from omnitrade_tui.tui.screens.kept import KeptScreen
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.ticket_account import Account
from omnitrade_tui.tui.ticket_form import TICKET_TYPES, TicketCheck, TicketForm
from omnitrade_tui.tui.widgets.choice import Choice

SIZES = ("-", "10%", "25%", "50%", "75%", "100%")


def venues_of_pair(state: TerminalState, symbol: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """The ids of ``symbol``'s pair on every venue the screen knows (of ``allowed`` only,
    when given: a gateway user kept to some venues), in watchlist order."""
    pair = symbol_of(symbol)
    ids = [
        i
        for i in state.watchlist
        if symbol_of(i) == pair
        and i in state.instruments
        and (not allowed or venue_of(i) in allowed)
    ]
    if symbol in ids or (allowed and venue_of(symbol) not in allowed):
        return ids
    return [symbol, *ids]  # an id the watchlist does not hold (the venues view's)


def venue_price(state: TerminalState, symbol: str, side: Side) -> float | None:
    """What ``side`` would pay or get at the top of ``symbol``'s live book (its ask to
    buy, its bid to sell); ``None`` when the book is not live or that side is empty."""
    view = state.symbols.get(symbol)
    top = view.top if view is not None else None
    if top is None or view is None or view.book_state is not BookState.LIVE:
        return None
    levels = top.asks if side is Side.BUY else top.bids
    return levels[0].price if levels else None


def best_venue(state: TerminalState, ids: list[str], side: Side) -> str | None:
    """The id whose live book gives ``side`` the best price (the lowest ask to buy, the
    highest bid to sell); ``None`` when no book is live."""
    priced = [(p, i) for i in ids if (p := venue_price(state, i, side)) is not None]
    if not priced:
        return None
    pick = min if side is Side.BUY else max
    return pick(priced, key=lambda pair: pair[0])[1]


@dataclass(frozen=True)
class TicketResult:
    """What became of a sent ticket: the order (both legs of an OCO) as the venue answered."""

    orders: list[Order]


class OrderTicket(KeptScreen[TicketResult | None]):
    """Build, check and send one order."""

    DEFAULT_CSS = """
    OrderTicket {
        align: center middle;
    }
    OrderTicket > #ticket {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    OrderTicket.-sell > #ticket { border: thick $ask; }
    OrderTicket.-buy > #ticket { border: thick $bid; }
    OrderTicket #title { text-style: bold; }
    OrderTicket #balances { color: $text-muted; }
    OrderTicket .field { height: auto; }
    OrderTicket .field > Label { width: 10; }
    OrderTicket .field > Input {
        width: 22; height: 1; border: none; padding: 0 1; background: $boost;
        &:focus { background: $accent 35%; }
    }
    OrderTicket .field > .reason { width: 1fr; color: $error; padding: 0 0 0 1; }
    OrderTicket .field.-off { display: none; }
    OrderTicket #preview { color: $text; padding: 1 0 0 0; }
    OrderTicket #problem { color: $error; text-style: bold; }
    OrderTicket #confirm { color: $warning; text-style: bold; }
    OrderTicket #keys { color: $text-muted; }
    """

    #: How long to wait for the engine's answer to a sent order.
    timeout_s = 20.0

    BINDINGS = [
        Binding("escape", "close", "Cancel", show=True),
        Binding("enter", "submit", "Send", show=True),
        Binding("up", "nudge(1)", "Tick up", show=False, priority=True),
        Binding("down", "nudge(-1)", "Tick down", show=False, priority=True),
        Binding("ctrl+s", "toggle_side", "Buy/Sell", show=False),
        # Digits pick a quick size where no field takes text (the quick-size row has the
        # keys when the ticket opens priced); alt+digit picks one from a field too.
        *(Binding(str(n), f"quick_size({n})", f"Quick size {n}", show=False) for n in range(1, 10)),
        *(
            Binding(f"alt+{n}", f"quick_size({n})", f"Quick size {n}", show=False, priority=True)
            for n in range(1, 10)
        ),
    ]

    def __init__(
        self,
        bus: Bus,
        state: TerminalState,
        symbol: str,
        side: Side,
        price: Decimal | None = None,
        order_type: OrderType = OrderType.LIMIT,
        confirm: bool = False,
        fee_rate: Decimal = Decimal("0.001"),
        sizes: SizePresets | None = None,
        first_venue: str = "",
        allowed_venues: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.bus = bus
        self.state = state
        self.instrument = state.instruments[symbol]
        #: The pair's ids on every venue the run trades it on (one: no venue choice shown).
        self.venue_ids = venues_of_pair(state, symbol, allowed_venues)
        self.venue_labels = [venue_of(i) or first_venue or "first" for i in self.venue_ids]
        self.sizes = sizes
        #: The symbol's quick sizes from the config (``[ui.sizes.<SYMBOL>]``), keys 1..9.
        self.presets: list[Decimal] = list(sizes.presets) if sizes is not None else []
        self.confirm = confirm
        self.fee_rate = fee_rate
        self._follow_timer: Timer | None = None
        self._begin(side, price, order_type)

    def _begin(self, side: Side, price: Decimal | None, order_type: OrderType) -> None:
        """A new intent: a fresh form (new client ids), nothing typed, tried or pending."""
        inst = self.instrument
        sizes = self.sizes
        self.form = TicketForm(inst, side=side, type=order_type)
        if sizes is not None and sizes.default is not None:
            self.form.quantity = fmt(sizes.default)
        if price is not None:
            self.form.price = f"{price:.{inst.price_decimals}f}"
        elif order_type.has_price:
            best = self._best(side)
            if best is not None:
                self.form.price = f"{best:.{inst.price_decimals}f}"
        self.check: TicketCheck | None = None
        self._armed: OrderRequest | None = None
        self._sending = False
        #: The field that had the keyboard when Enter was pressed: it gets it back after a
        #: refusal or a timeout.
        self._focus_before_send: str | None = None
        #: The client ids of the order on its way (both legs and the list of an OCO).
        self._pending: tuple[str, ...] | None = None
        #: What the last answer (a timeout, a refusal) or sizing said; kept on screen while
        #: the market re-checks the ticket, until the trader types again.
        self._notice = ""
        self._market_seen: tuple[object, ...] = ()
        # Reasons show for fields the trader has typed in, and for all after a first Enter:
        # a fresh ticket should not open covered in red.
        self._touched: set[str] = {"price"} if self.form.price else set()
        self._tried = False

    def _best(self, side: Side) -> float | None:
        top = self.state.symbols[self.instrument.symbol].top
        if top is None:
            return None
        levels = top.bids if side is Side.BUY else top.asks
        return levels[0].price if levels else None

    def compose(self) -> ComposeResult:
        """The ticket's fields, top to bottom in the order Tab visits them."""
        form = self.form
        with Vertical(id="ticket"):
            yield Static(id="title")
            yield Static(id="balances")
            if len(self.venue_ids) > 1:
                here = self.venue_labels[self.venue_ids.index(self.instrument.symbol)]
                yield Choice("Venue", self.venue_labels, here, id="venue")
                yield Static(id="venues")
            yield Choice("Side", [s.value for s in Side], form.side.value, id="side")
            kinds = [t.value for t in TICKET_TYPES] + ["OCO"]
            yield Choice("Type", kinds, "OCO" if form.oco else form.type.value, id="type")
            for name, label, value in (
                ("price", "Price", form.price),
                ("stop_price", "Stop price", form.stop_price),
                ("stop_limit_price", "Stop limit", form.stop_limit_price),
                ("quantity", "Quantity", form.quantity),
                ("quote_order_qty", "Quote amt", form.quote_amount),
            ):
                with Horizontal(classes="field", id=f"field-{name}"):
                    yield Label(label)
                    yield Input(value, id=name, placeholder=self._placeholder(name))
                    yield Static("", classes="reason", id=f"reason-{name}")
            if self.presets:
                quick = [f"{n}: {fmt(q)}" for n, q in enumerate(self.presets, 1)]
                yield Choice("Quick", ["-", *quick], "-", id="quick")
            yield Choice("Size", list(SIZES), "-", id="size")
            yield Choice("Qty in", ["BASE", "QUOTE"], "BASE", id="qty-in")
            yield Choice("TIF", [t.value for t in TimeInForce], form.time_in_force.value, id="tif")
            yield Static(id="preview")
            yield Static(id="problem")
            yield Static(id="confirm")
            quick_keys = " · 1-9 quick size" if self.presets else ""
            yield Static(
                f"Tab next · ↑↓ tick/step · ←→ choose{quick_keys} · ^s side · "
                "Enter send · Esc close",
                id="keys",
            )

    def _placeholder(self, name: str) -> str:
        inst = self.instrument
        if name in ("price", "stop_price", "stop_limit_price"):
            return f"tick {fmt(inst.tick_size)}"
        if name == "quantity":
            return f"step {fmt(inst.step_size)} {inst.base_asset}"
        return f"amount in {inst.quote_asset}"

    def on_mount(self) -> None:
        """Show the ticket as it starts, with the cursor on the first field to type."""
        steady_cursors(self, self.app)
        self._held_timer = self.set_interval(0.5, self._show_held, pause=True)
        self._follow_timer = self.set_interval(0.25, self._follow_market)
        self._sync()
        self._focus_first()

    def reopen(self, side: Side, price: Decimal | None, order_type: OrderType) -> None:
        """Make this (closed) ticket a new one, as if built with these arguments: the app
        keeps one ticket and reopens it, because building its thirty widgets took most of
        the time from the key to the ticket on screen."""
        self._begin(side, price, order_type)
        form = self.form
        values = {
            "price": form.price,
            "stop_price": form.stop_price,
            "stop_limit_price": form.stop_limit_price,
            "quantity": form.quantity,
            "quote_order_qty": form.quote_amount,
        }
        with self.prevent(Input.Changed):  # the trader typed nothing yet
            for name, value in values.items():
                field = self.query_one(f"#{name}", Input)
                field.value = value
                field.cursor_position = len(value)
                field.scroll_to(x=0, animate=False)
        choices = {
            "side": form.side.value,
            "type": "OCO" if form.oco else form.type.value,
            "size": "-",
            "qty-in": "BASE",
            "tif": form.time_in_force.value,
        }
        if self.presets:
            choices["quick"] = "-"
        for cid, value in choices.items():
            self.query_one(f"#{cid}", Choice).select(value)
        self._sync()
        # A field focused when the ticket last closed gets no new focus event, which is what
        # selects its text: leave it first.
        self.set_focus(None)
        self._focus_first()

    def _focus_first(self) -> None:
        first = "#price" if self.form.uses_price and not self.form.price else "#quantity"
        if self.presets and first == "#quantity":
            # Priced already (from the ladder or the best): a digit picks the size and Enter
            # sends; shift+Tab reaches the quantity to type one.
            first = "#quick"
        self.query_one(first).focus()

    def on_screen_suspend(self) -> None:
        """Closed (the app keeps it for the next order): stop following the market."""
        if self._follow_timer is not None:
            self._follow_timer.pause()

    def on_screen_resume(self) -> None:
        """Open again: follow the market."""
        if self._follow_timer is not None:
            self._follow_timer.resume()

    # -- keeping the form in step --------------------------------------------------------

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        name = event.input.id or ""
        self._touched.add(name)
        if name == "quote_order_qty":
            self.form.quote_amount = event.value
        elif name in ("price", "stop_price", "stop_limit_price", "quantity"):
            setattr(self.form, name, event.value)
        self._armed = None
        self._notice = ""
        self._sync()

    @on(Choice.Changed)
    def _chosen(self, event: Choice.Changed) -> None:
        form = self.form
        cid = event.choice.id
        if cid == "side":
            form.side = Side(event.value)
        elif cid == "type":
            form.oco = event.value == "OCO"
            form.type = OrderType.LIMIT_MAKER if form.oco else OrderType(event.value)
            if form.type is not OrderType.MARKET:
                form.by_quote = False
                self.query_one("#qty-in", Choice).select("BASE")
            if form.uses_price and not form.price:
                best = self._best(form.side)
                if best is not None:
                    form.price = f"{best:.{self.instrument.price_decimals}f}"
                    self.query_one("#price", Input).value = form.price
        elif cid == "tif":
            form.time_in_force = TimeInForce(event.value)
        elif cid == "qty-in":
            form.by_quote = event.value == "QUOTE" and form.type is OrderType.MARKET
        elif cid == "quick" and event.value != "-":
            self._quick_size(event.choice.index)
        elif cid == "venue":
            self._switch_venue(self.venue_ids[event.choice.index])
        elif cid == "size" and event.value != "-":
            self._size_from_balance(Decimal(event.value.rstrip("%")) / 100)
        self._armed = None
        self._sync()

    def action_quick_size(self, n: int) -> None:
        """Keys 1..9: the symbol's ``n``-th quick size from the config."""
        if self._sending:
            return
        if self._quick_size(n) and self.presets:
            self.query_one("#quick", Choice).select(f"{n}: {fmt(self.presets[n - 1])}")
        self._armed = None
        self._sync()

    def _quick_size(self, n: int) -> bool:
        problem = self.form.quick_size(n, self.presets)
        if problem:
            self._notice = problem
            self.query_one("#problem", Static).update(problem)
            return False
        self.query_one("#quantity", Input).value = self.form.quantity
        return True

    def _size_from_balance(self, share: Decimal) -> None:
        inst = self.instrument
        top = self.state.symbols[inst.symbol].top
        reference = None
        if top is not None and top.asks and top.bids:
            best = top.asks[0].price if self.form.side is Side.BUY else top.bids[0].price
            reference = Decimal(repr(best))
        problem = self.form.size_from_balance(
            share, self.state.free(inst.base_asset), self.state.free(inst.quote_asset), reference
        )
        if problem:
            self._notice = problem
            self.query_one("#problem", Static).update(problem)
        else:
            self.query_one("#quantity", Input).value = self.form.quantity

    def action_nudge(self, steps: int) -> None:
        """Up/down: a tick or a step in a number field; elsewhere, the previous/next field."""
        if self._sending:
            return
        focused = self.focused
        nudged = ("price", "stop_price", "stop_limit_price", "quantity")
        if isinstance(focused, Input) and focused.id in nudged:
            self.form.nudge(focused.id, steps)
            focused.value = getattr(self.form, focused.id)
            focused.cursor_position = len(focused.value)
        elif steps > 0:
            self.focus_previous()
        else:
            self.focus_next()

    def action_toggle_side(self) -> None:
        """Flip BUY and SELL."""
        if self._sending:
            return
        self.form.toggle_side()
        self.query_one("#side", Choice).select(self.form.side.value)
        self._armed = None
        self._sync()

    def _account(self) -> Account:
        """The balances, holding, last price and limits the ticket checks against."""
        inst = self.instrument
        balances = self.state.balances
        base = balances.get(inst.base_asset)
        quote = balances.get(inst.quote_asset)
        last = self.state.symbols[inst.symbol].last
        return Account(
            free_base=base.free if base is not None else None,
            free_quote=quote.free if quote is not None else None,
            position=base.total if base is not None else Decimal(0),
            last=Decimal(repr(last)) if last is not None else None,
            limits=self.state.limits_for(self.instrument.symbol),
            open_orders=self.state.open_orders_on_venue_of(inst.symbol),
        )

    def _market_now(self) -> tuple[object, ...]:
        """What the checks read besides the fields: when it changes, check again."""
        inst = self.instrument
        view = self.state.symbols[inst.symbol]
        balances = self.state.balances
        return (
            view.top,
            view.last,
            balances.get(inst.base_asset),
            balances.get(inst.quote_asset),
            self.state.limits_for(self.instrument.symbol),
            len(self.state.orders),
        )

    def _follow_market(self) -> None:
        """A few times a second: the preview (a MARKET order's expected price, the risk
        band, the balance after) follows the book and the account, not only the keys."""
        if self._sending:
            return
        now = self._market_now()
        if any(a is not b for a, b in zip(now, self._market_seen, strict=True)):
            self._sync()

    def _venues_line(self) -> str:
        """Each venue's price for this side and what the order would spend there: the
        quote asset free to buy with, the base asset free to sell."""
        numbers = self.state.numbers
        buy = self.form.side is Side.BUY
        parts = []
        best = best_venue(self.state, self.venue_ids, self.form.side)
        for symbol, label in zip(self.venue_ids, self.venue_labels, strict=True):
            inst = self.state.instruments[symbol]
            price = venue_price(self.state, symbol, self.form.side)
            spend = inst.quote_asset if buy else inst.base_asset
            free = numbers.money(spend, self.state.free(spend))
            mark = " ◀ best" if symbol == best else ""
            parts.append(
                f"{label} {'ask' if buy else 'bid'} {numbers.price(symbol, price)} "
                f"free {free} {unqualified(spend)}{mark}"
            )
        notice = self.state.venue_notice(self.instrument.symbol)
        return " · ".join(parts) + (f"\n⚠ {notice}" if notice else "")

    def _switch_venue(self, symbol: str) -> None:
        """Send this ticket to the same pair on another venue: its filters, balances and
        limits from now on, what was typed kept; a new intent (nothing was sent)."""
        if self._sending or symbol == self.instrument.symbol:
            return
        self.instrument = self.state.instruments[symbol]
        self.form = replace(self.form, instrument=self.instrument)
        self.form.renew_ids()
        for name in ("price", "stop_price", "stop_limit_price", "quantity", "quote_order_qty"):
            self.query_one(f"#{name}", Input).placeholder = self._placeholder(name)
        self._armed = None
        self._notice = ""

    def _sync(self) -> None:
        self._market_seen = self._market_now()
        form = self.form
        inst = self.instrument
        self.set_class(form.side is Side.BUY, "-buy")
        self.set_class(form.side is Side.SELL, "-sell")
        title = f"{form.side} {inst.symbol}  {'OCO' if form.oco else form.type}"
        if self.confirm:
            title += "   (confirmation on)"
        self.query_one("#title", Static).update(title)
        money = self.state.numbers.money
        self.query_one("#balances", Static).update(
            f"free {money(inst.quote_asset, self.state.free(inst.quote_asset))} "
            f"{inst.quote_asset} · "
            f"{money(inst.base_asset, self.state.free(inst.base_asset))} {inst.base_asset} · "
            f"tick {fmt(inst.tick_size)} · step {fmt(inst.step_size)}"
        )
        if len(self.venue_ids) > 1:
            self.query_one("#venues", Static).update(self._venues_line())
        shown = {
            "price": form.uses_price,
            "stop_price": form.uses_stop,
            "stop_limit_price": form.oco,
            "quantity": not form.by_quote,
            "quote_order_qty": form.by_quote,
        }
        for name, visible in shown.items():
            self.query_one(f"#field-{name}").set_class(not visible, "-off")
        self.query_one("#tif").display = form.uses_time_in_force
        self.query_one("#qty-in").display = form.type is OrderType.MARKET
        view = self.state.symbols[inst.symbol]
        book = view.top
        open_count = len(self.state.open_orders(inst.symbol))
        check = form.check(book, self.fee_rate, open_count, self._account())
        venue = self.state.venues.get(venue_of(inst.symbol))
        if form.oco and venue is not None and not venue.oco:
            # Said before Enter, where the venue would only refuse it after.
            where = f"@{venue.name}" if venue.name else "this venue"
            check = replace(
                check,
                request=None,
                oco=None,
                errors={**check.errors, "type": f"no OCO lists on {where} (via {venue.venue})"},
            )
        self.check = check
        for name in shown:
            visible = shown[name] and (self._tried or name in self._touched)
            reason = check.errors.get(name, "") if visible else ""
            self.query_one(f"#reason-{name}", Static).update(reason)
        others = [
            f"{field}: {msg}"
            for field, msg in check.errors.items()
            if (field not in shown or not shown[field]) and (self._tried or self._touched)
        ]
        if self._notice:
            others.append(self._notice)
        self.query_one("#problem", Static).update("\n".join(others))
        self.query_one("#preview", Static).update("\n".join(check.preview.lines))
        confirm = self.query_one("#confirm", Static)
        if self._armed is not None:
            confirm.update(f"Press Enter again to SEND {_summary(self._armed)} · Esc to edit")
        elif self.state.locked:
            confirm.update("Trading is LOCKED by the kill switch (ctrl+u to unlock)")
        else:
            confirm.update("")

    # -- sending -------------------------------------------------------------------------

    @on(Input.Submitted)
    def _enter_in_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        """Send the order (after a second Enter when confirmation is on)."""
        if self._sending:
            return
        self._tried = True
        self._sync()
        check = self.check
        if check is None or check.request is None:
            if check is not None and not check.errors:
                self.query_one("#problem", Static).update("fill in the quantity")
            self.app.bell()
            return
        if self.confirm and self._armed is None:
            self._armed = check.request
            self._sync()
            return
        request = self._armed or check.request
        self._armed = None
        self._lock(True)  # now, not when the worker starts: a second Enter finds it locked
        self._send(request, check.oco)

    def action_close(self) -> None:
        """Esc: leave the confirmation step, or close the ticket (not while an answer is
        awaited: closing would hide what became of the order)."""
        if self._sending:
            self.app.bell()
            return
        if self._armed is not None:
            self._armed = None
            self._sync()
            return
        self.dismiss(None)

    def _lock(self, sending: bool) -> None:
        """While an order is on its way, no field takes a key (the app's kill switch, a
        priority binding, still does); afterwards the keyboard goes back where it was."""
        if sending:
            focused = self.focused
            self._focus_before_send = focused.id if focused is not None else None
        self._sending = sending
        self.query_one("#ticket").disabled = sending
        if sending:
            self._held_timer.resume()
        else:
            self._held_timer.pause()
            if self._focus_before_send:
                self.query_one(f"#{self._focus_before_send}").focus()

    def _show_held(self) -> None:
        """'held: rate limit, N s' while the engine holds this ticket's order."""
        if not self._sending or self._pending is None:
            return
        held = self.state.held_for(self._pending)
        if held is not None:
            reason, left = held
            self.query_one("#confirm", Static).update(f"held: {reason}, {left:.0f} s")

    @work(exclusive=True, group="ticket-send")
    async def _send(
        self, request: OrderRequest, oco: tuple[OrderRequest, OrderRequest] | None
    ) -> None:
        form = self.form
        what = f"OCO {_summary(request)}" if oco else _summary(request)
        self.query_one("#confirm", Static).update(f"sending {what}…")
        self._notice = ""
        self.query_one("#problem", Static).update("")
        command: PlaceOrder | PlaceOco = (
            PlaceOco(above=oco[0], below=oco[1], list_client_order_id=form.list_client_order_id)
            if oco
            else PlaceOrder(request=request)
        )
        ids = [request.client_order_id]
        if oco:
            ids = [oco[0].client_order_id, oco[1].client_order_id, form.list_client_order_id]
        self._pending = tuple(ids)
        try:
            answer: Any = await self.bus.request(command, timeout=self.timeout_s)
        except TimeoutError:
            self._notice = (
                f"no answer within {self.timeout_s:.0f} s: the order may exist; watch the "
                f"blotter (client id {request.client_order_id}). Enter sends it again with "
                "the same id, which the venue cannot place twice"
            )
            self.query_one("#problem", Static).update(self._notice)
            self.query_one("#confirm", Static).update("")
            return
        except Exception as exc:  # the venue's or risk's refusal: keep the ticket to edit
            # Refused: nothing holds these ids, and what is sent next is a new intent.
            form.renew_ids()
            self._notice = f"REJECTED: {refusal_text(exc)}"
            self.query_one("#problem", Static).update(self._notice)
            self.query_one("#confirm", Static).update("")
            self.app.bell()
            return
        finally:
            self._pending = None
            self._lock(False)
        self.dismiss(TicketResult(orders=list(answer) if oco else [answer]))


def _summary(r: OrderRequest) -> str:
    qty = f"{r.quantity}" if r.quantity is not None else f"{r.quote_order_qty} quote"
    price = f" @ {r.price}" if r.price is not None else ""
    stop = f" stop {r.stop_price}" if r.stop_price is not None else ""
    return f"{r.side} {qty} {r.symbol} {r.type}{price}{stop}"
