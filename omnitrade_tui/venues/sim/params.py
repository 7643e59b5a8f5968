"""Request parameters of the simulated venue, checked the way Binance checks them.

Every parser here answers malformed input with a ``SimError`` (``-1100`` illegal
characters, ``-1102`` missing), never with a Python exception: the server turns those
into Binance's JSON error bodies, and anything else would be an HTTP 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

import msgspec

from omnitrade_tui.domain.decimals import DecimalFormatError, parse_decimal
from omnitrade_tui.domain.enums import OrderType, SelfTradePreventionMode, Side, TimeInForce
from omnitrade_tui.domain.models import OrderRequest, new_client_order_id
from omnitrade_tui.venues.sim.errors import SimError

_DECIMAL_RULE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
_CLIENT_ID_MAX = 36
# ASCII digits only (``int()`` also takes "+5", " 5", "1_0" and other scripts' digits),
# and no more than a signed 64-bit integer holds.
_INTEGER = re.compile(r"[0-9]{1,18}")
# Binance's own rule for the JSON list of ``symbols``.
_SYMBOLS_RULE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
_SYMBOLS = re.compile(r'\[("[A-Z0-9\-_.]{1,20}"(,"[A-Z0-9\-_.]{1,20}")*)?\]')
# recvWindow: milliseconds with up to three decimals (microsecond precision), at most 60000.
_RECV_WINDOW_RULE = "^[0-9]{1,20}(\\.[0-9]{1,3})?$"
_RECV_WINDOW = re.compile(r"[0-9]{1,20}(\.[0-9]{1,3})?")
MAX_RECV_WINDOW_MS = 60_000
DEPTH_LIMIT_MAX = 5000


def illegal(name: str, rule: str) -> SimError:
    """Binance's -1100 for a parameter outside its legal form."""
    return SimError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{rule}'."
    )


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
    if not _INTEGER.fullmatch(raw):
        raise illegal(name, "^[0-9]+$")
    return int(raw)


def limit(params: Mapping[str, str], default: int, most: int) -> int:
    """``limit``: 1 to ``most`` (-1100 outside; absent or 0 is ``default``)."""
    value = integer(params, "limit", default) or default
    if not 1 <= value <= most:
        raise illegal("limit", f"1-{most}")
    return value


def symbol_list(params: Mapping[str, str]) -> list[str]:
    """``symbols``: a JSON list of symbol names, as Binance writes its rule."""
    raw = params.get("symbols", "")
    if not _SYMBOLS.fullmatch(raw):
        raise illegal("symbols", _SYMBOLS_RULE)
    return msgspec.json.decode(raw, type=list[str])


def recv_window(params: Mapping[str, str]) -> Decimal:
    """``recvWindow`` in milliseconds: a number in (0, 60000] (default 5000).

    A value that is not a plain number (``nan``, ``inf``, ``1e9``) is refused rather
    than compared, so it can never switch the timestamp check off.
    """
    raw = params.get("recvWindow")
    if raw is None or raw == "":
        return Decimal(5000)
    if not _RECV_WINDOW.fullmatch(raw):
        raise illegal("recvWindow", _RECV_WINDOW_RULE)
    window = Decimal(raw)
    if not 0 < window <= MAX_RECV_WINDOW_MS:
        raise SimError(-1131, "recvWindow must be less than 60000")
    return window


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
