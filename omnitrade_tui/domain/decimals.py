"""Exact decimal helpers: parsing venue strings, snapping to a tick or step, formatting.

Money in the order path is ``Decimal`` (principle 3 of the house plan). These helpers never
touch floats, so a price that is a multiple of the tick stays one.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation

from omnitrade_tui.domain.enums import Rounding

ZERO = Decimal(0)

# Binance's own rule for a decimal parameter: no exponent, at most 20 digits on each side.
_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")

_ROUNDING_MODES = {
    Rounding.DOWN: ROUND_FLOOR,
    Rounding.UP: ROUND_CEILING,
    Rounding.NEAREST: ROUND_HALF_EVEN,
}


class DecimalFormatError(ValueError):
    """A decimal field did not look like a plain non-negative decimal number."""


def parse_decimal(text: str, field: str = "value") -> Decimal:
    """Parse a plain decimal string as Binance accepts it (``"0.01"``, ``"100"``).

    Raises:
        DecimalFormatError: for anything else (exponents, signs, letters, too many digits),
            with a message that names the field and the accepted form.
    """
    cleaned = text.strip()
    if not _DECIMAL_RE.match(cleaned):
        raise DecimalFormatError(
            f"{field} {text!r} is not a plain decimal number (digits with an optional "
            "decimal point, no sign or exponent, e.g. 0.015)"
        )
    try:
        return Decimal(cleaned)
    except InvalidOperation as exc:  # the regex makes this unreachable; keep the contract
        raise DecimalFormatError(f"{field} {text!r} is not a number") from exc


def to_decimal(value: str | int | Decimal) -> Decimal:
    """Convert a venue value (a decimal string, an int, or a Decimal) without going via float."""
    if isinstance(value, Decimal):
        return value
    return Decimal(value)


def round_to_increment(value: Decimal, increment: Decimal, rounding: Rounding) -> Decimal:
    """Snap ``value`` to a multiple of ``increment`` in the given direction.

    An ``increment`` of zero means the filter is disabled, and ``value`` comes back unchanged.
    The result keeps the increment's exponent, so ``round_to_increment(Decimal("1.5"),
    Decimal("0.01"), ...)`` is ``Decimal("1.50")``.
    """
    if increment <= 0:
        return value
    units = (value / increment).quantize(Decimal(1), rounding=_ROUNDING_MODES[rounding])
    return (units * increment).quantize(increment)


def round_price(price: Decimal, tick: Decimal, rounding: Rounding = Rounding.NEAREST) -> Decimal:
    """Snap a price to the tick (``PRICE_FILTER.tickSize``)."""
    return round_to_increment(price, tick, rounding)


def round_quantity(quantity: Decimal, step: Decimal, rounding: Rounding = Rounding.DOWN) -> Decimal:
    """Snap a quantity to the step (``LOT_SIZE.stepSize``); down by default, never oversell."""
    return round_to_increment(quantity, step, rounding)


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """Whether ``value`` is an exact multiple of ``increment`` (always true for increment 0)."""
    if increment <= 0:
        return True
    return value % increment == 0


def neighbours(value: Decimal, increment: Decimal) -> tuple[Decimal, Decimal]:
    """The nearest multiples of ``increment`` below and above ``value``."""
    return (
        round_to_increment(value, increment, Rounding.DOWN),
        round_to_increment(value, increment, Rounding.UP),
    )


def fmt(value: Decimal) -> str:
    """Format a decimal without exponent and without trailing zeros (``1E+2`` -> ``100``)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def fmt_fixed(value: Decimal, places: int = 8) -> str:
    """Format with a fixed number of decimals, as Binance writes its numbers (``"1.50000000"``)."""
    return f"{value:.{places}f}"


def decimals_of(increment: Decimal) -> int:
    """How many decimal places an increment such as ``0.001`` implies (3)."""
    if increment <= 0:
        return 8
    exponent = increment.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)
