"""Exact rounding to the tick and the step, both directions, and strict parsing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnitrade_tui.domain import DecimalFormatError, Rounding, parse_decimal
from omnitrade_tui.domain.decimals import (
    decimals_of,
    fmt,
    fmt_fixed,
    is_multiple,
    neighbours,
    round_price,
    round_quantity,
    round_to_increment,
)


@pytest.mark.parametrize(
    ("value", "tick", "rounding", "expected"),
    [
        ("100.123", "0.01", Rounding.DOWN, "100.12"),
        ("100.123", "0.01", Rounding.UP, "100.13"),
        ("100.125", "0.01", Rounding.NEAREST, "100.12"),  # half to even
        ("100.126", "0.01", Rounding.NEAREST, "100.13"),
        ("100.12", "0.01", Rounding.UP, "100.12"),  # already valid: unchanged
        ("0.000019", "0.00001", Rounding.DOWN, "0.00001"),
        ("0.000019", "0.00001", Rounding.UP, "0.00002"),
        ("1234", "5", Rounding.DOWN, "1230"),
        ("1234", "5", Rounding.UP, "1235"),
        ("7.77", "0", Rounding.DOWN, "7.77"),  # a zero increment is a disabled filter
    ],
)
def test_round_to_increment(value: str, tick: str, rounding: Rounding, expected: str) -> None:
    assert round_to_increment(D(value), D(tick), rounding) == D(expected)


def test_round_price_defaults_to_nearest_and_quantity_to_down() -> None:
    assert round_price(D("100.126"), D("0.01")) == D("100.13")
    assert round_quantity(D("0.123459"), D("0.00001")) == D("0.12345")


def test_rounded_value_keeps_the_increment_exponent() -> None:
    assert str(round_price(D("1.5"), D("0.01"))) == "1.50"


@given(
    st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8),
    st.sampled_from([D("0.01"), D("0.00001"), D("0.5"), D("1"), D("0.00000001")]),
)
def test_rounding_brackets_the_value(value: D, tick: D) -> None:
    low = round_to_increment(value, tick, Rounding.DOWN)
    high = round_to_increment(value, tick, Rounding.UP)
    assert low <= value <= high
    assert high - low in (0, tick)
    assert is_multiple(low, tick) and is_multiple(high, tick)
    assert neighbours(value, tick) == (low, high)


@pytest.mark.parametrize("text", ["1e5", "-1", "+1", "1,5", "abc", "", ".5", "1.", "1" * 21])
def test_parse_decimal_rejects_what_binance_rejects(text: str) -> None:
    with pytest.raises(DecimalFormatError) as exc:
        parse_decimal(text, "price")
    assert "price" in str(exc.value)


def test_parse_decimal_accepts_plain_numbers() -> None:
    assert parse_decimal(" 100.50 ") == D("100.50")
    assert parse_decimal("7") == D(7)


def test_formatting() -> None:
    assert fmt(D("100.1200")) == "100.12"
    assert fmt(D("1E+2")) == "100"
    assert fmt(D("0")) == "0"
    assert fmt_fixed(D("1.5")) == "1.50000000"
    assert decimals_of(D("0.001")) == 3
    assert decimals_of(D("1")) == 0
