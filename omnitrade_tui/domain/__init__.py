"""The domain: value types and pure logic. No I/O, no asyncio, nothing else of ours.

Import from here: ``from omnitrade_tui.domain import OrderBook, Instrument, Side``.
"""

from omnitrade_tui.domain.book import DiffResult, OrderBook, Sweep
from omnitrade_tui.domain.candles import INTERVAL_MS, CandleBuilder, build_candles, candle_open
from omnitrade_tui.domain.decimals import (
    DecimalFormatError,
    fmt,
    fmt_fixed,
    parse_decimal,
    round_price,
    round_quantity,
    round_to_increment,
)
from omnitrade_tui.domain.enums import (
    ExecutionType,
    OrderStatus,
    OrderType,
    Rounding,
    SelfTradePreventionMode,
    Side,
    TimeInForce,
)
from omnitrade_tui.domain.filters import FilterViolation, ValidationContext, validate_order
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import (
    Balance,
    BookLevel,
    Candle,
    ExecutionReport,
    Fill,
    Order,
    OrderRequest,
    Ticker,
    Trade,
    new_client_order_id,
)

__all__ = [
    "INTERVAL_MS",
    "Balance",
    "BookLevel",
    "Candle",
    "CandleBuilder",
    "DecimalFormatError",
    "DiffResult",
    "ExecutionReport",
    "ExecutionType",
    "Fill",
    "FilterViolation",
    "Instrument",
    "Order",
    "OrderBook",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Rounding",
    "SelfTradePreventionMode",
    "Side",
    "Sweep",
    "Ticker",
    "TimeInForce",
    "Trade",
    "ValidationContext",
    "build_candles",
    "candle_open",
    "fmt",
    "fmt_fixed",
    "new_client_order_id",
    "parse_decimal",
    "round_price",
    "round_quantity",
    "round_to_increment",
    "validate_order",
]
