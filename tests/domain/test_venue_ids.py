"""Instrument ids: a bare symbol is the default venue's, ``SYMBOL@venue`` any other's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnitrade_tui.domain.venue import (
    InstrumentIdError,
    check_venue_name,
    grouped_by_pair,
    parse,
    qualify,
    short_label,
    symbol_of,
    venue_of,
)

symbols = st.from_regex(r"[A-Z0-9][A-Z0-9]{0,15}", fullmatch=True)
venues = st.from_regex(r"[a-z][a-z0-9_-]{0,31}", fullmatch=True)


def test_a_bare_symbol_is_the_default_venues() -> None:
    assert qualify("BTCUSDT") == "BTCUSDT"
    assert venue_of("BTCUSDT") == ""
    assert symbol_of("BTCUSDT") == "BTCUSDT"


def test_a_qualified_id_names_its_venue() -> None:
    assert qualify("BTCUSDT", "kraken") == "BTCUSDT@kraken"
    assert venue_of("BTCUSDT@kraken") == "kraken"
    assert symbol_of("BTCUSDT@kraken") == "BTCUSDT"


@given(symbols, st.one_of(st.just(""), venues))
def test_qualify_and_read_back_round_trip(symbol: str, venue: str) -> None:
    instrument_id = qualify(symbol, venue)
    assert (symbol_of(instrument_id), venue_of(instrument_id)) == (symbol, venue)
    assert parse(instrument_id) == instrument_id


def test_parse_normalises_what_a_person_writes() -> None:
    assert parse(" btcusdt@Kraken ") == "BTCUSDT@kraken"
    assert parse("ethusdt") == "ETHUSDT"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is not a symbol"),
        ("BTC/USDT", "is not a symbol"),
        ("BTCUSDT@", "names venue ''"),
        ("BTCUSDT@9lives", "names venue '9lives'"),
        ("BTCUSDT@a.b", "names venue 'a.b'"),
        ("BTCUSDT@kraken@x", "names venue"),
    ],
)
def test_parse_refuses_what_is_not_an_id(text: str, says: str) -> None:
    with pytest.raises(InstrumentIdError, match=says):
        parse(text)


def test_venue_names_are_checked() -> None:
    assert check_venue_name("okx") == "okx"
    with pytest.raises(InstrumentIdError, match="not a venue name"):
        check_venue_name("OKX")


def test_a_pair_on_several_venues_is_one_group_in_first_seen_order() -> None:
    ids = ["BTCUSDT", "ETHUSDT", "BTCUSDT@alt", "SOLUSDT@alt", "ETHUSDT@okx"]
    assert grouped_by_pair(ids) == [
        "BTCUSDT",
        "BTCUSDT@alt",
        "ETHUSDT",
        "ETHUSDT@okx",
        "SOLUSDT@alt",
    ]


def test_a_list_names_the_venue_under_its_pair_and_the_whole_id_alone() -> None:
    assert short_label("BTCUSDT", False, 7) == "BTCUSDT"
    assert short_label("BTCUSDT@alt", True, 7) == "└@alt"
    assert short_label("BTCUSDT@binanceus", True, 7) == "└@binan"
    assert short_label("SOLUSDT@alt", False, 7) == "SOLUSDT@alt"
