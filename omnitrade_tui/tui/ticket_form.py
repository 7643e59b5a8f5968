"""The order ticket's logic, free of Textual: parse what was typed, validate it against the
instrument's filters field by field, nudge by tick and step, size from the balance, and
preview notional, fee and (for market orders) the expected price from the local book.

The screen (``screens/ticket.py``) only shows what this module decides, so every rule here
is tested without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from omnitrade_tui.domain.book import OrderBook
from omnitrade_tui.domain.decimals import (
    DecimalFormatError,
    fmt,
    parse_decimal,
    round_price,
    round_quantity,
)
from omnitrade_tui.domain.enums import OrderType, Rounding, Side, TimeInForce
from omnitrade_tui.domain.events import BookTop
from omnitrade_tui.domain.filters import ValidationContext, validate_order
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import OrderRequest, new_client_order_id
from omnitrade_tui.tui.ticket_account import Account, account_checks

#: Order types the ticket offers, in the order a trader reaches for them.
TICKET_TYPES: tuple[OrderType, ...] = (
    OrderType.LIMIT,
    OrderType.MARKET,
    OrderType.LIMIT_MAKER,
    OrderType.STOP_LOSS_LIMIT,
    OrderType.TAKE_PROFIT_LIMIT,
)

#: Fields of the ticket, as named in ``FilterViolation.field``.
FIELDS = ("price", "stop_price", "quantity", "quote_order_qty", "time_in_force", "type")


@dataclass
class TicketForm:
    """What the trader has typed so far (text, as typed) and the choices made."""

    instrument: Instrument
    side: Side = Side.BUY
    type: OrderType = OrderType.LIMIT
    price: str = ""
    stop_price: str = ""
    quantity: str = ""
    quote_amount: str = ""
    time_in_force: TimeInForce = TimeInForce.GTC
    by_quote: bool = False
    #: The ids of this intent, fixed when the form is made (the ticket opens) and kept
    #: across every check and every resend after a timeout: the venue then refuses a second
    #: order with the same id instead of placing the order twice. ``renew_ids`` makes new
    #: ones once an answer said the order was not placed (a new intent may follow).
    client_order_id: str = field(default_factory=new_client_order_id)
    stop_leg_client_order_id: str = field(default_factory=new_client_order_id)
    list_client_order_id: str = field(default_factory=new_client_order_id)
    #: An OCO pair: ``type`` is then the LIMIT_MAKER leg at ``price``; the other leg is a
    #: STOP_LOSS_LIMIT at ``stop_price`` with the limit ``stop_limit_price``.
    oco: bool = False
    stop_limit_price: str = ""

    def renew_ids(self) -> None:
        """New ids, for a new intent: the last one was refused, so nothing holds these."""
        self.client_order_id = new_client_order_id()
        self.stop_leg_client_order_id = new_client_order_id()
        self.list_client_order_id = new_client_order_id()

    # -- choices ---------------------------------------------------------------------------

    def cycle_type(self, step: int = 1) -> None:
        """Next (or previous) order type."""
        i = TICKET_TYPES.index(self.type) if self.type in TICKET_TYPES else 0
        self.type = TICKET_TYPES[(i + step) % len(TICKET_TYPES)]
        if self.type is not OrderType.MARKET:
            self.by_quote = False

    def cycle_time_in_force(self) -> None:
        """GTC -> IOC -> FOK -> GTC."""
        order = list(TimeInForce)
        self.time_in_force = order[(order.index(self.time_in_force) + 1) % len(order)]

    def toggle_side(self) -> None:
        """BUY <-> SELL."""
        self.side = Side.SELL if self.side is Side.BUY else Side.BUY

    @property
    def uses_price(self) -> bool:
        """Whether the current type takes a limit price."""
        return self.oco or self.type.has_price

    @property
    def uses_stop(self) -> bool:
        """Whether the current type takes a stop price."""
        return self.oco or self.type.has_stop

    @property
    def uses_time_in_force(self) -> bool:
        """Whether the current type takes a time in force (an OCO's legs are GTC)."""
        return not self.oco and self.type.needs_time_in_force

    # -- nudges and sizing -----------------------------------------------------------------

    def nudge(self, name: str, steps: int) -> None:
        """Move a price by ticks or the quantity by steps; an unparsable field is left alone."""
        inst = self.instrument
        if name in ("price", "stop_price", "stop_limit_price"):
            increment, places = inst.tick_size, inst.price_decimals
        elif name == "quantity":
            increment, places = inst.step_size, inst.quantity_decimals
        else:
            return
        text = getattr(self, name)
        try:
            value = parse_decimal(text) if text.strip() else Decimal(0)
        except DecimalFormatError:
            return
        if increment > 0:
            value = round_to(value, increment) + increment * steps
        value = max(value, increment if increment > 0 else Decimal(0))
        setattr(self, name, f"{value:.{places}f}")

    def quick_size(self, n: int, presets: list[Decimal]) -> str | None:
        """Set the quantity to preset ``n`` (1-based) of ``presets``; the reason if none."""
        if not presets:
            sym = self.instrument.symbol
            return f"no quick sizes for {sym}: [ui.sizes.{sym}] presets in the config"
        if not 1 <= n <= len(presets):
            return f"quick sizes are 1..{len(presets)}"
        self.by_quote = False
        self.quantity = fmt(presets[n - 1])
        return None

    def size_from_balance(
        self, share: Decimal, free_base: Decimal, free_quote: Decimal, reference: Decimal | None
    ) -> str | None:
        """Set the quantity to ``share`` (0..1) of the free balance; the reason if it cannot.

        A buy spends the quote asset at the limit price (or ``reference`` for a market
        order, with the fee kept aside); a sell sells the base asset.
        """
        inst = self.instrument
        if self.side is Side.SELL:
            qty = free_base * share
        else:
            price = self._decimal(self.price) if self.uses_price else reference
            if price is None or price <= 0:
                return "enter a price first: a buy is sized from the quote balance at that price"
            qty = free_quote * share / price
            if not self.uses_price:
                qty = qty * Decimal("0.995")  # room for slippage and the fee of a market buy
        qty = round_quantity(qty, inst.step_size) if inst.step_size > 0 else qty
        if qty <= 0:
            asset = inst.base_asset if self.side is Side.SELL else inst.quote_asset
            return f"no free {asset} to size from"
        self.by_quote = False
        self.quantity = f"{qty:.{inst.quantity_decimals}f}"
        return None

    # -- validation ------------------------------------------------------------------------

    @staticmethod
    def _decimal(text: str) -> Decimal | None:
        try:
            return parse_decimal(text) if text.strip() else None
        except DecimalFormatError:
            return None

    def check(
        self,
        book: BookTop | None = None,
        fee_rate: Decimal = Decimal("0.001"),
        open_orders: int | None = None,
        account: Account | None = None,
    ) -> TicketCheck:
        """Validate every field and build the request and the preview; with ``account``,
        also what Enter would meet beyond the filters (balance, risk limits, a stop that
        would trigger at once)."""
        if self.oco:
            return self._with_account(self._check_oco(book, fee_rate, open_orders), account, book)
        wanted = [("quantity", self.quantity)]
        if self.by_quote:
            wanted = [("quote_order_qty", self.quote_amount)]
        if self.uses_price:
            wanted.append(("price", self.price))
        if self.uses_stop:
            wanted.append(("stop_price", self.stop_price))
        values, errors = _parse_fields(wanted)
        request = OrderRequest(
            client_order_id=self.client_order_id,
            symbol=self.instrument.symbol,
            side=self.side,
            type=self.type,
            quantity=values.get("quantity"),
            quote_order_qty=values.get("quote_order_qty"),
            price=values.get("price"),
            stop_price=values.get("stop_price"),
            time_in_force=self.time_in_force if self.uses_time_in_force else None,
        )
        mid = _mid(book)
        context = ValidationContext(avg_price=mid, open_orders=open_orders)
        for violation in validate_order(self.instrument, request, context):
            name = violation.field
            if name in ("quantity", "quote_order_qty"):
                name = "quote_order_qty" if self.by_quote else "quantity"
            errors.setdefault(name, f"{violation.filter}: {violation.message}")
        if self.type is OrderType.LIMIT_MAKER and book is not None and request.price is not None:
            crossing = _crosses(self.side, request.price, book)
            if crossing:
                errors.setdefault("price", crossing)
        preview = _preview(self, request, book, fee_rate)
        check = TicketCheck(request=None if errors else request, errors=errors, preview=preview)
        return self._with_account(check, account, book, request)

    def _with_account(
        self,
        check: TicketCheck,
        account: Account | None,
        book: BookTop | None,
        request: OrderRequest | None = None,
    ) -> TicketCheck:
        """``check`` with the account's findings added (only where the filters found
        nothing wrong in the figures they use)."""
        request = request or check.request
        if account is None or request is None:
            return check
        preview = check.preview
        found = account_checks(
            self.instrument,
            request,
            account,
            notional=preview.notional,
            fee=preview.fee,
            mid=_mid(book),
            by_quote=self.by_quote,
            legs=check.oco or (),
        )
        errors = dict(check.errors)
        for name, reason in found.errors.items():
            errors.setdefault(name, reason)
        ok = not errors
        return TicketCheck(
            request=request if ok else None,
            errors=errors,
            preview=Preview(
                notional=preview.notional,
                fee=preview.fee,
                avg_price=preview.avg_price,
                slippage_bps=preview.slippage_bps,
                fillable=preview.fillable,
                lines=[*preview.lines, *found.lines],
            ),
            oco=check.oco if ok else None,
        )

    def _check_oco(
        self, book: BookTop | None, fee_rate: Decimal, open_orders: int | None
    ) -> TicketCheck:
        """Both legs checked against the filters, and against the market between them."""
        values, errors = _parse_fields(
            [
                ("quantity", self.quantity),
                ("price", self.price),
                ("stop_price", self.stop_price),
                ("stop_limit_price", self.stop_limit_price),
            ]
        )
        limit_leg = OrderRequest(
            client_order_id=self.client_order_id,
            symbol=self.instrument.symbol,
            side=self.side,
            type=OrderType.LIMIT_MAKER,
            quantity=values["quantity"],
            price=values["price"],
        )
        stop_leg = OrderRequest(
            client_order_id=self.stop_leg_client_order_id,
            symbol=self.instrument.symbol,
            side=self.side,
            type=OrderType.STOP_LOSS_LIMIT,
            quantity=values["quantity"],
            price=values["stop_limit_price"],
            stop_price=values["stop_price"],
            time_in_force=TimeInForce.GTC,
        )
        mid = _mid(book)
        context = ValidationContext(avg_price=mid, open_orders=open_orders)
        for leg, renames in (
            (limit_leg, {}),
            (stop_leg, {"price": "stop_limit_price"}),
        ):
            for violation in validate_order(self.instrument, leg, context):
                name = renames.get(violation.field, violation.field)
                errors.setdefault(name, f"{violation.filter}: {violation.message}")
        take, stop = values["price"], values["stop_price"]
        if mid is not None and take is not None and stop is not None:
            # A SELL takes profit above the market and stops below it; a BUY the reverse.
            if self.side is Side.SELL and not take > mid > stop:
                errors.setdefault(
                    "price",
                    f"a SELL OCO needs the limit price above the market ({fmt(mid)}) and "
                    "the stop price below it",
                )
            if self.side is Side.BUY and not stop > mid > take:
                errors.setdefault(
                    "price",
                    f"a BUY OCO needs the limit price below the market ({fmt(mid)}) and "
                    "the stop price above it",
                )
        above, below = (limit_leg, stop_leg) if self.side is Side.SELL else (stop_leg, limit_leg)
        lines = []
        if limit_leg.notional is not None and stop_leg.notional is not None:
            lines.append(
                f"limit {_money(limit_leg.notional)} or stop {_money(stop_leg.notional)} "
                f"{self.instrument.quote_asset}; one cancels the other"
            )
        preview = Preview(notional=limit_leg.notional, lines=lines)
        ok = not errors
        return TicketCheck(
            request=limit_leg if ok else None,
            errors=errors,
            preview=preview,
            oco=(above, below) if ok else None,
        )


@dataclass(frozen=True)
class Preview:
    """What the order would cost, as far as the local book can tell."""

    notional: Decimal | None = None
    fee: Decimal | None = None
    avg_price: float | None = None
    slippage_bps: float | None = None
    fillable: bool = True
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TicketCheck:
    """The outcome of validating a ticket: a sendable request, or the reasons per field."""

    request: OrderRequest | None
    errors: dict[str, str]
    preview: Preview
    #: The (above, below) legs when the ticket is a valid OCO.
    oco: tuple[OrderRequest, OrderRequest] | None = None


def _parse_fields(
    fields: list[tuple[str, str]],
) -> tuple[dict[str, Decimal | None], dict[str, str]]:
    """Each field's text as a decimal (``None`` when empty or unreadable), and the reasons."""
    values: dict[str, Decimal | None] = {}
    errors: dict[str, str] = {}
    for name, text in fields:
        values[name] = None
        if not text.strip():
            continue
        try:
            values[name] = parse_decimal(text, name.replace("_", " "))
        except DecimalFormatError as exc:
            errors[name] = str(exc)
    return values, errors


def round_to(value: Decimal, increment: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``increment``."""
    return (value / increment).to_integral_value(rounding=ROUND_DOWN) * increment


def _mid(book: BookTop | None) -> Decimal | None:
    if book is None or not book.bids or not book.asks:
        return None
    return (Decimal(repr(book.bids[0].price)) + Decimal(repr(book.asks[0].price))) / 2


def _crosses(side: Side, price: Decimal, book: BookTop) -> str | None:
    if side is Side.BUY and book.asks and price >= Decimal(repr(book.asks[0].price)):
        return (
            f"a LIMIT_MAKER buy at {fmt(price)} would take the ask {book.asks[0].price}: "
            "the venue would reject it"
        )
    if side is Side.SELL and book.bids and price <= Decimal(repr(book.bids[0].price)):
        return (
            f"a LIMIT_MAKER sell at {fmt(price)} would take the bid {book.bids[0].price}: "
            "the venue would reject it"
        )
    return None


def _preview(
    form: TicketForm, req: OrderRequest, book: BookTop | None, fee_rate: Decimal
) -> Preview:
    inst = form.instrument
    quote = inst.quote_asset
    if req.type is OrderType.MARKET:
        if book is None or not book.bids or not book.asks:
            return Preview(lines=["no live book: the fill price cannot be estimated"])
        local = OrderBook(inst.symbol)
        local.apply_levels(
            [(lv.price, lv.qty) for lv in book.bids], [(lv.price, lv.qty) for lv in book.asks]
        )
        qty: float | None = float(req.quantity) if req.quantity is not None else None
        if qty is None and req.quote_order_qty is not None:
            best = book.asks[0].price if req.side is Side.BUY else book.bids[0].price
            qty = float(req.quote_order_qty) / best
        if qty is None:
            return Preview()
        sweep = local.sweep(req.side, qty)
        if sweep.avg_price is None:
            return Preview(fillable=False, lines=["the book is empty on that side"])
        notional = Decimal(repr(sweep.avg_price)) * Decimal(repr(sweep.filled))
        notional = round_price(notional, Decimal("0.00000001"), Rounding.NEAREST)
        fee = notional * fee_rate
        lines = [
            f"expected avg {sweep.avg_price:.{inst.price_decimals}f}  "
            f"slippage {sweep.slippage_bps or 0:.1f} bps over {sweep.levels} levels",
            f"notional ~{_money(notional)} {quote}  fee ~{_money(fee, 4)} {quote}",
        ]
        if not sweep.complete:
            lines.append(
                f"the shown book holds only {sweep.filled:g} of {qty:g}: the rest fills deeper"
            )
        return Preview(
            notional=notional,
            fee=fee,
            avg_price=sweep.avg_price,
            slippage_bps=sweep.slippage_bps,
            fillable=sweep.complete,
            lines=lines,
        )
    limit_notional = req.notional
    if limit_notional is None:
        return Preview()
    notional = limit_notional
    fee = notional * fee_rate
    return Preview(
        notional=notional,
        fee=fee,
        lines=[f"notional {_money(notional)} {quote}  fee up to {_money(fee, 4)} {quote}"],
    )


def _money(value: Decimal, places: int = 2) -> str:
    """A quote amount for reading: grouped, rounded half-even to ``places``."""
    return f"{value:,.{places}f}"
