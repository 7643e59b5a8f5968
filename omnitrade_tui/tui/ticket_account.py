"""What Enter would meet besides the exchange filters, said while the trader types: the free
balance the order needs and what is left after it (fees included), each risk limit in force
with the order's figure against it, and a stop that would trigger at once. Free of Textual,
like ``ticket_form``.

The risk limits are the ones the engine publishes (``RiskLimitsInForce``); they are checked
with the engine's own pure ``PreTradeRisk``, so the ticket says what the gate would say.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from omnitrade_tui.domain.enums import OrderType, Side
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.engine.risk import PreTradeRisk

#: Which ticket field a broken risk limit is shown beside.
_LIMIT_FIELD = {
    "max_order_notional": "quantity",
    "max_position": "quantity",
    "price_band_pct": "price",
}


@dataclass(frozen=True)
class Account:
    """What the screen knows of the account and the market for the ticket's checks."""

    #: Free balances; ``None`` while not known (no check is made then).
    free_base: Decimal | None = None
    free_quote: Decimal | None = None
    #: The holding of the base asset (free and locked), for the position limit.
    position: Decimal = Decimal(0)
    #: The last trade price, for a stop that would trigger at once.
    last: Decimal | None = None
    #: The limits the engine published, ``None`` before it did.
    limits: RiskLimits | None = None
    #: Our open orders on every symbol (the gate's open-orders limit counts them all).
    open_orders: int = 0


@dataclass(frozen=True)
class Findings:
    """Reasons by field (they stop Enter, like a filter's) and lines to show."""

    errors: dict[str, str]
    lines: list[str]


def account_checks(
    inst: Instrument,
    request: OrderRequest,
    account: Account,
    *,
    notional: Decimal | None,
    fee: Decimal | None,
    mid: Decimal | None,
    by_quote: bool = False,
    legs: tuple[OrderRequest, ...] = (),
) -> Findings:
    """Balance, risk limits and stop trigger for ``request`` (or every leg of an OCO)."""
    errors: dict[str, str] = {}
    lines: list[str] = []
    _balance(inst, request, account, notional, fee, errors, lines, by_quote)
    for leg in legs or (request,):
        _stop_trigger(inst, leg, account.last, errors)
    if account.limits is not None:
        _risk(inst, legs or (request,), account, mid, errors, lines, by_quote)
    return Findings(errors, lines)


def _money(value: Decimal, places: int) -> str:
    return f"{value:,.{places}f}"


def _balance(
    inst: Instrument,
    request: OrderRequest,
    account: Account,
    notional: Decimal | None,
    fee: Decimal | None,
    errors: dict[str, str],
    lines: list[str],
    by_quote: bool,
) -> None:
    field = "quote_order_qty" if by_quote else "quantity"
    base, quote = inst.base_asset, inst.quote_asset
    qplaces, places = inst.quantity_decimals, 2
    fee = fee or Decimal(0)
    if request.side is Side.BUY:
        # Binance takes a buy's fee from the base asset bought: the quote spent is the notional.
        free = account.free_quote
        if free is None or notional is None:
            return
        if notional > free:
            errors[field] = (
                f"insufficient {quote}: the order needs {_money(notional, places)}, "
                f"free {_money(free, places)}"
            )
            return
        lines.append(
            f"{quote} free {_money(free, places)} -> {_money(free - notional, places)} after "
            f"(fee ~{_money(fee, 4)} {quote}, taken in {base})"
        )
        return
    free = account.free_base
    qty = request.quantity  # None for a market sell by quote amount: the venue sizes it
    if free is None or qty is None:
        return
    if qty > free:
        errors[field] = (
            f"insufficient {base}: the order needs {qty:.{qplaces}f}, free {free:.{qplaces}f}"
        )
        return
    lines.append(
        f"{base} free {free:.{qplaces}f} -> {free - qty:.{qplaces}f} after "
        f"(fee ~{_money(fee, 4)} {quote})"
    )


def _stop_trigger(
    inst: Instrument, request: OrderRequest, last: Decimal | None, errors: dict[str, str]
) -> None:
    """A stop already reached by the last price: the venue refuses it ("would trigger
    immediately"), so say so while typing."""
    stop = request.stop_price
    if last is None or stop is None or not request.type.has_stop:
        return
    loss = request.type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)
    # A stop-loss buys on the way up and sells on the way down; a take-profit the reverse.
    rises = (request.side is Side.BUY) == loss
    places = inst.price_decimals
    if rises and last >= stop:
        sign = "≥"
    elif not rises and last <= stop:
        sign = "≤"
    else:
        return
    errors.setdefault(
        "stop_price",
        f"this stop would trigger at once: last {_money(last, places)} {sign} stop "
        f"{_money(stop, places)}",
    )


def _risk(
    inst: Instrument,
    requests: tuple[OrderRequest, ...],
    account: Account,
    mid: Decimal | None,
    errors: dict[str, str],
    lines: list[str],
    by_quote: bool,
) -> None:
    limits = account.limits
    open_orders = account.open_orders
    assert limits is not None
    risk = PreTradeRisk(limits)
    for request in requests:
        violation = risk.check(
            request,
            now=time.monotonic(),
            mid=mid,
            base_asset=inst.base_asset,
            position=account.position,
            open_orders=open_orders,
        )
        if violation is not None:
            field = _LIMIT_FIELD.get(violation.limit, "risk")
            if field == "quantity" and by_quote:
                field = "quote_order_qty"
            errors.setdefault(field, violation.message)
    request = requests[0]
    said: list[str] = []
    notional = request.notional
    if notional is None and request.quantity is not None and mid is not None:
        notional = request.quantity * mid
    if limits.max_order_notional is not None and notional is not None:
        said.append(f"notional {notional:,.2f} of {limits.max_order_notional:,.2f}")
    max_pos = limits.max_position.get(inst.base_asset)
    if max_pos is not None and request.quantity is not None:
        step = request.quantity if request.side is Side.BUY else -request.quantity
        said.append(f"{inst.base_asset} {account.position + step:f} after, max {max_pos:f}")
    band = limits.price_band_pct
    if band is not None and request.price is not None and mid:
        off = abs(request.price - mid) / mid * 100
        said.append(f"{off:.2f}% from mid, band {band:f}%")
    if limits.max_open_orders is not None:
        said.append(f"open orders {open_orders + 1} of {limits.max_open_orders}")
    if said:
        lines.append("risk: " + " · ".join(said))
