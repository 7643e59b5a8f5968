"""The watchlist, balances and positions of a run of several venues, as rows: one pair or
asset across venues is one group, each venue's row says its venue, and what adds up is
summed (no Textual: the rows are built from the screen's state)."""

from __future__ import annotations

from decimal import Decimal

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.events import BalancesChanged, PositionsChanged, PositionValue
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import Balance
from omnitrade_tui.tui.rows import balance_rows, position_rows, watch_rows
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.widgets.row_table import Row

D = Decimal


def _state() -> tuple[Bus, TerminalState]:
    bus = Bus()
    instruments = {
        i: Instrument(symbol=i, base_asset=b, quote_asset=q)
        for i, b, q in (
            ("BTCUSDT", "BTC", "USDT"),
            ("BTCUSDT@alt", "BTC@alt", "USDT@alt"),
            ("ETHUSDT", "ETH", "USDT"),
        )
    }
    state = TerminalState(bus, instruments, ("BTCUSDT", "BTCUSDT@alt", "ETHUSDT"))
    state.start()
    return bus, state


def _texts(rows: list[Row]) -> list[list[str]]:
    return [[text for text, _cls in row.cells] for row in rows]


def test_the_watchlist_names_a_second_venue_under_its_pair() -> None:
    _, state = _state()
    labels = [cells[0] for cells in _texts(watch_rows(state))]
    assert labels == ["▸BTCUSDT", " └@alt", " ETHUSDT"]


def test_an_asset_on_two_venues_shows_each_then_their_sum() -> None:
    bus, state = _state()
    bus.publish(
        topics.BALANCE,
        BalancesChanged(
            balances=[
                Balance(asset="USDT", free=D("100.5"), locked=D(1)),
                Balance(asset="USDT@alt", free=D("50.25")),
                Balance(asset="BTC@alt", free=D("0.5")),
            ]
        ),
    )
    rows = _texts(balance_rows(state))
    assert rows == [
        # BTC@alt's places are its instrument's step (eight, unset here).
        ["BTC@alt", "0.50000000", "0.00000000", "0.50000000"],
        ["USDT", "100.50", "1.00", "101.50"],
        ["└@alt", "50.25", "0.00", "50.25"],
        ["Σ USDT", "150.75", "1.00", "151.75"],
    ]


def test_a_pair_held_on_two_venues_adds_up() -> None:
    bus, state = _state()

    def position(symbol: str, qty: str, net: str) -> PositionValue:
        venue_tail = symbol.partition("@")[2]
        quote = "USDT" + (f"@{venue_tail}" if venue_tail else "")
        return PositionValue(
            symbol=symbol,
            base_asset="BTC",
            quote_asset=quote,
            qty=D(qty),
            avg_price=D(100),
            mark=D(110),
            realized_pnl=D(0),
            unrealized_pnl=D(net),
            fees_quote=D(0),
            net_pnl=D(net),
            bought=D(qty),
            sold=D(0),
        )

    bus.publish(
        topics.POSITIONS,
        PositionsChanged(
            positions=[position("BTCUSDT", "1", "10"), position("BTCUSDT@alt", "2", "20")]
        ),
    )
    rows = _texts(position_rows(state))
    assert [r[0] for r in rows] == ["BTCUSDT", "BTCUSDT@alt", "Σ BTCUSDT"]
    total = rows[-1]
    assert total[1] == "3.00000000" and total[-1] == "+30.00"
