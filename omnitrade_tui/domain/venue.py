"""Which venue an instrument trades on: the venue-qualified symbol.

An instrument is (venue, symbol). The app names it by one string, its *instrument id*:
the venue's own symbol alone (``BTCUSDT``) on the profile's first venue (its *default
venue*), and ``BTCUSDT@kraken`` on any other. Every key the app already had (a topic's
symbol segment, the screen's tables, the store's rows, the config's watchlist, the
gateway's frames) is such an id, so a one-venue config and database of before keep their
meaning unchanged: their bare symbols are the default venue's, as the issue of several
venues asks (the default venue is the profile's first).

An asset held on a venue and a venue's link are named the same way (``USDT@kraken``,
``market@kraken``): balances, valuations and link states keep one entry per venue.

Why one string rather than a pair: the id is a dict key and a topic segment on every
market-data message, and a ``str`` costs nothing more there than the symbol did; the
venue is read back from it only where a venue is chosen (the order router, the store's
venue column, the screen's venue column).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Between the venue's symbol and the venue's name in an instrument id.
SEPARATOR = "@"

#: A venue's name as the config gives it (``[profiles.NAME.venues.VENUE]``): lower case,
#: so it reads as a qualifier and never collides with a symbol.
VENUE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")

#: A venue's own symbol as the app keeps it (Binance's ``BTCUSDT``; ccxt's market id).
VENUE_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,39}")


#: How a list of venues written by a person (a gateway user's) names the profile's first
#: venue, whose ids carry no venue; so no venue of a profile may be called this.
FIRST_VENUE = "first"


class InstrumentIdError(ValueError):
    """A string that is not an instrument id (a bad symbol or venue name)."""


def qualify(symbol: str, venue: str = "") -> str:
    """The instrument id of ``symbol`` on ``venue`` (the default venue when empty)."""
    return f"{symbol}{SEPARATOR}{venue}" if venue else symbol


def venue_of(instrument_id: str) -> str:
    """The venue an id names (``""``: the default venue)."""
    _, _, venue = instrument_id.partition(SEPARATOR)
    return venue


def unqualified(name: str) -> str:
    """A venue-qualified name without its venue: an asset (``USDT@kraken`` -> ``USDT``), a
    link (``market@kraken`` -> ``market``), an instrument id (see ``symbol_of``)."""
    return name.partition(SEPARATOR)[0]


def symbol_of(instrument_id: str) -> str:
    """The venue's own symbol of an id (``BTCUSDT@kraken`` -> ``BTCUSDT``); also what
    groups one pair across venues."""
    return unqualified(instrument_id)


def parse(text: str) -> str:
    """A written instrument id (a config's watchlist entry, a command line's ``--symbols``)
    checked and normalised: the symbol upper-cased, the venue lower-cased.

    Raises:
        InstrumentIdError: the symbol or the venue name is not one (says which and why).
    """
    symbol, sep, venue = text.strip().partition(SEPARATOR)
    symbol = symbol.upper()
    venue = venue.lower()
    if not VENUE_SYMBOL.fullmatch(symbol):
        raise InstrumentIdError(
            f"{text!r} is not a symbol: use the venue's own name, letters and digits "
            "(BTCUSDT), then optionally @venue"
        )
    if sep and not VENUE_NAME.fullmatch(venue):
        raise InstrumentIdError(
            f"{text!r} names venue {venue!r}: a venue name is lower-case letters, digits, "
            "- or _, starting with a letter (BTCUSDT@kraken)"
        )
    return qualify(symbol, venue)


def check_venue_name(name: str) -> str:
    """``name`` if it is a valid venue name.

    Raises:
        InstrumentIdError: it is not (says what a venue name is).
    """
    if not VENUE_NAME.fullmatch(name):
        raise InstrumentIdError(
            f"{name!r} is not a venue name: lower-case letters, digits, - or _, starting "
            "with a letter, at most 32"
        )
    if name == FIRST_VENUE:
        raise InstrumentIdError(f"{name!r} names the profile's first venue: choose another")
    return name


def grouped_by_pair(instrument_ids: Iterable[str]) -> list[str]:
    """``instrument_ids`` with each pair's venues side by side, in the order each pair
    first appears (what the watchlist shows: one pair across venues as one group)."""
    groups: dict[str, list[str]] = {}
    for instrument_id in instrument_ids:
        groups.setdefault(symbol_of(instrument_id), []).append(instrument_id)
    return [i for group in groups.values() for i in group]


def short_label(instrument_id: str, follows_same_pair: bool, width: int) -> str:
    """How a list names an id in ``width`` cells: the symbol on the first venue, the full
    id elsewhere, and only ``└@venue`` under a row of the same pair (so the venue is what
    shows when the symbol is already said)."""
    venue = venue_of(instrument_id)
    if not venue:
        return instrument_id
    if follows_same_pair:
        return ("└" + SEPARATOR + venue)[:width]
    return instrument_id
