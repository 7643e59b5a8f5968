"""The fault drill: the whole Binance connector against the simulated venue with faults
on, orders flowing through the bus, and every invariant checked after.

The integration tests, the CI soak test and ``python -m benchmarks connector --soak`` all
use it. The drill drives the venue through ``VenueControl``: ``LocalVenue`` is the sim in
this process (the tests, which also reach into it); ``benchmarks.sim_process.SimProcess``
is the sim in a process of its own (the long soak, so that this process holds only the
connector and its memory can be judged: an exchange keeps every order and trade).

Invariants, checked against the venue's own records: the local books equal the venue's
level by level; the fills the bus told of are exactly the venue's trades for the account
(none lost, none made up); every order the bus told of is, as last told, in its true
state (no ``UNKNOWN`` left); no request was sent inside a ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

import httpx

from omnitrade_tui.bus import Bus, CommandTimeout, each, topics
from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.commands import CancelOrder, PlaceOrder
from omnitrade_tui.domain.events import BookState, BookTop, OrderUpdated
from omnitrade_tui.engine.order_manager import OrderManager, OrderRefused
from omnitrade_tui.venues.binance.execution import BinanceExecution
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceRest, Credentials
from omnitrade_tui.venues.binance.user_data import UserDataStream
from omnitrade_tui.venues.sim.venue import SimVenue

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
#: The sim's demo account (the one ``demo_key`` trades for).
ACCOUNT = 1

#: Per client order id: the venue's status, executed quantity and order id, or None when
#: the venue never saw the order.
OrderTruth = tuple[OrderStatus, Decimal, int] | None


class VenueControl(Protocol):
    """What the drill needs of a simulated venue: where it is, its fault switches, and its
    records to check the connector against."""

    rest_url: str
    stream_url: str
    ws_api_url: str
    demo_key: tuple[str, str]

    async def set_faults(self, **values: float) -> None:
        """Set fault switches (``SimVenue.faults`` attributes)."""
        ...

    async def fail_next_orders(self, n: int) -> None:
        """Answer ``n`` more accepted orders with a 503 (outcome unknown)."""
        ...

    async def stall(self, seconds: float) -> None:
        """Stall every stream connection."""
        ...

    async def skew_clock(self, offset_ms: int) -> None:
        """Set the venue's clock offset."""
        ...

    async def freeze(self) -> None:
        """Stop the generated market (only our orders act from now on)."""
        ...

    async def book(self, symbol: str) -> tuple[int, dict[float, float], dict[float, float]]:
        """The venue's book: last update id, bids and asks (price to quantity)."""
        ...

    async def my_trades(self) -> dict[tuple[str, int], tuple[Decimal, Decimal]]:
        """The account's trades: (symbol, trade id) to (quantity, price)."""
        ...

    async def orders(self, refs: list[tuple[str, str]]) -> dict[str, OrderTruth]:
        """The venue's view of the account's orders, by (symbol, client order id)."""
        ...

    async def ignored_retry_after(self) -> tuple[int, list[str]]:
        """Requests that reached the venue inside a ``Retry-After``: count, a few."""
        ...


class SaidOrder(NamedTuple):
    """An order as the bus last told of it."""

    symbol: str
    status: OrderStatus
    filled_qty: str


class LocalVenue:
    """``VenueControl`` over a ``SimVenue`` running in this process."""

    def __init__(self, sim: SimVenue) -> None:
        self.sim = sim
        self.rest_url = sim.rest_url
        self.stream_url = sim.stream_url
        self.ws_api_url = sim.ws_api_url
        self.demo_key = sim.demo_key

    async def set_faults(self, **values: float) -> None:
        """Set fault switches."""
        faults = self.sim.faults
        for name, value in values.items():
            setattr(faults, name, type(getattr(faults, name))(value))

    async def fail_next_orders(self, n: int) -> None:
        """Answer ``n`` more accepted orders with a 503."""
        self.sim.faults.fail_orders += n

    async def stall(self, seconds: float) -> None:
        """Stall every stream connection."""
        self.sim.hub.stall_all(seconds)

    async def skew_clock(self, offset_ms: int) -> None:
        """Set the venue's clock offset."""
        self.sim.clock_offset_ms = offset_ms

    async def freeze(self) -> None:
        """Stop the generated market."""
        self.sim.generator = None

    async def book(self, symbol: str) -> tuple[int, dict[float, float], dict[float, float]]:
        """The venue's book."""
        engine = self.sim.engine
        book = engine.books[symbol]
        return (
            engine.update_ids[symbol],
            {float(p): float(q) for p, q in book.bids.depth(100_000)},
            {float(p): float(q) for p, q in book.asks.depth(100_000)},
        )

    async def my_trades(self) -> dict[tuple[str, int], tuple[Decimal, Decimal]]:
        """The account's trades."""
        return {
            (t["symbol"], int(t["id"])): (Decimal(t["qty"]), Decimal(t["price"]))
            for t in self.sim.my_trades.get(ACCOUNT, [])
        }

    async def orders(self, refs: list[tuple[str, str]]) -> dict[str, OrderTruth]:
        """The venue's view of the account's orders."""
        engine = self.sim.engine
        account = engine.accounts[ACCOUNT]
        out: dict[str, OrderTruth] = {}
        for symbol, client_id in refs:
            truth = engine.find_order(account, symbol, client_order_id=client_id)
            out[client_id] = (
                None if truth is None else (truth.status, truth.executed_qty, truth.order_id)
            )
        return out

    async def ignored_retry_after(self) -> tuple[int, list[str]]:
        """Requests that reached the venue inside a ``Retry-After``."""
        sim = self.sim
        return sim.ignored_retry_after_total, [str(i) for i in list(sim.ignored_retry_after)[:20]]


@dataclass
class DrillFaults:
    """Which faults a drill turns on (each alone is a scenario; all together is the mix)."""

    gaps: bool = False
    drops: bool = False
    delay: bool = False
    stall: bool = False
    fail_orders: bool = False
    skew: bool = False
    throttle: bool = False
    renew: bool = False

    @classmethod
    def everything(cls) -> DrillFaults:
        """Every fault at once."""
        return cls(True, True, True, True, True, True, True, True)


class Drill:
    """A venue, and the connector wired as the runtime wires it: market stream, REST,
    user data with reconciliation on every (re)subscription, and the order manager on the
    bus, with a trader placing, and now and then cancelling, orders through the bus."""

    def __init__(self, venue: VenueControl, faults: DrillFaults) -> None:
        self.venue = venue
        self.faults = faults
        self.bus = Bus()
        creds = Credentials(*venue.demo_key)
        self.rest = BinanceRest(venue.rest_url, creds, bus=self.bus)
        self.stream = MarketStream(
            venue.stream_url,
            self.rest,
            self.bus,
            SYMBOLS,
            watchdog_s=1.0,
            max_backoff_s=1.0,
            max_life_s=1.5 if faults.renew else 3600.0,
        )
        self.manager = OrderManager(self.bus, BinanceExecution(self.rest), SYMBOLS)
        self.manager.register()
        self.user = UserDataStream(
            venue.ws_api_url,
            creds,
            self.bus,
            max_backoff_s=1.0,
            on_subscribed=self._reconcile,
            clock_ms=self.rest.now_ms,
            resync_clock=self.rest.sync_time,
            max_life_s=2.5 if faults.renew else 3600.0,
        )
        self.placed = 0
        self.refused: dict[int | None, int] = {}
        self.unknown = 0
        self.timeouts = 0
        self.banned = 0
        self.reconciles = 0
        self._skewed = False
        # Checked as they happen, not kept (a 30-minute soak sends tens of thousands): a
        # request sent after a 429/418 arrived and inside its Retry-After is noted.
        self.requests = 0
        self.throttled = 0  # 429/418 answers seen
        self.early: list[str] = []  # requests sent inside a Retry-After (a few kept)
        self.early_total = 0
        self._wait_until = 0.0  # monotonic: the latest end of a Retry-After we were given
        # Crossed books published (the soak's "zero crossed books"): counted on the bus.
        self.crossed = 0
        self.bus.subscribe("md.book.*", each(self._check_crossed), name="drill.crossed")
        # What the bus said of our orders and fills, as the screen and the store hear it
        # (the order manager keeps only recent ones): the newest state of every order, and
        # every fill once, with how many times a fill was said again. Kept small (no
        # Order or Fill objects held), so the soak's live-object counts are the connector's.
        self.said_orders: dict[str, SaidOrder] = {}
        self.said_fills: dict[tuple[str, int], tuple[str, str, int]] = {}
        self.fills_said_again = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self.bus.subscribe(topics.ORDER, each(self._on_order))
        self.rest._http.event_hooks["request"].append(self._on_request)
        self.rest._http.event_hooks["response"].append(self._on_response)

    @property
    def sim(self) -> SimVenue:
        """The in-process sim, for tests that set it up by hand."""
        assert isinstance(self.venue, LocalVenue), "the venue runs in another process"
        return self.venue.sim

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls, faults: DrillFaults, seed: int = 5, venue: VenueControl | None = None
    ) -> AsyncIterator[Drill]:
        """A running drill (connected, books live, user data subscribed), against
        ``venue`` or else a sim started here."""
        async with contextlib.AsyncExitStack() as stack:
            if venue is None:
                sim = await stack.enter_async_context(SimVenue.start(symbols=SYMBOLS, seed=seed))
                venue = LocalVenue(sim)
            drill = cls(venue, faults)
            drill._tasks = [
                asyncio.create_task(drill.stream.run()),
                asyncio.create_task(drill.user.run()),
            ]
            try:
                await drill.wait_live(10.0)
                yield drill
            finally:
                for task in drill._tasks:
                    task.cancel()
                await asyncio.gather(*drill._tasks, return_exceptions=True)
                await drill.stream.aclose()
                await drill.user.aclose()
                await drill.manager.aclose()
                await drill.rest.aclose()

    async def _on_request(self, request: httpx.Request) -> None:
        self.requests += 1
        # 20 ms of slack: our clock reads and the venue's rounding, not a real violation.
        if time.monotonic() < self._wait_until - 0.02:
            self.early_total += 1
            if len(self.early) < 20:
                self.early.append(f"{request.method} {request.url.path}")

    async def _on_response(self, response: httpx.Response) -> None:
        if response.status_code in (429, 418):
            retry = float(response.headers.get("Retry-After", "0"))
            self.throttled += 1
            self._wait_until = max(self._wait_until, time.monotonic() + retry)
            self.banned += response.status_code == 418

    def _on_order(self, topic: str, event: Any) -> None:
        if not isinstance(event, OrderUpdated):
            return
        order, fill = event.report.order, event.report.fill
        if order.status is OrderStatus.UNKNOWN:
            self.unknown += 1
        known = self.said_orders.get(order.client_order_id)
        if order.status.supersedes(None if known is None else known.status):
            self.said_orders[order.client_order_id] = SaidOrder(
                order.symbol, order.status, str(order.filled_qty)
            )
        if fill is not None:
            key = (fill.symbol, fill.trade_id)
            if key in self.said_fills:
                self.fills_said_again += 1
            else:
                self.said_fills[key] = (str(fill.qty), str(fill.price), fill.order_id)

    async def _reconcile(self) -> None:
        # A failure propagates: the user-data stream tries again, its events held meanwhile.
        await self.manager.reconcile()
        self.reconciles += 1

    async def wait_live(self, timeout: float) -> None:
        """Until every book is live and user data is subscribed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.user.subscribed.is_set() and all(
                s.state is BookState.LIVE for s in self.stream.books.values()
            ):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not live in {timeout}s: {self.diagnosis()}")

    def diagnosis(self) -> str:
        """Where the connector stands, for a failed check."""
        states = {s: str(b.state) for s, b in self.stream.books.items()}
        rest = self.rest
        return (
            f"books {states}, user subscribed {self.user.subscribed.is_set()}, circuit "
            f"{rest.circuit.state}, blocked for "
            f"{max(0.0, rest._blocked_until - time.monotonic()):.1f}s, weight {rest.weight_used}"
            f" (held {rest.held}), clock offset {rest.offset_ms} ms (venue skewed "
            f"{self._skewed}), stream renewals {self.stream.renewals} "
            f"reconnects {self.stream.reconnects}"
        )

    # -- faults and trading -----------------------------------------------------------------

    async def chaos(self, seconds: float) -> None:
        """Turn the chosen faults on, on a schedule, for ``seconds``."""
        f, venue = self.faults, self.venue
        await venue.set_faults(
            gap_every_s=1.3 if f.gaps else 0,
            close_every_s=4.0 if f.drops else 0,
            delay_ms=40 if f.delay else 0,
            max_connection_s=2.0 if f.renew else 0,
            retry_after_s=1,
        )
        loop = asyncio.get_running_loop()
        start = loop.time()
        beat = 0
        while loop.time() - start < seconds:
            await asyncio.sleep(0.5)
            beat += 1
            if f.fail_orders and beat % 3 == 0:
                await venue.fail_next_orders(1)
            if f.stall and beat % 9 == 4:
                await venue.stall(1.5)
            if f.throttle and beat % 8 == 2:
                # One 429 a burst, Retry-After 1 s: every request, queued or new, must wait
                # it out (the venue records any that does not, and bans after three).
                await venue.set_faults(throttle=1)
            if f.skew and beat % 10 == 5:
                # Beyond the 10 s receive window: -1021, then one clock resync and a retry.
                self._skewed = not self._skewed
                await venue.skew_clock(12_000 if self._skewed else 0)
        await self.calm()

    async def calm(self) -> None:
        """Every fault off (the clock skew stays: the client follows the venue's clock)."""
        await self.venue.set_faults(
            gap_every_s=0,
            close_every_s=0,
            delay_ms=0,
            fail_orders=0,
            throttle=0,
            max_connection_s=0,
        )

    def _touch(self, symbol: str, side: Side) -> Decimal | None:
        """The best price on ``side`` of our own book (what a trader would join)."""
        book = self.stream.books[symbol].book
        best = book.best_bid if side is Side.BUY else book.best_ask
        return None if best is None else Decimal(str(best))

    async def trade(self, seconds: float, per_second: float = 3.0) -> None:
        """Place orders through the bus: market orders both ways, limits at the touch
        (some fill later), cancels of a resting one now and then."""
        rng = random.Random(11)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < seconds:
            await asyncio.sleep(1 / per_second)
            symbol = rng.choice(SYMBOLS)
            qty = Decimal("0.002") if symbol == "BTCUSDT" else Decimal("0.05")
            side = rng.choice([Side.BUY, Side.SELL])
            try:
                if rng.random() < 0.5:
                    req = OrderRequest(
                        symbol=symbol, side=side, type=OrderType.MARKET, quantity=qty
                    )
                else:
                    touch = self._touch(symbol, side)
                    if touch is None:
                        continue
                    req = OrderRequest(
                        symbol=symbol,
                        side=side,
                        type=OrderType.LIMIT,
                        time_in_force=TimeInForce.GTC,
                        price=touch,
                        quantity=qty,
                    )
                self.placed += 1
                await self.bus.request(PlaceOrder(request=req))
                resting = self.manager.open_orders(symbol)
                if resting and rng.random() < 0.3:
                    victim = rng.choice(resting).client_order_id
                    await self.bus.request(CancelOrder(symbol=symbol, client_order_id=victim))
            except OrderRefused as exc:
                self.refused[exc.code] = self.refused.get(exc.code, 0) + 1
            except CommandTimeout:
                # Slow under faults (a ban waited out, a clock resync): the manager goes
                # on with it, and its outcome arrives as events.
                self.timeouts += 1

    # -- invariants -------------------------------------------------------------------------

    async def settle(self, timeout: float = 75.0) -> None:
        """After the faults: live again, settlements done, one last reconciliation."""
        await self.calm()
        await self.wait_live(timeout)
        for _ in range(int(timeout * 10)):  # placements whose command timed out, still going
            if not any(o.status is OrderStatus.PENDING_NEW for o in self.manager.orders.values()):
                break
            await asyncio.sleep(0.1)
        await self.manager.aclose()  # settlements in flight
        for _ in range(3):
            report = await self.manager.reconcile()
            if not report.orders_changed and not report.fills_added:
                break

    async def converge(self, symbol: str) -> None:
        """Freeze the venue's market; the local book must equal it level by level."""
        await self.venue.freeze()
        sync = self.stream.books[symbol]
        venue_id, want_bids, want_asks = await self.venue.book(symbol)
        for _ in range(100):
            if sync.state is BookState.LIVE and sync.book.last_update_id == venue_id:
                break
            await asyncio.sleep(0.1)
            venue_id, want_bids, want_asks = await self.venue.book(symbol)
        assert sync.state is BookState.LIVE, f"{symbol} is {sync.state}: {self.diagnosis()}"
        assert sync.book.last_update_id == venue_id, (
            f"{symbol}: local book at {sync.book.last_update_id}, venue at {venue_id}; "
            f"{sync.gaps} gaps, {sync.resyncs} resyncs; {self.diagnosis()}"
        )
        assert sync.book.levels(Side.BUY) == want_bids, f"{symbol} bids differ"
        assert sync.book.levels(Side.SELL) == want_asks, f"{symbol} asks differ"

    async def check_fills(self) -> int:
        """The fills published on the bus are exactly the venue's trades for the account;
        their count."""
        venue = await self.venue.my_trades()
        ours = {k: (Decimal(qty), Decimal(price)) for k, (qty, price, _) in self.said_fills.items()}
        lost = sorted(set(venue) - set(ours))
        extra = sorted(set(ours) - set(venue))
        assert not lost, f"fills lost: {lost[:5]}"
        assert not extra, f"fills we have that the venue never made: {extra[:5]}"
        assert ours == venue, "a fill's quantity or price differs from the venue's"
        return len(venue)

    async def check_orders(self) -> Counter[str]:
        """Every order the bus told of is, as last told, in its true state (none UNKNOWN,
        none left PENDING_NEW); statuses counted."""
        truths = await self.venue.orders(
            [(o.symbol, client_id) for client_id, o in self.said_orders.items()]
        )
        statuses: Counter[str] = Counter()
        by_order: dict[int, Decimal] = {}
        for qty, _price, order_id in self.said_fills.values():
            by_order[order_id] = by_order.get(order_id, Decimal(0)) + Decimal(qty)
        for client_id, order in self.said_orders.items():
            truth = truths[client_id]
            statuses[str(order.status)] += 1
            assert order.status is not OrderStatus.UNKNOWN, f"{client_id} still UNKNOWN"
            if truth is None:
                assert order.status is OrderStatus.REJECTED, f"{client_id}: venue never saw it"
                continue
            status, executed, order_id = truth
            assert order.status is status, f"{client_id}: {order.status} != {status}"
            assert Decimal(order.filled_qty) == executed, f"{client_id}: filled qty differs"
            assert by_order.get(order_id, Decimal(0)) == executed, (
                f"{client_id}: its fills do not add up to its filled quantity"
            )
        return statuses

    async def check_no_spinning(self) -> int:
        """No request was sent while a ``Retry-After`` was running; the 429s seen.

        Seen from both ends: our side (a request sent after a 429/418 arrived, inside its
        ``Retry-After``) and the venue's (a request that reached it while a ``Retry-After``
        it gave was running, less those plainly in flight when it was written)."""
        # Requests sent before the 429 arrived were already in flight: not counted.
        assert not self.early_total, (
            f"{self.early_total} requests inside a Retry-After: {self.early}"
        )
        total, ignored = await self.venue.ignored_retry_after()
        assert not total, f"the venue saw {total} requests inside a Retry-After: {ignored}"
        return self.throttled

    async def verify(self) -> dict[str, Any]:
        """Every invariant after a run; a summary of what happened."""
        await self.settle()
        for symbol in SYMBOLS:
            await self.converge(symbol)
        fills = await self.check_fills()
        statuses = await self.check_orders()
        throttled = await self.check_no_spinning()
        return {
            "placed": self.placed,
            "orders": dict(statuses),
            "fills": fills,
            "fills_said_again": self.fills_said_again,
            "unknown_settled": self.unknown,
            "command_timeouts": self.timeouts,
            "refused": {str(k): v for k, v in self.refused.items()},
            "throttled_429": throttled,
            "banned_418": self.banned,
            "held_for_weight": self.rest.held,
            "requests": self.requests,
            "stream_reconnects": self.stream.reconnects,
            "stream_renewals": self.stream.renewals,
            "user_reconnects": self.user.reconnects,
            "user_renewals": self.user.renewals,
            "gaps": sum(b.gaps for b in self.stream.books.values()),
            "resyncs": sum(b.resyncs for b in self.stream.books.values()),
            "reconciles": self.reconciles,
        }

    def _check_crossed(self, topic: str, event: Any) -> None:
        top = event if isinstance(event, BookTop) else None
        if top is not None and top.bids and top.asks and top.bids[0].price >= top.asks[0].price:
            self.crossed += 1

    async def snapshot(self) -> dict[str, Any]:
        """Counters now, without checks (the soak's per-minute line)."""
        ignored, _ = await self.venue.ignored_retry_after()
        return {
            "rss_mb": rss_mb(),
            "crossed_books": self.crossed,
            "placed": self.placed,
            "fills": len(self.said_fills),
            "fills_said_again": self.fills_said_again,
            "manager_keeps": f"{len(self.manager.orders)} orders, {len(self.manager.fills)} fills",
            "unknown": self.unknown,
            "refused": sum(self.refused.values()),
            "429": self.throttled,
            "418": self.banned,
            "sent_inside_retry_after": self.early_total,
            "ignored_retry_after": ignored,
            "held_for_weight": self.rest.held,
            "weight": self.rest.weight_used,
            "stream_reconnects": self.stream.reconnects,
            "renewals": self.stream.renewals + self.user.renewals,
            "user_reconnects": self.user.reconnects,
            "gaps": sum(b.gaps for b in self.stream.books.values()),
            "resyncs": sum(b.resyncs for b in self.stream.books.values()),
            "books": ",".join(str(b.state) for b in self.stream.books.values()),
        }


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory in MB (Linux), to see that a soak stays flat."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


async def drill_run(faults: DrillFaults, seconds: float, seed: int = 5) -> dict[str, Any]:
    """One drill: faults and trading for ``seconds``, then every invariant checked."""
    async with Drill.start(faults, seed=seed) as drill:
        await asyncio.gather(drill.chaos(seconds), drill.trade(seconds))
        return await drill.verify()
