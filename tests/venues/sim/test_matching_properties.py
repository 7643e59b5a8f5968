"""Property tests of the matching engine over random order flow from several accounts."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.enums import SelfTradePreventionMode
from omnitrade_tui.venues.sim.errors import SimError
from omnitrade_tui.venues.sim.matching import MatchingEngine
from tests.venues.sim.engine_helpers import make_engine, totals

prices = st.integers(min_value=1990 * 100, max_value=2010 * 100).map(lambda c: D(c) / 100)
coarse_prices = st.integers(min_value=1990, max_value=2010).map(D)
qtys = st.integers(min_value=1, max_value=30).map(lambda n: D(n) / 10)
sides = st.sampled_from([Side.BUY, Side.SELL])
# None takes the symbol's default (EXPIRE_TAKER); the account's own orders meet often.
STP_MODES = [None, *SelfTradePreventionMode]
stp_modes = st.sampled_from(STP_MODES)

limit_op = st.tuples(
    st.just("limit"),
    st.integers(0, 2),
    sides,
    st.one_of(prices, coarse_prices),
    qtys,
    st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
    stp_modes,
)
market_op = st.tuples(st.just("market"), st.integers(0, 2), sides, qtys, stp_modes)
quote_op = st.tuples(st.just("quote"), st.integers(0, 2), sides, st.integers(10, 3000).map(D))
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(0, 50))
stop_op = st.tuples(st.just("stop"), st.integers(0, 2), sides, coarse_prices, qtys)
ops = st.lists(
    st.one_of(limit_op, limit_op, market_op, quote_op, cancel_op, stop_op), min_size=5, max_size=60
)


def apply(engine: MatchingEngine, accounts: list[Any], op: tuple[Any, ...]) -> None:
    kind, who = op[0], accounts[op[1]]
    try:
        if kind == "limit":
            _, _, side, price, qty, tif, stp = op
            req = OrderRequest(
                symbol="ETHUSDT",
                side=side,
                type=OrderType.LIMIT,
                price=price,
                quantity=qty,
                time_in_force=TimeInForce(tif),
                stp_mode=stp,
            )
            order = engine.place(who, req).order
            if tif != "GTC":
                assert not order.is_open  # IOC and FOK never rest
            if tif == "FOK":
                assert order.executed_qty in (0, qty)
            # What it asked for is executed, prevented, or still to do: nothing more.
            assert order.executed_qty + order.prevented_qty + order.remaining == qty
        elif kind == "market":
            _, _, side, qty, stp = op
            req = OrderRequest(
                symbol="ETHUSDT", side=side, type=OrderType.MARKET, quantity=qty, stp_mode=stp
            )
            assert not engine.place(who, req).order.is_open
        elif kind == "quote":
            _, _, side, quote = op
            req = OrderRequest(
                symbol="ETHUSDT", side=side, type=OrderType.MARKET, quote_order_qty=quote
            )
            order = engine.place(who, req).order
            assert order.cum_quote <= quote
        elif kind == "cancel":
            open_orders = engine.open_orders(who, "ETHUSDT")
            if open_orders:
                engine.cancel(who, "ETHUSDT", open_orders[op[2] % len(open_orders)].order_id)
        elif kind == "stop":
            _, _, side, price, qty = op
            req = OrderRequest(
                symbol="ETHUSDT",
                side=side,
                type=OrderType.STOP_LOSS_LIMIT,
                stop_price=price,
                price=price,
                quantity=qty,
                time_in_force=TimeInForce.GTC,
            )
            engine.place(who, req)
    except SimError as exc:
        assert exc.code in (-1013, -1112, -2010, -2011), exc  # noqa: PT017


def check_invariants(engine: MatchingEngine, initial: dict[str, D]) -> None:
    assert totals(engine) == initial, "money was created or destroyed"
    book = engine.books["ETHUSDT"]
    bid, ask = book.bids.best(), book.asks.best()
    assert bid is None or ask is None or bid < ask, "a resting book is crossed"
    locked: dict[tuple[int, str], D] = {}
    for side in (book.bids, book.asks):
        assert side.prices == sorted(side.prices)
        for price in side.prices:
            queue = list(side.queues[price])
            assert queue, "an empty level stayed in the book"
            # A stop order joins the book when it triggers, behind orders placed before
            # that moment but after it was created: time priority is by working time,
            # and by order id among orders that rested from the start.
            working = [o.working_ms for o in queue]
            assert working == sorted(working), "time priority broken within a level"
            direct = [o.order_id for o in queue if not o.triggered]
            assert direct == sorted(direct), "time priority broken within a level"
            # The book shows what each order shows: all of it, or an iceberg's part.
            assert side.totals[price] == sum(o.visible for o in queue)
            for o in queue:
                assert o.is_open and 0 < o.remaining <= o.orig_qty
                assert 0 < o.visible <= o.remaining
                assert o.iceberg_qty is not None or o.visible == o.remaining
                assert o.price is not None and o.price % D("0.01") == 0
                assert o.orig_qty % D("0.0001") == 0
    for o in engine.orders.values():
        assert 0 <= o.executed_qty <= o.orig_qty, "overfill"
        assert o.executed_qty + o.prevented_qty <= o.orig_qty, "prevented more than was left"
        if o.is_open:
            key = (o.account.account_id, o.locked_asset)
            locked[key] = locked.get(key, D(0)) + o.locked
        else:
            assert o.locked == 0, "a finished order still holds funds"
    for acct in engine.accounts.values():
        for asset in acct.assets():
            assert acct.balance(asset)[1] == locked.get((acct.account_id, asset), D(0))
            assert acct.balance(asset)[0] >= 0


@settings(max_examples=150, deadline=None)
@given(ops)
def test_random_flow_keeps_every_invariant(flow: list[tuple[Any, ...]]) -> None:
    engine, accounts, _ = make_engine(balances={"USDT": "50000", "ETH": "20"}, accounts=3)
    initial = totals(engine)
    for op in flow:
        apply(engine, accounts, op)
        check_invariants(engine, initial)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(sides, coarse_prices, qtys), min_size=2, max_size=25), qtys)
def test_a_taker_walks_the_book_best_price_first(resting: list[tuple[Side, D, D]], take: D) -> None:
    engine, (maker, taker), _ = make_engine(balances={"USDT": "1000000", "ETH": "1000"})
    for _side, price, qty in resting:
        engine.place(
            maker,
            OrderRequest(
                symbol="ETHUSDT",
                side=Side.SELL,
                type=OrderType.LIMIT,
                price=price,
                quantity=qty,
                time_in_force=TimeInForce.GTC,
            ),
        )
    asks_before = engine.books["ETHUSDT"].asks.depth(100)
    res = engine.place(
        taker, OrderRequest(symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=take)
    )
    fill_prices = [f.price for f in res.fills]
    assert fill_prices == sorted(fill_prices)
    # It took exactly the cheapest levels, in order.
    need, expected = take, []
    for price, qty in asks_before:
        if need <= 0:
            break
        expected.append((price, min(qty, need)))
        need -= min(qty, need)
    got: dict[D, D] = {}
    for f in res.fills:
        got[f.price] = got.get(f.price, D(0)) + f.qty
    assert sorted(got.items()) == expected
    assert res.order.status in (OrderStatus.FILLED, OrderStatus.EXPIRED)


def test_long_seeded_flows_keep_every_invariant() -> None:
    """Hypothesis shrinks toward short flows; these long ones make the book deep and busy."""
    import random

    traded = 0
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        engine, accounts, events = make_engine(
            balances={"USDT": "200000", "ETH": "100"}, accounts=3
        )
        initial = totals(engine)
        for _ in range(600):
            who = rng.randrange(3)
            side = rng.choice([Side.BUY, Side.SELL])
            price = D(rng.randint(199_000, 201_000)) / 100
            qty = D(rng.randint(1, 30)) / 10
            roll = rng.random()
            if roll < 0.6:
                op: tuple[Any, ...] = (
                    "limit",
                    who,
                    side,
                    price,
                    qty,
                    rng.choice(["GTC", "IOC", "FOK"]),
                    rng.choice(STP_MODES),
                )
            elif roll < 0.75:
                op = ("market", who, side, qty, rng.choice(STP_MODES))
            elif roll < 0.8:
                op = ("quote", who, side, D(rng.randint(10, 3000)))
            elif roll < 0.93:
                op = ("cancel", who, rng.randrange(50))
            else:
                op = ("stop", who, side, price.quantize(D(1)), qty)
            apply(engine, accounts, op)
            check_invariants(engine, initial)
        traded += sum(1 for e in events if type(e).__name__ == "TradePrinted")
    assert traded > 300  # the flows really trade
