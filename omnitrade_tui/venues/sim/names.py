"""The market-stream names the simulated venue serves, spelled as Binance spells them."""

from __future__ import annotations

KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
DEPTH_LEVELS = (5, 10, 20)
_KINDS = (
    *("trade", "aggTrade", "bookTicker", "miniTicker", "ticker", "depth", "depth@100ms"),
    *(f"depth{n}{speed}" for n in DEPTH_LEVELS for speed in ("", "@100ms")),
    *(f"kline_{interval}" for interval in KLINE_INTERVALS),
)


_KNOWN_KINDS = frozenset(_KINDS)
ALL_MINI_TICKERS = "!miniTicker@arr"


def is_stream_name(name: str) -> bool:
    """Whether ``name`` is spelled as a stream this venue serves, for any symbol."""
    symbol, _, kind = name.partition("@")
    return name == ALL_MINI_TICKERS or (
        bool(symbol) and symbol == symbol.lower() and kind in _KNOWN_KINDS
    )


def stream_names(symbol: str) -> tuple[str, ...]:
    """Every stream name the venue serves for ``symbol`` (Binance's lowercase spelling)."""
    lower = symbol.lower()
    return tuple(f"{lower}@{kind}" for kind in _KINDS)
