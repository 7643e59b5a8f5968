"""Request parameters of the simulated venue, checked the way Binance checks them."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from omnitrade_tui.domain.decimals import DecimalFormatError, parse_decimal
from omnitrade_tui.domain.enums import OrderType, SelfTradePreventionMode, Side, TimeInForce
from omnitrade_tui.domain.models import OrderRequest, new_client_order_id
from omnitrade_tui.venues.sim.errors import SimError

_DECIMAL_RULE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
_CLIENT_ID_MAX = 36


def required(params: Mapping[str, str], name: str) -> str:
    """A parameter that must be present and non-empty (-1102 otherwise)."""
    value = params.get(name)
    if value is None or value == "":
        raise SimError(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return value


def decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    """An optional decimal parameter (-1100 for anything but a plain decimal)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_decimal(raw, name)
    except DecimalFormatError:
        raise SimError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '{_DECIMAL_RULE}'.",
        ) from None


def integer(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    """An optional integer parameter (-1100 when it is not one)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SimError(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]+$'."
        ) from None


def _enum(params: Mapping[str, str], name: str, kind: type, code: int, msg: str) -> object:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return kind(raw)
    except ValueError:
        raise SimError(code, msg) from None


def order_request(params: Mapping[str, str], prefix: str = "") -> OrderRequest:
    """Build an order request from ``POST /api/v3/order`` parameters (or one OCO leg's,
    with ``prefix`` such as ``above``)."""

    def p(name: str) -> str:
        return f"{prefix}{name[0].upper()}{name[1:]}" if prefix else name

    symbol = required(params, "symbol")
    side = _enum(params, "side", Side, -1117, "Invalid side.")
    if side is None:
        required(params, "side")
    order_type = _enum(params, p("type"), OrderType, -1116, "Invalid orderType.")
    if order_type is None:
        required(params, p("type"))
    tif = _enum(params, p("timeInForce"), TimeInForce, -1115, "Invalid timeInForce.")
    stp = _enum(
        params,
        "selfTradePreventionMode",
        SelfTradePreventionMode,
        -1130,
        "Data sent for parameter 'selfTradePreventionMode' is not valid.",
    )
    client_id = params.get(p("clientOrderId") if prefix else "newClientOrderId") or ""
    if len(client_id) > _CLIENT_ID_MAX:
        raise SimError(-1100, "Illegal characters found in parameter 'newClientOrderId'.")
    assert isinstance(side, Side)
    assert isinstance(order_type, OrderType)
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=decimal(params, "quantity"),
        quote_order_qty=None if prefix else decimal(params, "quoteOrderQty"),
        price=decimal(params, p("price")),
        stop_price=decimal(params, p("stopPrice")),
        time_in_force=tif if isinstance(tif, TimeInForce) else None,
        iceberg_qty=decimal(params, p("icebergQty")),
        client_order_id=client_id or new_client_order_id("sim-"),
        stp_mode=stp if isinstance(stp, SelfTradePreventionMode) else None,
    )
