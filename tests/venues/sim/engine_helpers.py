"""Shared set-up for the matching-engine tests: an engine on a controllable clock."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from omnitrade_tui.domain import OrderRequest, OrderType, Side, TimeInForce
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.matching import MatchingEngine, SimEvent
from omnitrade_tui.venues.sim.symbols import default_instruments


class Clock:
    """Milliseconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def make_engine(
    balances: dict[str, str] | None = None, accounts: int = 2
) -> tuple[MatchingEngine, list[Account], list[SimEvent]]:
    """An ETHUSDT/BTCUSDT engine with funded accounts and a list collecting its events."""
    engine = MatchingEngine(default_instruments(["BTCUSDT", "ETHUSDT"]), Clock())
    events: list[SimEvent] = []
    engine.listeners.append(events.append)
    funded = []
    for i in range(accounts):
        acct = engine.add_account(Account(i + 1))
        for asset, amount in (balances or {"USDT": "1000000", "ETH": "1000", "BTC": "10"}).items():
            acct.deposit(asset, D(amount))
        funded.append(acct)
    return engine, funded, events


def limit(side: Side, price: str, qty: str, tif: str = "GTC", **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol="ETHUSDT",
        side=side,
        type=OrderType.LIMIT,
        price=D(price),
        quantity=D(qty),
        time_in_force=TimeInForce(tif),
        **kw,
    )


def market(side: Side, qty: str | None = None, quote: str | None = None, **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol="ETHUSDT",
        side=side,
        type=OrderType.MARKET,
        quantity=D(qty) if qty else None,
        quote_order_qty=D(quote) if quote else None,
        **kw,
    )


def totals(engine: MatchingEngine) -> dict[str, D]:
    """Every asset summed over all accounts (free + locked) plus fees collected."""
    out: dict[str, D] = {}
    for acct in engine.accounts.values():
        for asset in acct.assets():
            free, locked = acct.balance(asset)
            out[asset] = out.get(asset, D(0)) + free + locked
    for asset, fee in engine.fees.items():
        out[asset] = out.get(asset, D(0)) + fee
    return out
