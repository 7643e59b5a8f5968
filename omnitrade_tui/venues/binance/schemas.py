"""Binance spot wire messages as typed ``msgspec`` structs, decoded straight from bytes.

Market-data prices and quantities are decoded as floats *inside* the decoder
(``strict=False`` lets msgspec parse Binance's quoted decimals): about 11 ns a number,
against ~200 ns for ``float(str)`` in Python (reference ``performance.md`` §2.1). Order and
account messages keep their decimals as strings and become ``Decimal`` in the parsers of
the execution side. Field names are Binance's one-letter keys, renamed to words here.
"""

from __future__ import annotations

import msgspec

from omnitrade_tui.domain.models import Candle, Ticker, Trade

Level = tuple[float, float]


class StreamFrame(msgspec.Struct, gc=False):
    """The combined-stream wrapper ``{"stream": ..., "data": ...}``; ``data`` left raw."""

    stream: str
    data: msgspec.Raw


class DepthUpdate(msgspec.Struct, gc=False):
    """``<symbol>@depth[@100ms]``: one diff of the book, update ids ``first..final``."""

    event_ms: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    bids: list[Level] = msgspec.field(name="b")
    asks: list[Level] = msgspec.field(name="a")


class DepthFrame(msgspec.Struct, gc=False):
    """A combined-stream frame known to carry a ``depthUpdate``, decoded in one pass.

    Depth is most of a market stream's traffic; decoding the wrapper and the diff together
    saves the second decoder call of the generic ``StreamFrame`` route (about 2 of 7 us a
    frame of 35 levels here).
    """

    stream: str
    data: DepthUpdate


class DepthSnapshot(msgspec.Struct, gc=False):
    """REST ``GET /api/v3/depth`` answer (also ``@depthN`` partial-book frames)."""

    last_update_id: int = msgspec.field(name="lastUpdateId")
    bids: list[Level]
    asks: list[Level]


class BookTickerMsg(msgspec.Struct, gc=False):
    """``<symbol>@bookTicker``: best bid and ask, with the book's update id."""

    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid: float = msgspec.field(name="b")
    bid_qty: float = msgspec.field(name="B")
    ask: float = msgspec.field(name="a")
    ask_qty: float = msgspec.field(name="A")


class TradeMsg(msgspec.Struct, gc=False):
    """``<symbol>@trade``: one public trade."""

    event_ms: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: float = msgspec.field(name="p")
    qty: float = msgspec.field(name="q")
    trade_ms: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")

    def to_trade(self) -> Trade:
        """The domain trade."""
        return Trade(
            symbol=self.symbol,
            trade_id=self.trade_id,
            price=self.price,
            qty=self.qty,
            time_ms=self.trade_ms,
            buyer_is_maker=self.buyer_is_maker,
        )


class HistoricalTradeRow(msgspec.Struct, gc=False):
    """One entry of ``GET /api/v3/historicalTrades`` (and ``/trades``)."""

    trade_id: int = msgspec.field(name="id")
    price: float
    qty: float
    time_ms: int = msgspec.field(name="time")
    buyer_is_maker: bool = msgspec.field(name="isBuyerMaker")

    def to_trade(self, symbol: str) -> Trade:
        """The domain trade (the payload does not name its symbol)."""
        return Trade(
            symbol=symbol,
            trade_id=self.trade_id,
            price=self.price,
            qty=self.qty,
            time_ms=self.time_ms,
            buyer_is_maker=self.buyer_is_maker,
        )


class MiniTickerMsg(msgspec.Struct, gc=False):
    """``<symbol>@miniTicker``: rolling 24-hour open, high, low, close and volumes."""

    event_ms: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    close: float = msgspec.field(name="c")
    open: float = msgspec.field(name="o")
    high: float = msgspec.field(name="h")
    low: float = msgspec.field(name="l")
    volume: float = msgspec.field(name="v")
    quote_volume: float = msgspec.field(name="q")

    def to_ticker(self) -> Ticker:
        """The domain ticker."""
        return Ticker(
            symbol=self.symbol,
            last=self.close,
            open=self.open,
            high=self.high,
            low=self.low,
            volume=self.volume,
            quote_volume=self.quote_volume,
            time_ms=self.event_ms,
        )


class KlineRow(msgspec.Struct, array_like=True, gc=False):
    """One row of REST ``GET /api/v3/klines`` (a 12-element array)."""

    open_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    close_ms: int
    quote_volume: float
    trades: int
    taker_buy_volume: float
    taker_buy_quote_volume: float
    ignore: str = "0"

    def to_candle(self, symbol: str, interval: str, now_ms: int) -> Candle:
        """The domain candle; closed once its close time has passed."""
        return Candle(
            symbol=symbol,
            interval=interval,
            open_ms=self.open_ms,
            close_ms=self.close_ms,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            quote_volume=self.quote_volume,
            trades=self.trades,
            taker_buy_volume=self.taker_buy_volume,
            taker_buy_quote_volume=self.taker_buy_quote_volume,
            closed=self.close_ms < now_ms,
        )


stream_frame_decoder = msgspec.json.Decoder(StreamFrame)
depth_update_decoder = msgspec.json.Decoder(DepthUpdate, strict=False)
depth_frame_decoder = msgspec.json.Decoder(DepthFrame, strict=False)
depth_snapshot_decoder = msgspec.json.Decoder(DepthSnapshot, strict=False)
book_ticker_decoder = msgspec.json.Decoder(BookTickerMsg, strict=False)
trade_decoder = msgspec.json.Decoder(TradeMsg, strict=False)
mini_ticker_decoder = msgspec.json.Decoder(MiniTickerMsg, strict=False)
klines_decoder = msgspec.json.Decoder(list[KlineRow], strict=False)


def stream_kind(stream: str) -> str:
    """The kind part of a stream name: ``ethusdt@depth@100ms`` -> ``depth``."""
    at = stream.find("@")
    if at < 0:
        return stream
    rest = stream[at + 1 :]
    end = rest.find("@")
    kind = rest if end < 0 else rest[:end]
    if kind.startswith("depth") and kind != "depth":
        return "partial_depth"  # depth5, depth10, depth20
    return kind
