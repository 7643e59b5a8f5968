"""The simulated venue's matching engine: price-time priority, exact arithmetic.

One book per symbol. Supported: LIMIT with GTC, IOC and FOK; MARKET by quantity and by
quote amount; LIMIT_MAKER; STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT
(triggered by the last trade price); icebergs (the book shows one ``icebergQty`` part at a
time, the next joining the back of its level); cancel (with ``cancelRestrictions``),
cancel all, cancel-replace (STOP_ON_FAILURE and ALLOW_FAILURE); OCO lists, whose start and
end go out as ``ListChanged`` (``listStatus``);
self-trade prevention by the taker's mode as Binance's STP FAQ describes it (EXPIRE_TAKER
by default, EXPIRE_MAKER, EXPIRE_BOTH, DECREMENT, NONE; TRANSFER is DECREMENT here, since
the sim has no trade groups and a transfer within one account moves nothing), each
prevented match numbered per symbol; maker and taker fees charged in the asset received,
collected in ``fees``.

Requests are checked in Binance's order: symbol, mandatory parameters, filters (the
domain's ``validate_order``, answered as ``-1013 Filter failure: NAME``), then the engine's
own refusals (``-2010``). Everything that changes goes out through ``listeners`` as small
event records, which the wire server turns into stream frames and user-data events.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import (
    ExecutionType,
    OrderStatus,
    OrderType,
    SelfTradePreventionMode,
    Side,
    TimeInForce,
)
from omnitrade_tui.domain.filters import ValidationContext, validate_order
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import OrderRequest, new_client_order_id
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.errors import SimError, bad_symbol, unknown_order
from omnitrade_tui.venues.sim.orders import OrderList, SideBook, SimOrder, SymbolBook

_FEE_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class LevelChanged:
    """The total resting at one price changed; ``update_id`` is the symbol's book sequence."""

    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    update_id: int


@dataclass(frozen=True, slots=True)
class TradePrinted:
    """A public trade."""

    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    time_ms: int
    buyer_is_maker: bool
    taker_order_id: int = -1  # trades of one taker at one price and time aggregate


@dataclass(frozen=True, slots=True)
class OrderExecuted:
    """Something happened to an order (one ``executionReport``)."""

    order: SimOrder
    execution_type: ExecutionType
    time_ms: int
    last_qty: Decimal = ZERO
    last_price: Decimal = ZERO
    commission: Decimal = ZERO
    commission_asset: str | None = None
    trade_id: int = -1
    is_maker: bool = False
    reject_reason: str = "NONE"
    prevented_qty: Decimal = ZERO  # TRADE_PREVENTION: what this event prevented ("B")
    counter_order_id: int = -1  # TRADE_PREVENTION: the other order of the match ("U")
    execution_id: int = -1  # "I": numbered per symbol by the engine as the event goes out


@dataclass(frozen=True, slots=True)
class ListChanged:
    """An order list started or ended (one ``listStatus``)."""

    order_list: OrderList
    time_ms: int


@dataclass(frozen=True, slots=True)
class BalancesMoved:
    """Balances of an account changed (one ``outboundAccountPosition``)."""

    account: Account
    assets: tuple[str, ...]
    time_ms: int


SimEvent = LevelChanged | TradePrinted | OrderExecuted | ListChanged | BalancesMoved


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill of one order, as the FULL response lists it."""

    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int


@dataclass(frozen=True, slots=True)
class PreventedMatch:
    """One self-trade prevented (an item of a FULL response's ``preventedMatches``)."""

    prevented_match_id: int
    taker_order_id: int
    maker_order_id: int
    price: Decimal
    taker_qty: Decimal  # zero when the taker lost nothing to it (EXPIRE_MAKER)
    maker_qty: Decimal  # zero when the maker lost nothing to it (EXPIRE_TAKER)
    symbol: str = ""
    mode: str = ""  # the taker's selfTradePreventionMode
    time_ms: int = 0


@dataclass(slots=True)
class ReplaceResult:
    """A cancel-replace's two halves: each one's outcome, or its error (a half not
    attempted has neither)."""

    canceled: SimOrder | None = None
    cancel_error: SimError | None = None
    placed: PlaceResult | None = None
    place_error: SimError | None = None


@dataclass(slots=True)
class PlaceResult:
    """The placed order, its immediate fills and the self-trades it was kept from."""

    order: SimOrder
    fills: list[Execution]
    prevented: list[PreventedMatch] = field(default_factory=list)


class MatchingEngine:
    """Books, accounts and orders of the simulated venue.

    Args:
        instruments: the symbols traded.
        clock: milliseconds since the epoch (injected, so tests and replays control time).
    """

    def __init__(self, instruments: Iterable[Instrument], clock: Callable[[], int]) -> None:
        self.instruments = {i.symbol: i for i in instruments}
        self.books = {s: SymbolBook(s) for s in self.instruments}
        self.clock = clock
        self.accounts: dict[int, Account] = {}
        self.fees: dict[str, Decimal] = {}
        self.listeners: list[Callable[[SimEvent], None]] = []
        self.last_price: dict[str, Decimal] = {}
        self.update_ids = dict.fromkeys(self.instruments, 1)
        self._trade_ids = dict.fromkeys(self.instruments, 0)
        self._prevented_ids = dict.fromkeys(self.instruments, 0)
        self._execution_ids = dict.fromkeys(self.instruments, 0)
        self._prevented: list[PreventedMatch] = []  # of the placement under way
        self._last_prevented: tuple[Decimal, int] = (ZERO, -1)  # (qty, maker id) for the report
        self._next_order_id = 1
        self._next_list_id = 1
        self.order_lists: dict[int, OrderList] = {}
        self.prevented_log: dict[int, deque[PreventedMatch]] = {}
        self._lists_changed: list[OrderList] = []
        self.orders: dict[tuple[str, int], SimOrder] = {}
        self._by_client: dict[tuple[int, str, str], SimOrder] = {}
        self._touched: dict[int, set[str]] = {}
        self._open: dict[int, dict[int, SimOrder]] = {}

    # -- accounts and lookups ----------------------------------------------------------------

    def add_account(self, account: Account) -> Account:
        """Register an account (its id must be new)."""
        if account.account_id in self.accounts:
            raise ValueError(f"account {account.account_id} exists")
        self.accounts[account.account_id] = account
        return account

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of ``symbol``, or -1121."""
        inst = self.instruments.get(symbol)
        if inst is None:
            raise bad_symbol()
        return inst

    def find_order(
        self,
        account: Account,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> SimOrder | None:
        """An order of this account by venue id or client id (id first, as Binance does)."""
        if order_id is not None:
            order = self.orders.get((symbol, order_id))
            if order is None or order.account is not account:
                return None
            if client_order_id is not None and order.client_order_id != client_order_id:
                raise SimError(-2039, "Client order ID is not correct for this order ID.")
            return order
        if client_order_id is not None:
            return self._by_client.get((account.account_id, symbol, client_order_id))
        raise SimError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )

    def open_orders(self, account: Account, symbol: str | None = None) -> list[SimOrder]:
        """This account's open orders, oldest first."""
        mine = self._open.get(account.account_id, {})
        return [o for o in mine.values() if symbol is None or o.symbol == symbol]

    def _register(self, order: SimOrder) -> None:
        self.orders[(order.symbol, order.order_id)] = order
        key = (order.account.account_id, order.symbol, order.client_order_id)
        self._by_client[key] = order
        self._open.setdefault(order.account.account_id, {})[order.order_id] = order

    def _closed(self, order: SimOrder) -> None:
        """Bookkeeping when an order leaves the open states.

        Accounts that keep no history (the market generator's) forget their finished
        orders, so a long-running venue does not grow without bound.
        """
        self._open.get(order.account.account_id, {}).pop(order.order_id, None)
        order_list = self.order_lists.get(order.order_list_id)
        if (
            order_list is not None
            and not order_list.done
            and not any(o.is_open for o in order_list.orders)
        ):
            order_list.done = True
            order_list.transaction_ms = self.clock()
            self._lists_changed.append(order_list)  # its listStatus follows the reports
        if not order.account.keep_history:
            self.orders.pop((order.symbol, order.order_id), None)
            key = (order.account.account_id, order.symbol, order.client_order_id)
            if self._by_client.get(key) is order:
                del self._by_client[key]

    def avg_price(self, symbol: str) -> Decimal | None:
        """The reference price for percent-price filters: last trade, else the mid."""
        last = self.last_price.get(symbol)
        if last is not None:
            return last
        book = self.books[symbol]
        bid, ask = book.bids.best(), book.asks.best()
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return bid or ask

    # -- events ------------------------------------------------------------------------------

    def _emit(self, event: SimEvent) -> None:
        if isinstance(event, OrderExecuted):
            # Every report is its own execution (maker and taker of one trade included).
            symbol = event.order.symbol
            self._execution_ids[symbol] += 1
            event = replace(event, execution_id=self._execution_ids[symbol])
        for listener in self.listeners:
            listener(event)

    def _level(self, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        self.update_ids[symbol] += 1
        self._emit(LevelChanged(symbol, side, price, qty, self.update_ids[symbol]))

    def _touch(self, account: Account, *assets: str) -> None:
        self._touched.setdefault(account.account_id, set()).update(assets)

    def _flush_balances(self) -> None:
        """Send what an operation changed beyond its orders: lists, then balances."""
        changed, self._lists_changed = self._lists_changed, []
        for order_list in changed:
            self._emit(ListChanged(order_list, order_list.transaction_ms))
        touched, self._touched = self._touched, {}
        now = self.clock()
        for account_id, assets in touched.items():
            self._emit(BalancesMoved(self.accounts[account_id], tuple(sorted(assets)), now))

    # -- placing -----------------------------------------------------------------------------

    def place(
        self,
        account: Account,
        request: OrderRequest,
        *,
        order_list_id: int = -1,
        validate: bool = True,
    ) -> PlaceResult:
        """Accept (or refuse with a ``SimError``) a new order and match it at once."""
        inst = self.instrument(request.symbol)
        if not account.can_trade:
            raise SimError(-2010, "This action is disabled on this account.")
        if validate:
            self.check(inst, account, request)
        book = self.books[inst.symbol]
        now = self.clock()
        order = SimOrder(
            order_id=self._next_order_id,
            client_order_id=request.client_order_id or new_client_order_id(),
            account=account,
            symbol=inst.symbol,
            side=request.side,
            type=request.type,
            orig_qty=request.quantity if request.quantity is not None else ZERO,
            price=request.price,
            stop_price=request.stop_price,
            time_in_force=request.time_in_force,
            quote_order_qty=request.quote_order_qty,
            iceberg_qty=request.iceberg_qty,
            stp_mode=request.stp_mode or SelfTradePreventionMode(inst.default_stp_mode),
            time_ms=now,
            update_ms=now,
            order_list_id=order_list_id,
        )
        if order.type is OrderType.LIMIT_MAKER and self._would_take(book, order):
            raise SimError(-2010, "Order would immediately match and take.")
        if order.type.has_stop and self._would_trigger(order):
            raise SimError(-2010, "Order would trigger immediately.")
        if order.type.executes_as_market and not order.type.has_stop:
            self._check_market_liquidity(book, order)
        self._lock_for(order, book)
        self._next_order_id += 1
        self._register(order)
        self._prevented = []
        fills: list[Execution] = []
        if order.type.has_stop:
            book.stops.append(order)
            self._emit(OrderExecuted(order, ExecutionType.NEW, now))
        else:
            order.working_ms = now
            self._emit(OrderExecuted(order, ExecutionType.NEW, now))
            fills = self._execute(book, order)
        self._run_triggers(book)
        self._flush_balances()
        mine = [p for p in self._prevented if p.taker_order_id == order.order_id]
        self._prevented = []
        return PlaceResult(order, fills, mine)

    def check(self, inst: Instrument, account: Account, req: OrderRequest) -> None:
        """Every refusal a new order can meet before matching (-1102, -1013, -2010)."""
        _check_mandatory(req)
        if req.stp_mode is not None and str(req.stp_mode) not in inst.allowed_stp_modes:
            raise SimError(
                -1013, "This symbol does not allow the specified self-trade prevention mode."
            )
        open_orders = self.open_orders(account, inst.symbol)
        ctx = ValidationContext(
            avg_price=self.avg_price(inst.symbol),
            open_orders=len(open_orders),
            open_algo_orders=sum(1 for o in open_orders if o.is_algo),
        )
        if req.iceberg_qty is not None:
            _check_iceberg(inst, req)
        violations = [v for v in validate_order(inst, req, ctx) if v.filter != "ORDER"]
        if violations:
            raise SimError(-1013, f"Filter failure: {violations[0].filter}")
        if req.client_order_id and any(
            o.client_order_id == req.client_order_id for o in open_orders
        ):
            raise SimError(-2010, "Duplicate order sent.")

    def _would_take(self, book: SymbolBook, order: SimOrder) -> bool:
        best = book.opposite(order.side).best()
        assert order.price is not None
        return best is not None and book.crosses(order.side, order.price, best)

    def _would_trigger(self, order: SimOrder) -> bool:
        last = self.last_price.get(order.symbol)
        if last is None or order.stop_price is None:
            return False
        return _triggered(order, last)

    def _check_market_liquidity(self, book: SymbolBook, order: SimOrder) -> None:
        if not len(book.opposite(order.side)):
            raise SimError(-1112, "No orders on book for symbol.")

    def _lock_for(self, order: SimOrder, book: SymbolBook) -> None:
        """Lock what the order may spend (released as it fills, expires or is canceled)."""
        inst = self.instruments[order.symbol]
        if order.oco_peer is not None and order.oco_peer.locked > 0:
            return  # an OCO list locks once, on its first leg
        if order.side is Side.SELL:
            if order.type is OrderType.MARKET and order.quote_order_qty is not None:
                qty = _sell_qty_for_quote(book.bids, order.quote_order_qty, inst.step_size)
            else:
                qty = order.orig_qty
            order.locked_asset, order.locked = inst.base_asset, qty
        else:
            if order.type is OrderType.MARKET:
                if order.quote_order_qty is not None:
                    cost = order.quote_order_qty
                else:
                    cost = _buy_cost(book.asks, order.orig_qty)
            elif order.type.has_price:
                assert order.price is not None
                cost = order.price * order.orig_qty
            else:  # market-on-trigger stops lock at trigger time
                cost = ZERO
            order.locked_asset, order.locked = inst.quote_asset, cost
        order.account.lock(order.locked_asset, order.locked)
        self._touch(order.account, order.locked_asset)

    # -- matching ----------------------------------------------------------------------------

    def _execute(self, book: SymbolBook, taker: SimOrder) -> list[Execution]:
        """Match a working order against the book, then rest, expire or finish it."""
        fills: list[Execution] = []
        opposite = book.opposite(taker.side)
        if taker.time_in_force is TimeInForce.FOK and not self._fok_fillable(opposite, taker):
            self._finish(taker, OrderStatus.EXPIRED, "UNFILLED_FOK_ORDER_EXPIRED")
            return fills
        limit = taker.price if taker.type.has_price else None
        stp_stopped = False
        while opposite.prices:
            level = opposite.best()
            assert level is not None
            if limit is not None and not book.crosses(taker.side, limit, level):
                break
            qty = self._taker_qty(taker, level)
            if qty <= 0:
                break
            maker = opposite.queues[level][0]
            if (
                maker.account is taker.account
                and taker.stp_mode is not SelfTradePreventionMode.NONE
            ):
                # Each prevention takes one of the two orders out of the match (or both),
                # so this loop always moves on.
                if self._prevent(book, taker, maker, level, qty):
                    stp_stopped = True
                    break
                continue
            # An iceberg trades its shown part; what is left shows up behind the level.
            fills.append(self._trade(book, opposite, taker, maker, min(qty, maker.visible)))
        if taker.quote_order_qty is not None and taker.type is OrderType.MARKET:
            # Binance reports what the amount bought (and what prevention kept it from).
            taker.orig_qty = taker.executed_qty + taker.prevented_qty
        if taker.status is OrderStatus.FILLED:
            return fills
        if stp_stopped:
            self._finish(
                taker,
                OrderStatus.EXPIRED_IN_MATCH,
                "NONE",
                ExecutionType.TRADE_PREVENTION,
                self._last_prevented,
            )
        elif taker.type.executes_as_market or taker.time_in_force in (
            TimeInForce.IOC,
            TimeInForce.FOK,
        ):
            reason = (
                "UNFILLED_IOC_QUANTITY_EXPIRED" if taker.executed_qty else "INSUFFICIENT_LIQUIDITY"
            )
            self._finish(taker, OrderStatus.EXPIRED, reason)
        else:
            total = book.side(taker.side).add(taker)
            assert taker.price is not None
            self._level(book.symbol, taker.side, taker.price, total)
        return fills

    def _taker_qty(self, taker: SimOrder, level: Decimal) -> Decimal:
        """How much the taker still wants at ``level`` (a quote-amount order converts)."""
        step = self.instruments[taker.symbol].step_size
        if taker.quote_order_qty is not None and taker.type is OrderType.MARKET:
            left = taker.quote_order_qty - taker.cum_quote - taker.prevented_quote
            return _floor(left / level, step)
        if taker.side is Side.BUY and taker.type.executes_as_market:
            # What the lock (plus free funds) can still pay for at this level: the
            # estimate made at placement can fall short when STP skips our own orders.
            free, _ = taker.account.balance(taker.locked_asset)
            return min(taker.remaining, _floor((taker.locked + free) / level, step))
        return taker.remaining

    def _fok_fillable(self, opposite: SideBook, taker: SimOrder) -> bool:
        need = taker.remaining
        for price in opposite.levels():
            assert taker.price is not None
            if (taker.side is Side.BUY and price > taker.price) or (
                taker.side is Side.SELL and price < taker.price
            ):
                break
            for maker in opposite.queues[price]:
                if (
                    maker.account is taker.account
                    and taker.stp_mode is not SelfTradePreventionMode.NONE
                ):
                    return False  # self-trade prevention would stop the fill
                need -= maker.remaining
                if need <= 0:
                    return True
        return need <= 0

    def _trade(
        self, book: SymbolBook, opposite: SideBook, taker: SimOrder, maker: SimOrder, qty: Decimal
    ) -> Execution:
        inst = self.instruments[book.symbol]
        assert maker.price is not None
        price = maker.price
        quote = price * qty
        now = self.clock()
        self._trade_ids[book.symbol] += 1
        trade_id = self._trade_ids[book.symbol]
        buyer, seller = (taker, maker) if taker.side is Side.BUY else (maker, taker)
        buyer_fee = _fee(
            qty, buyer.account.maker_fee if buyer is maker else buyer.account.taker_fee
        )
        seller_fee = _fee(
            quote, seller.account.maker_fee if seller is maker else seller.account.taker_fee
        )
        base, quote_asset = inst.base_asset, inst.quote_asset
        # Buyer pays quote from its lock, receives base less the fee.
        self._spend(buyer, quote, price, qty)
        buyer.account.credit(base, qty - buyer_fee)
        # Seller pays base from its lock, receives quote less the fee.
        self._spend(seller, qty, price, qty)
        seller.account.credit(quote_asset, quote - seller_fee)
        self.fees[base] = self.fees.get(base, ZERO) + buyer_fee
        self.fees[quote_asset] = self.fees.get(quote_asset, ZERO) + seller_fee
        self._touch(buyer.account, base, quote_asset)
        self._touch(seller.account, base, quote_asset)
        for order in (maker, taker):
            order.executed_qty += qty
            order.cum_quote += quote
            order.update_ms = now
        # The maker's level shrinks; a filled maker leaves its queue, an iceberg whose
        # shown part is gone shows its next one.
        total = opposite.take(maker, qty)
        if maker.remaining == 0:
            maker.status = OrderStatus.FILLED
            opposite.pop_front(price)
        else:
            maker.status = OrderStatus.PARTIALLY_FILLED
            if maker.visible == 0:
                total = opposite.refill(maker)
        self._level(book.symbol, maker.side, price, total if price in opposite.totals else ZERO)
        taker.status = OrderStatus.FILLED if taker.remaining == 0 else OrderStatus.PARTIALLY_FILLED
        if taker.quote_order_qty is not None and taker.type is OrderType.MARKET:
            step_left = self._taker_qty(taker, price)
            if step_left <= 0:
                taker.status = OrderStatus.FILLED
        self.last_price[book.symbol] = price
        self._emit(
            TradePrinted(book.symbol, trade_id, price, qty, now, buyer is maker, taker.order_id)
        )
        for order, fee, fee_asset, is_maker in (
            (
                maker,
                buyer_fee if maker is buyer else seller_fee,
                base if maker is buyer else quote_asset,
                True,
            ),
            (
                taker,
                buyer_fee if taker is buyer else seller_fee,
                base if taker is buyer else quote_asset,
                False,
            ),
        ):
            self._emit(
                OrderExecuted(
                    order,
                    ExecutionType.TRADE,
                    now,
                    last_qty=qty,
                    last_price=price,
                    commission=fee,
                    commission_asset=fee_asset,
                    trade_id=trade_id,
                    is_maker=is_maker,
                )
            )
            if order.status is OrderStatus.FILLED:
                self._release(order)
                self._closed(order)
            if order.oco_peer is not None and order.oco_peer.is_open:
                self._expire_peer(book, order)
        taker_fee = buyer_fee if taker is buyer else seller_fee
        taker_fee_asset = base if taker is buyer else quote_asset
        return Execution(price, qty, taker_fee, taker_fee_asset, trade_id)

    def _spend(self, order: SimOrder, amount: Decimal, price: Decimal, qty: Decimal) -> None:
        """Pay ``amount`` of the order's locked asset; a BUY limit above the fill price gets
        the difference back."""
        account = order.account
        if order.side is Side.BUY and order.type.has_price and order.price is not None:
            reserved = order.price * qty
            account.debit_locked(order.locked_asset, amount)
            account.unlock(order.locked_asset, reserved - amount)
            order.locked -= reserved
        else:
            take = min(amount, order.locked)
            account.debit_locked(order.locked_asset, take)
            order.locked -= take
            if amount > take:  # a market buy that cost more than its estimate
                account.debit_free(order.locked_asset, amount - take)

    def _release(self, order: SimOrder) -> None:
        """Give back whatever the order still holds locked."""
        if order.locked > 0:
            order.account.unlock(order.locked_asset, order.locked)
            self._touch(order.account, order.locked_asset)
            order.locked = ZERO

    def _finish(
        self,
        order: SimOrder,
        status: OrderStatus,
        reason: str,
        execution: ExecutionType = ExecutionType.EXPIRED,
        prevention: tuple[Decimal, int] = (ZERO, -1),
    ) -> None:
        order.status = status
        order.expiry_reason = reason
        order.update_ms = self.clock()
        self._release(order)
        self._closed(order)
        prevented, counter = prevention
        self._emit(
            OrderExecuted(
                order,
                execution,
                order.update_ms,
                prevented_qty=prevented,
                counter_order_id=counter,
            )
        )

    # -- self-trade prevention ---------------------------------------------------------------

    def _prevent(
        self, book: SymbolBook, taker: SimOrder, maker: SimOrder, price: Decimal, qty: Decimal
    ) -> bool:
        """Keep ``taker`` from trading ``qty`` at ``price`` against ``maker`` (same account),
        as the taker's mode says; True when the taker is done (it then expires in match).

        EXPIRE_* modes expire whole remaining quantities; DECREMENT (and TRANSFER, which is
        DECREMENT within one account) takes the smaller side's quantity off both orders,
        so the smaller one expires, or both when they are equal.
        """
        mode = taker.stp_mode
        # What the taker still wants: a quote-amount order wants ``qty`` at this level.
        taker_left = qty if taker.quote_order_qty is not None else taker.remaining
        if mode in (SelfTradePreventionMode.DECREMENT, SelfTradePreventionMode.TRANSFER):
            maker_qty = taker_qty = min(qty, maker.remaining)
            taker_done = taker_qty >= qty
        else:
            expire_maker = mode in (
                SelfTradePreventionMode.EXPIRE_MAKER,
                SelfTradePreventionMode.EXPIRE_BOTH,
            )
            taker_done = mode in (
                SelfTradePreventionMode.EXPIRE_TAKER,
                SelfTradePreventionMode.EXPIRE_BOTH,
            )
            maker_qty = maker.remaining if expire_maker else ZERO
            taker_qty = taker_left if taker_done else ZERO
        match_id = self._prevented_ids[book.symbol]
        self._prevented_ids[book.symbol] += 1
        prevented = PreventedMatch(
            match_id,
            taker.order_id,
            maker.order_id,
            price,
            taker_qty,
            maker_qty,
            book.symbol,
            str(mode),
            self.clock(),
        )
        self._prevented.append(prevented)
        if taker.account.keep_history:  # myPreventedMatches, bounded like myTrades
            log = self.prevented_log.setdefault(taker.account.account_id, deque(maxlen=10_000))
            log.append(prevented)
        if maker_qty > 0:
            self._prevent_resting(book, maker, maker_qty, match_id, taker.order_id)
        if taker_qty > 0:
            taker.prevented_match_id = match_id
            taker.prevented_qty += taker_qty
            taker.prevented_quote += taker_qty * price
            taker.update_ms = self.clock()
            self._unlock_part(taker, taker_qty)
            self._last_prevented = (taker_qty, maker.order_id)
            if not taker_done:  # decremented, still working: its own TRADE_PREVENTION report
                self._emit(
                    OrderExecuted(
                        taker,
                        ExecutionType.TRADE_PREVENTION,
                        taker.update_ms,
                        prevented_qty=taker_qty,
                        counter_order_id=maker.order_id,
                    )
                )
        return taker_done

    def _prevent_resting(
        self, book: SymbolBook, order: SimOrder, qty: Decimal, match_id: int, counter: int
    ) -> None:
        """Take ``qty`` off a resting order by self-trade prevention; all of it expires it."""
        side = book.side(order.side)
        assert order.price is not None
        if qty >= order.remaining:
            total = side.remove(order)  # before the prevented quantity leaves ``remaining``
            order.status = OrderStatus.EXPIRED_IN_MATCH
        else:
            total = side.take(order, min(qty, order.visible))
        order.prevented_qty += qty
        if order.status is not OrderStatus.EXPIRED_IN_MATCH and order.visible == 0:
            total = side.refill(order)
        order.prevented_quote += qty * order.price
        order.prevented_match_id = match_id
        order.update_ms = self.clock()
        self._level(book.symbol, order.side, order.price, total)
        if order.status is OrderStatus.EXPIRED_IN_MATCH:
            self._release(order)
            self._closed(order)
        else:
            self._unlock_part(order, qty)
        self._emit(
            OrderExecuted(
                order,
                ExecutionType.TRADE_PREVENTION,
                order.update_ms,
                prevented_qty=qty,
                counter_order_id=counter,
            )
        )

    def _unlock_part(self, order: SimOrder, qty: Decimal) -> None:
        """Give back the lock of ``qty`` that will never trade (a market buy's estimate
        stays until the order ends)."""
        if order.locked <= 0:
            return
        if order.side is Side.SELL:
            amount = qty
        elif order.type.has_price and order.price is not None:
            amount = order.price * qty
        else:
            return
        amount = min(amount, order.locked)
        order.account.unlock(order.locked_asset, amount)
        order.locked -= amount
        self._touch(order.account, order.locked_asset)

    def _expire_peer(self, book: SymbolBook, order: SimOrder) -> None:
        peer = order.oco_peer
        assert peer is not None
        self._take_off_book(book, peer)
        peer.status = OrderStatus.EXPIRED
        peer.expiry_reason = "OCO_TRIGGER"
        peer.update_ms = self.clock()
        self._release(peer)
        self._closed(peer)
        self._emit(OrderExecuted(peer, ExecutionType.EXPIRED, peer.update_ms))

    def _take_off_book(self, book: SymbolBook, order: SimOrder) -> None:
        if order in book.stops:
            book.stops.remove(order)
        elif order.price is not None and order.working_ms >= 0 and order.is_open:
            side = book.side(order.side)
            queue = side.queues.get(order.price)
            if queue is not None and order in queue:
                total = side.remove(order)
                self._level(book.symbol, order.side, order.price, total)

    # -- triggers ----------------------------------------------------------------------------

    def _run_triggers(self, book: SymbolBook) -> None:
        """Fire every stop whose trigger the last price has reached, until none does."""
        while True:
            last = self.last_price.get(book.symbol)
            if last is None:
                return
            fired = next((o for o in book.stops if _triggered(o, last)), None)
            if fired is None:
                return
            book.stops.remove(fired)
            if fired.oco_peer is not None and fired.oco_peer.is_open:
                self._expire_peer(book, fired)
            fired.triggered = True
            fired.working_ms = self.clock()
            if fired.locked == 0 and fired.side is Side.BUY and fired.type.executes_as_market:
                try:
                    cost = _buy_cost(book.asks, fired.orig_qty)
                    fired.account.lock(self.instruments[book.symbol].quote_asset, cost)
                    fired.locked_asset, fired.locked = (
                        self.instruments[book.symbol].quote_asset,
                        cost,
                    )
                except SimError:
                    self._finish(fired, OrderStatus.EXPIRED, "INSUFFICIENT_BALANCES")
                    continue
            elif fired.locked == 0 and fired.oco_peer is not None:
                try:
                    self._lock_for(fired, book)
                except SimError:
                    self._finish(fired, OrderStatus.EXPIRED, "INSUFFICIENT_BALANCES")
                    continue
            self._emit(OrderExecuted(fired, ExecutionType.NEW, fired.working_ms))
            self._execute(book, fired)

    # -- cancelling --------------------------------------------------------------------------

    def cancel(
        self,
        account: Account,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
        cancel_client_id: str | None = None,
        restriction: str | None = None,
    ) -> SimOrder:
        """Cancel one open order (its OCO peer too), or raise -2011.

        ``cancel_client_id`` names the cancel itself (Binance's ``newClientOrderId``;
        made up when not sent): the report's ``c``, while ``C`` keeps the order's own id.
        ``restriction`` is ``cancelRestrictions``: ``ONLY_NEW`` or ``ONLY_PARTIALLY_FILLED``
        cancel only an order in that status.
        """
        self.instrument(symbol)
        order = self.find_order(account, symbol, order_id, client_order_id)
        if order is None or not order.is_open:
            raise unknown_order()
        if restriction is not None and str(order.status) != restriction.removeprefix("ONLY_"):
            raise SimError(-2011, "Order was not canceled due to cancel restrictions.")
        book = self.books[symbol]
        for o in (order, order.oco_peer):
            if o is not None and o.is_open:
                self._take_off_book(book, o)
                named = cancel_client_id if o is order else None
                o.cancel_client_id = named or new_client_order_id("")
                o.status = OrderStatus.CANCELED
                o.update_ms = self.clock()
                self._release(o)
                self._closed(o)
                self._emit(OrderExecuted(o, ExecutionType.CANCELED, o.update_ms))
        self._flush_balances()
        return order

    def cancel_all(self, account: Account, symbol: str) -> list[SimOrder]:
        """Cancel every open order of the account on ``symbol``; -2011 when there is none."""
        self.instrument(symbol)
        open_orders = self.open_orders(account, symbol)
        if not open_orders:
            raise unknown_order()
        done: list[SimOrder] = []
        for order in open_orders:
            if order.is_open:
                done.append(self.cancel(account, symbol, order.order_id))
                peer = order.oco_peer
                if peer is not None and peer not in done:
                    done.append(peer)  # cancelled with its leg, reported like Binance does
        return done

    def cancel_replace(
        self,
        account: Account,
        cancel_order_id: int | None,
        cancel_client_order_id: str | None,
        request: OrderRequest,
        *,
        allow_failure: bool = False,
        cancel_client_id: str | None = None,
        restriction: str | None = None,
    ) -> ReplaceResult:
        """Cancel an order, then place a new one: with ``allow_failure`` (Binance's
        ``ALLOW_FAILURE``) the new order is placed even when the cancel fails, otherwise
        (``STOP_ON_FAILURE``) it is not attempted. Each half's error is kept, not raised."""
        out = ReplaceResult()
        try:
            out.canceled = self.cancel(
                account,
                request.symbol,
                cancel_order_id,
                cancel_client_order_id,
                cancel_client_id,
                restriction,
            )
        except SimError as exc:
            out.cancel_error = exc
            if not allow_failure:
                return out
        try:
            out.placed = self.place(account, request)
        except SimError as exc:
            out.place_error = exc
        return out

    def place_oco(
        self,
        account: Account,
        above: OrderRequest,
        below: OrderRequest,
        list_client_order_id: str | None = None,
    ) -> OrderList:
        """Place an OCO list: one leg above the market, one below; one trading ends both."""
        if above.side is not below.side or above.quantity != below.quantity:
            raise SimError(-1102, "OCO legs must have the same side and quantity.")
        last = self.avg_price(above.symbol)
        if last is not None:
            hi = above.price if above.price is not None else above.stop_price
            lo = below.stop_price if below.stop_price is not None else below.price
            if hi is not None and lo is not None and not (hi > last > lo):
                raise SimError(
                    -2010, "The relationship of the prices for the orders is not correct."
                )
        list_id = self._next_list_id
        self._next_list_id += 1
        inst = self.instrument(above.symbol)
        self.check(inst, account, above)
        self.check(inst, account, below)
        # The second leg is linked before it is placed so it shares the first leg's lock.
        first = self.place(account, above, order_list_id=list_id, validate=False)
        placeholder = first.order
        order_list = OrderList(
            list_id,
            list_client_order_id or new_client_order_id(""),
            inst.symbol,
            account,
            [placeholder],
            self.clock(),
        )
        self.order_lists[list_id] = order_list
        if placeholder.is_open:
            book = self.books[inst.symbol]
            order_list.orders.append(self._place_linked(account, below, list_id, placeholder, book))
        self._emit(ListChanged(order_list, order_list.transaction_ms))
        if not placeholder.is_open:
            order_list.done = True
            self._emit(ListChanged(order_list, self.clock()))
        self._flush_balances()
        return order_list

    def _place_linked(
        self, account: Account, req: OrderRequest, list_id: int, peer: SimOrder, book: SymbolBook
    ) -> SimOrder:
        now = self.clock()
        order = SimOrder(
            order_id=self._next_order_id,
            client_order_id=req.client_order_id,
            account=account,
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            orig_qty=req.quantity or ZERO,
            price=req.price,
            stop_price=req.stop_price,
            time_in_force=req.time_in_force,
            iceberg_qty=req.iceberg_qty,
            time_ms=now,
            update_ms=now,
            order_list_id=list_id,
            oco_peer=peer,
        )
        if order.type.has_stop and self._would_trigger(order):
            raise SimError(-2010, "Order would trigger immediately.")
        self._next_order_id += 1
        peer.oco_peer = order
        self._register(order)
        if order.type.has_stop:
            book.stops.append(order)
        else:
            order.working_ms = now
            total = book.side(order.side).add(order)
            assert order.price is not None
            self._level(book.symbol, order.side, order.price, total)
        self._emit(OrderExecuted(order, ExecutionType.NEW, now))
        return order


def _check_mandatory(req: OrderRequest) -> None:
    """Binance's -1102/-1106 answers for missing or superfluous parameters."""

    def missing(name: str) -> SimError:
        return SimError(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )

    if req.type.has_price and req.price is None:
        raise missing("price")
    if req.type.has_stop and req.stop_price is None:
        raise missing("stopPrice")
    if req.type.needs_time_in_force and req.time_in_force is None:
        raise missing("timeInForce")
    if (
        not req.type.needs_time_in_force
        and req.time_in_force is not None
        and req.type is not OrderType.LIMIT_MAKER
    ):
        raise SimError(-1106, "Parameter 'timeInForce' sent when not required.")
    if req.type is OrderType.MARKET:
        if req.quantity is None and req.quote_order_qty is None:
            raise SimError(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        if req.quantity is not None and req.quote_order_qty is not None:
            raise SimError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    elif req.quantity is None:
        raise missing("quantity")
    if req.price is not None and not req.type.has_price:
        raise SimError(-1106, "Parameter 'price' sent when not required.")


def _check_iceberg(inst: Instrument, req: OrderRequest) -> None:
    """Binance's refusals of an ``icebergQty`` (``errors.md``, ``rest-api.md``: limit
    orders only, good till cancelled, smaller than the order)."""
    if not inst.iceberg_allowed:
        raise SimError(-2010, "Iceberg orders are not supported for this symbol.")
    limit_types = (
        OrderType.LIMIT,
        OrderType.LIMIT_MAKER,
        OrderType.STOP_LOSS_LIMIT,
        OrderType.TAKE_PROFIT_LIMIT,
    )
    tif_ok = req.time_in_force in (None, TimeInForce.GTC)
    if req.type not in limit_types or not tif_ok:
        raise SimError(-2010, "Unsupported order combination")
    if req.quantity is not None and req.iceberg_qty is not None and req.iceberg_qty >= req.quantity:
        raise SimError(-2010, "IcebergQty exceeds QTY.")


def _triggered(order: SimOrder, last: Decimal) -> bool:
    stop = order.stop_price
    assert stop is not None
    rising = (order.type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)) == (
        order.side is Side.BUY
    )
    return last >= stop if rising else last <= stop


def _floor(qty: Decimal, step: Decimal) -> Decimal:
    """``qty`` rounded down to the step (to 8 places when there is no step)."""
    if step > 0:
        return (qty / step).to_integral_value(ROUND_DOWN) * step
    return qty.quantize(_FEE_QUANTUM, ROUND_DOWN)


def _fee(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(_FEE_QUANTUM, ROUND_HALF_UP)


def _buy_cost(asks: SideBook, qty: Decimal) -> Decimal:
    """Quote needed to buy ``qty`` at market now (what a market buy locks)."""
    cost = ZERO
    left = qty
    for price in asks.levels():
        take = min(left, asks.totals[price])
        cost += take * price
        left -= take
        if left <= 0:
            break
    return cost


def _sell_qty_for_quote(bids: SideBook, quote: Decimal, step: Decimal) -> Decimal:
    """Base needed to raise ``quote`` by selling at market now."""
    qty = ZERO
    left = quote
    for price in bids.levels():
        level_quote = bids.totals[price] * price
        if level_quote >= left:
            part = left / price
            if step > 0:
                part = (part / step).to_integral_value(ROUND_DOWN) * step
            return qty + part
        qty += bids.totals[price]
        left -= level_quote
    return qty
