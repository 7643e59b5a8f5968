"""The market-stream names the simulated venue serves, spelled as Binance spells them."""

from __future__ import annotations

from omnitrade_tui.venues.sim.klinetime import INTERVALS

KLINE_INTERVALS = INTERVALS

DEPTH_LEVELS = (5, 10, 20)
# The kline streams in UTC, and in UTC+8 (the one offset ``web-socket-streams.md`` lists).
KLINE_ZONES = {"": 0, "@+08:00": 8 * 3_600_000}
# The rolling-window ticker streams' windows (web-socket-streams.md), in milliseconds.
ROLLING_WINDOWS = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}
_KINDS = (
    *("trade", "aggTrade", "bookTicker", "miniTicker", "ticker", "depth", "depth@100ms"),
    "avgPrice",
    *(f"ticker_{window}" for window in ROLLING_WINDOWS),
    *(f"depth{n}{speed}" for n in DEPTH_LEVELS for speed in ("", "@100ms")),
    *(f"kline_{interval}{zone}" for interval in KLINE_INTERVALS for zone in KLINE_ZONES),
)


_KNOWN_KINDS = frozenset(_KINDS)
ALL_MINI_TICKERS = "!miniTicker@arr"
# python-binance's miniticker_socket asks for it with its update speed spelled out.
ALL_MINI_TICKERS_1S = "!miniTicker@arr@1000ms"


def all_window_tickers(window: str) -> str:
    """The all-market rolling-window ticker stream of ``window`` (``!ticker_1h@arr``)."""
    return f"!ticker_{window}@arr"


ALL_MARKET_STREAMS = (
    ALL_MINI_TICKERS,
    ALL_MINI_TICKERS_1S,
    *(all_window_tickers(w) for w in ROLLING_WINDOWS),
)


def is_stream_name(name: str) -> bool:
    """Whether ``name`` is spelled as a stream this venue serves, for any symbol."""
    symbol, _, kind = name.partition("@")
    return name in ALL_MARKET_STREAMS or (
        bool(symbol) and symbol == symbol.lower() and kind in _KNOWN_KINDS
    )


def stream_names(symbol: str) -> tuple[str, ...]:
    """Every stream name the venue serves for ``symbol`` (Binance's lowercase spelling)."""
    lower = symbol.lower()
    return tuple(f"{lower}@{kind}" for kind in _KINDS)
