"""One way to write each number and each time on the screen.

Prices by the symbol's tick, quantities by its step, money by the asset's precision, all with
thousands separators; times of day in local time (the zone is said once, in the status bar)
or in UTC when ``[ui] utc_time = true``. Tables, toasts, the log, the chart header and the
balances all write through here, so the same price never reads two ways.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal

from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.venue import unqualified

#: Assets that are money on their own: written with cents, whatever the venue's precision.
_CASH = frozenset({"USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI", "USD", "EUR", "TRY", "BRL"})
#: Places for an asset no instrument steps (enough for any coin, trimmed of trailing zeros).
_UNKNOWN_PLACES = 8

Number = Decimal | float | int


class Numbers:
    """Writes prices, quantities, money and times for the instruments the app trades."""

    def __init__(self, instruments: Mapping[str, Instrument], utc: bool = False) -> None:
        self.instruments = instruments
        self.utc = utc
        #: Price and quantity places by symbol, with the instrument they were read from: the
        #: tape and the ladder write thousands of numbers a second, and reading the places off
        #: the tick's Decimal each time was most of a number's cost. Bounded by the symbols.
        self._places: dict[str, tuple[Instrument, int, int]] = {}

    def _places_of(self, symbol: str) -> tuple[int, int]:
        inst = self.instruments.get(symbol)
        if inst is None:
            return _UNKNOWN_PLACES, _UNKNOWN_PLACES
        known = self._places.get(symbol)
        if known is None or known[0] is not inst:  # new, or its exchangeInfo was replaced
            known = (inst, inst.price_decimals, inst.quantity_decimals)
            self._places[symbol] = known
        return known[1], known[2]

    def price_places(self, symbol: str) -> int:
        """Decimal places of a price of ``symbol`` (its tick)."""
        return self._places_of(symbol)[0]

    def qty_places(self, symbol: str) -> int:
        """Decimal places of a quantity of ``symbol`` (its step)."""
        return self._places_of(symbol)[1]

    def money_places(self, asset: str) -> int:
        """Decimal places of an amount of ``asset``: cents for cash, else the step of a
        symbol that trades it as its base."""
        return self._money_places(asset)[0]

    def _money_places(self, asset: str) -> tuple[int, bool]:
        """The places of ``asset`` and whether anything says them (else trim the zeros)."""
        if unqualified(asset) in _CASH:  # USDT is cash on every venue (USDT@kraken)
            return 2, True
        for inst in self.instruments.values():
            if inst.base_asset == asset:
                return inst.quantity_decimals, True
        return _UNKNOWN_PLACES, False

    def price(self, symbol: str, value: Number | None, signed: bool = False) -> str:
        """A price of ``symbol``: ``67,120.50``; ``-`` when there is none."""
        trim = symbol not in self.instruments
        return _grouped(value, self.price_places(symbol), signed, trim)

    def qty(self, symbol: str, value: Number | None, signed: bool = False) -> str:
        """A quantity of ``symbol``: ``0.01000``."""
        trim = symbol not in self.instruments
        return _grouped(value, self.qty_places(symbol), signed, trim)

    def money(self, asset: str, value: Number | None, signed: bool = False) -> str:
        """An amount of ``asset``: ``98,659.41`` (USDT), ``1.50000`` (BTC)."""
        places, known = self._money_places(asset)
        return _grouped(value, places, signed, trim=not known)

    def money_with_asset(self, asset: str, value: Number | None, signed: bool = False) -> str:
        """An amount followed by its asset: ``0.07 USDT``."""
        return f"{self.money(asset, value, signed)} {asset}"

    def clock(self, time_ms: int) -> str:
        """``HH:MM:SS`` of an epoch-milliseconds time, local or UTC as set."""
        if not time_ms:
            return "--:--:--"
        seconds = time_ms / 1000
        stamp = time.gmtime(seconds) if self.utc else time.localtime(seconds)
        return time.strftime("%H:%M:%S", stamp)

    def stamp(self, time_ms: int) -> str:
        """``YYYY-MM-DD HH:MM:SS`` of an epoch-milliseconds time, local or UTC as set."""
        if not time_ms:
            return "-"
        seconds = time_ms / 1000
        stamp = time.gmtime(seconds) if self.utc else time.localtime(seconds)
        return time.strftime("%Y-%m-%d %H:%M:%S", stamp)

    def zone(self) -> str:
        """The zone the times are in, said once in the status bar: ``UTC`` or ``CET``."""
        if self.utc:
            return "UTC"
        return time.strftime("%Z", time.localtime()) or "local"


def _grouped(value: Number | None, places: int, signed: bool, trim: bool = False) -> str:
    if value is None:
        return "-"
    sign = "+" if signed else ""
    if isinstance(value, Decimal):
        text = f"{value:{sign},.{places}f}"
    else:
        text = f"{float(value):{sign},.{places}f}"
    if trim and "." in text:
        # No tick or step says how many places this has: as many as it needs, not eight
        # zeros behind every whole coin ("50", "0.0025").
        text = text.rstrip("0").rstrip(".")
    return text
