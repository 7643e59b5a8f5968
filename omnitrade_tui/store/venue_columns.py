"""How a table keeps an instrument id: two columns, ``venue`` then ``symbol``.

The app names an instrument by one string (``domain.venue``): ``BTCUSDT`` on the default
venue, ``BTCUSDT@kraken`` on another. A table keyed by instrument keeps the venue's name
(``""``: the default venue, as every row written before venues existed) and the venue's own
symbol in two columns (migration 0008), so keys and indexes hold them as plain columns and a
database of one venue keeps its rows as they were.

This module is the one place that splits an id into the two columns and joins them back.
Everything before the repository (the recorder's rows, the spill files, a test's tuples)
keeps the id where the symbol was, so a journal spilled by an older version replays
unchanged; the repository splits rows on the way in (``stored_rows``), filters by both
columns (``is_instrument``), and gives ids back on the way out (``joined``, ``app_row``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from omnitrade_tui.domain.venue import qualify, symbol_of, venue_of
from omnitrade_tui.store.rows import Row

VENUE = "venue"

#: Ids seen, split: a recorder sees a few ids millions of times. Bounded (cleared when
#: full), so a stream of odd ids cannot grow it.
_SPLIT: dict[str, tuple[str, str]] = {}
_SPLIT_MAX = 4096


def split(instrument_id: str) -> tuple[str, str]:
    """``(venue, symbol)`` of an id: ``("", "BTCUSDT")``, ``("kraken", "BTCUSDT")``."""
    found = _SPLIT.get(instrument_id)
    if found is None:
        if len(_SPLIT) >= _SPLIT_MAX:
            _SPLIT.clear()
        found = _SPLIT[instrument_id] = (venue_of(instrument_id), symbol_of(instrument_id))
    return found


def venue_at(table: sa.Table) -> int | None:
    """Where ``venue`` is among ``table``'s columns (the symbol follows it); None: the table
    is not keyed by instrument."""
    names = [c.name for c in table.columns]
    return names.index(VENUE) if VENUE in names else None


def app_columns(table: sa.Table) -> list[str]:
    """``table``'s columns as the app's rows hold them: no venue, the id under ``symbol``."""
    return [c.name for c in table.columns if c.name != VENUE]


def stored_rows(rows: Sequence[Row], at: int) -> list[Row]:
    """App rows (the id at ``at``) as the table takes them: the venue at ``at``, the symbol
    after it.

    A value that is not a string (a broken event's ``None``) is left for the database to
    refuse, as it refused it before there were venues.
    """
    known = _SPLIT.get  # the hot path: an id seen before, one lookup and two slices
    out = []
    for row in rows:
        iid = row[at]
        pair = known(iid) or (split(iid) if isinstance(iid, str) else (iid, iid))
        out.append(row[:at] + pair + row[at + 1 :] if at else pair + row[1:])
    return out


def app_row(row: Sequence[Any], at: int) -> Row:
    """A stored row (venue at ``at``, symbol after it) as the app's row: the id at ``at``."""
    return (*row[:at], qualify(row[at + 1], row[at]), *row[at + 2 :])


def joined(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A stored row by column name, with the id under ``symbol`` and no ``venue``."""
    out = dict(row)
    out["symbol"] = qualify(out["symbol"], out.pop(VENUE))
    return out


def is_instrument(table: sa.Table, instrument_id: str) -> sa.ColumnElement[bool]:
    """The condition that a row of ``table`` is ``instrument_id``'s (both columns, so the
    key's leading columns serve it)."""
    venue, symbol = split(instrument_id)
    return sa.and_(table.c[VENUE] == venue, table.c.symbol == symbol)
