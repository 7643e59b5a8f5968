"""The order manager: the bus's handler of order commands, and the keeper of order state.

A ``PlaceOrder`` is published as ``PENDING_NEW`` at once (the client order id is already
in the request), then sent through the execution port. The venue's answer decides what
follows: an accepted order is tracked; a refusal is published as ``OrderRejected`` with
the venue's code and reason and raised to the requester; a lost answer (timeout, 5xx) is
published as ``UNKNOWN`` and settled in the background by asking the venue about the
client order id, never by sending the order again. The same holds for a cancel, a
cancel-all, an amend (cancel-replace, whose replacement is tracked from ``PENDING_NEW``)
and an OCO amend: a lost answer is ``UNKNOWN`` until queried, never reported as refused.

One intent is one venue order: every id is chosen before sending (by the command, once
per intent), a resend of an id already sent gets the order as known, and the venue's
duplicate refusal is read as "already there". An OCO is amended as a whole list, and only
when the old list is known cancelled with nothing traded.

Balances are the venue's: after a cancel-all (the kill switch's too), an OCO cancel, a
burst of fills or a reconnect, the balances the bus said are compared with the venue's
and any difference is published (``BalancesChanged``, and ``Reconciled`` naming it).

The venue's user-data stream publishes the order's life after that (fills, cancels) on
``exec.order``. The manager keeps no order state of its own: the engine's order book of
record (``engine/book_of_record.py``) takes every report in and is what the manager reads.
What the venue's REST answers tell it first (an order filled at once, a cancel done) it
publishes on ``exec.order`` too, when the book says it is news: the user-data stream may be
down just then, and the screen, the store and the gateway learn only from the bus. Each
fill is counted once by (symbol, trade id) as the book publishes it: the reconciliation
asks the venue from the last fill so counted.

Memory stays bounded over a long session: the book keeps open orders while open and only
the newest ``KEEP_FINAL_ORDERS`` final ones (history is the store's job), and the manager
only the newest ``KEEP_FILLS`` fill keys, with a per-symbol mark below which a fill counts
as seen.

The engine may not import a venue: the execution side is reached through ``ExecutionPort``,
a protocol the Binance execution client satisfies by shape; the runtime wires them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Protocol

import msgspec

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.commands import (
    CancelAll,
    CancelOrder,
    PlaceOco,
    PlaceOrder,
    ReplaceOco,
    ReplaceOrder,
)
from omnitrade_tui.domain.decimals import ZERO, fmt
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus
from omnitrade_tui.domain.errors import OutcomeUnknownError
from omnitrade_tui.domain.events import (
    BalancesChanged,
    OrderBookSnapshot,
    OrderBookUpdate,
    OrderRejected,
    OrderUpdated,
    Reconciled,
)
from omnitrade_tui.domain.models import (
    Balance,
    ExecutionReport,
    Fill,
    Order,
    OrderRequest,
    new_client_order_id,
)
from omnitrade_tui.domain.recent import RecentKeys
from omnitrade_tui.domain.venue import venue_of
from omnitrade_tui.engine.book_of_record import (
    KEEP_FINAL_ORDERS,
    KEEP_FORGOTTEN_IDS,
    OrderBookOfRecord,
)

log = logging.getLogger(__name__)

#: The bounds of the book of record the manager makes when its bus has none yet are named
#: here too, where callers have always found them.
__all__ = ["KEEP_FILLS", "KEEP_FINAL_ORDERS", "KEEP_FORGOTTEN_IDS", "OrderManager"]

#: Fills remembered by (symbol, trade id) to count each once. A fill reaches us within
#: seconds (stream, REST answer) or at the next reconciliation (REST, from the last
#: reconciled id up), so a fill older than this many newer ones is never new.
KEEP_FILLS = 1_000
#: This many fills within a second is a burst, after which balances are checked with the
#: venue: many balance updates in a short time is where a lost or misordered one hides.
FILL_BURST = 5
#: How long a balance check waits after what called for it, so the stream's own updates
#: in flight land first (and several causes in a row make one check).
BALANCE_CHECK_DELAY_S = 0.3


class ExecutionPort(Protocol):
    """What the order manager needs from a venue's execution client."""

    async def place(self, req: OrderRequest) -> tuple[Order, list[Fill]]:
        """Send an order; an ``UNKNOWN`` order when the answer was lost."""
        ...

    async def place_oco(
        self, above: OrderRequest, below: OrderRequest, list_client_order_id: str | None = None
    ) -> tuple[list[Order], list[Fill]]:
        """Send an OCO pair; both legs (``UNKNOWN`` when the answer was lost)."""
        ...

    async def settle(self, order: Order, pause_s: float = ...) -> Order:
        """The true state of an ``UNKNOWN`` order."""
        ...

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        """Cancel one order (``OutcomeUnknownError`` when the answer was lost)."""
        ...

    async def cancel_all(self, symbol: str) -> list[Order]:
        """Cancel every open order of a symbol."""
        ...

    async def cancel_list(self, symbol: str, order_list_id: int) -> list[Order]:
        """Cancel an order list (both OCO legs); the legs as cancelled."""
        ...

    async def replace(
        self, cancel_client_order_id: str, new: OrderRequest
    ) -> tuple[Order, Order, list[Fill]]:
        """Cancel-replace."""
        ...

    async def query(
        self, symbol: str, client_order_id: str | None = None, *, order_id: int | None = None
    ) -> Order:
        """The venue's view of one order, by client order id or by the venue's id."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The venue's open orders."""
        ...

    async def balances(self) -> list[Balance]:
        """The account's balances."""
        ...

    async def fills_since(self, symbol: str, from_trade_id: int | None) -> list[Fill]:
        """Our fills on a symbol from a trade id on (``None``: the most recent page)."""
        ...


def _execution_of(status: OrderStatus) -> ExecutionType:
    """The execution type that reports a change to ``status`` (learned from a REST answer)."""
    if status in (OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.UNKNOWN):
        return ExecutionType.NEW
    if status is OrderStatus.CANCELED:
        return ExecutionType.CANCELED
    if status in (OrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH):
        return ExecutionType.EXPIRED
    if status is OrderStatus.REJECTED:
        return ExecutionType.REJECTED
    return ExecutionType.TRADE


class OrderRefused(Exception):
    """The venue refused an order or a cancel; ``code`` is the venue's, when it gave one."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _refusal(exc: Exception) -> OrderRefused:
    code = getattr(exc, "code", None)
    msg = getattr(exc, "msg", None) or str(exc)
    explanation = getattr(exc, "explanation", None)
    reason = f"{msg} ({explanation})" if explanation and explanation != msg else msg
    return OrderRefused(reason, code if isinstance(code, int) else None)


class OrderManager:
    """Handles PlaceOrder, PlaceOco, CancelOrder, ReplaceOrder, ReplaceOco and CancelAll, and
    tracks every order."""

    def __init__(
        self,
        bus: Bus,
        port: ExecutionPort,
        symbols: list[str] | None = None,
        book: OrderBookOfRecord | None = None,
        venue: str = "",
    ) -> None:
        self.bus = bus
        self.port = port
        self.symbols = list(symbols or [])
        #: The venue this manager trades (its qualifier; ``""`` the profile's first): the
        #: book of record and the bus hold every venue's orders and balances, and only this
        #: one's are its own to count, reconcile and cancel.
        self.venue = venue
        #: The engine's order book of record (the bus's own, unless one is given).
        self.book = (
            book
            if book is not None
            else OrderBookOfRecord.on(bus, KEEP_FINAL_ORDERS, KEEP_FORGOTTEN_IDS)
        )
        #: The newest ``KEEP_FILLS`` fills, oldest first.
        self.fills: dict[tuple[str, int], Fill] = {}
        #: Per symbol, the highest trade id let go from ``fills``: anything at or below it
        #: was counted already.
        self._fills_forgotten_to: dict[str, int] = {}
        #: Per symbol, the trade id up to which every fill of ours is known (reconciled).
        self._fills_complete_to: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Balances as the bus last said them (one entry per asset of the account), to
        #: compare with the venue's after a batch of cancels, a fill burst or a reconnect.
        self.balances: dict[str, Balance] = {}
        self._fill_times: deque[float] = deque(maxlen=FILL_BURST)
        self._balance_check: asyncio.Task[None] | None = None
        self._balance_reasons: list[str] = []
        bus.subscribe(topics.ORDER_BOOK, each(self._on_book_update), name="order-manager")
        bus.subscribe(topics.BALANCE, each(self._on_balance), name="order-manager.balance")

    def register(self) -> None:
        """Become the bus's handler of the order commands (without risk checks)."""
        self.bus.handle(PlaceOrder, self.place)
        self.bus.handle(PlaceOco, self.place_oco)
        self.bus.handle(CancelOrder, self.cancel)
        self.bus.handle(ReplaceOrder, self.replace)
        self.bus.handle(ReplaceOco, self.replace_oco)
        self.bus.handle(CancelAll, self.cancel_all)

    # -- state --------------------------------------------------------------------------------

    @property
    def orders(self) -> dict[str, Order]:
        """Every order of this venue in the book of record (open ones, the newest final);
        a copy, read by tests and tools, not on a hot path."""
        return {k: o for k, o in self.book.orders.items() if self._mine(o.symbol)}

    def _mine(self, name: str) -> bool:
        """Whether an instrument id or an asset is of this manager's venue."""
        return venue_of(name) == self.venue

    @property
    def _forgotten_ids(self) -> RecentKeys[str]:
        # The book's: tests of the manager's bounds read it under the manager's old name.
        return self.book.forgotten_ids

    def _on_book_update(self, topic: str, event: OrderBookUpdate | OrderBookSnapshot) -> None:
        if (
            isinstance(event, OrderBookUpdate)
            and event.report.fill is not None
            and self._mine(event.report.order.symbol)
        ):
            self._count_fill(event.report.fill)

    def _on_balance(self, topic: str, event: BalancesChanged) -> None:
        for balance in event.balances:
            if self._mine(balance.asset):
                self.balances[balance.asset] = balance

    def _publish(self, order: Order, execution: ExecutionType, fill: Fill | None = None) -> None:
        self.bus.publish(
            topics.ORDER,
            OrderUpdated(
                report=ExecutionReport(
                    execution_type=execution, order=order, fill=fill, time_ms=order.updated_ms
                )
            ),
        )

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This venue's orders that may still trade (UNKNOWN ones included: they might)."""
        return [o for o in self.book.open_orders(symbol) if self._mine(o.symbol)]

    # -- commands -----------------------------------------------------------------------------

    async def place(self, command: PlaceOrder) -> Order:
        """Send a new order; the order as known when the venue answered.

        Raises:
            OrderRefused: the venue refused it (also published as ``OrderRejected``).
        """
        req = command.request
        sent = self._sent_before(req.client_order_id)
        if sent is not None:
            return sent
        pending = OrderManager._pending(req)
        self._publish(pending, ExecutionType.NEW)
        try:
            order, fills = await self.port.place(req)
        except Exception as exc:
            raise self._refused([pending], exc) from exc
        self._accepted([order], fills)
        return order

    def _accepted(self, orders: list[Order], fills: list[Fill]) -> None:
        """Track what the venue answered; an UNKNOWN order is settled by a query."""
        for order in orders:
            self._learned(order, [f for f in fills if f.order_id == order.order_id])
            if order.status is OrderStatus.UNKNOWN:
                self._spawn(self._settle(order))

    def _learned(self, order: Order, fills: list[Fill] | None = None) -> None:
        """Take in an order's state (and its fills) from a REST answer, and publish what
        the bus has not said yet: its new fills, or else its new status."""
        changed = self.book.is_news(order)
        new_fills = [f for f in fills or () if self._count_fill(f)]
        for fill in new_fills:
            self._publish(order, ExecutionType.TRADE, fill)
        if changed and not new_fills:
            self._publish(order, _execution_of(order.status))

    def _refused(self, pendings: list[Order], exc: Exception) -> OrderRefused:
        """Mark orders on their way as REJECTED, say so on the bus; the error to raise."""
        refused = _refusal(exc)
        for pending in pendings:
            rejected = msgspec.structs.replace(
                pending, status=OrderStatus.REJECTED, reject_reason=refused.reason
            )
            self._publish(rejected, ExecutionType.REJECTED)
        first = pendings[0]
        self.bus.publish(
            topics.REJECT,
            OrderRejected(
                client_order_id=first.client_order_id,
                symbol=first.symbol,
                code=refused.code,
                reason=refused.reason,
            ),
        )
        return refused

    async def place_oco(self, command: PlaceOco) -> list[Order]:
        """Send an OCO pair; both legs as known when the venue answered.

        Raises:
            OrderRefused: the venue refused the pair (also published as ``OrderRejected``).
        """
        legs = [self._sent_before(leg.client_order_id) for leg in (command.above, command.below)]
        if legs[0] is not None and legs[1] is not None:
            return [legs[0], legs[1]]
        pendings = [OrderManager._pending(command.above), OrderManager._pending(command.below)]
        for pending in pendings:
            self._publish(pending, ExecutionType.NEW)
        try:
            orders, fills = await self.port.place_oco(
                command.above, command.below, command.list_client_order_id
            )
        except Exception as exc:
            raise self._refused(pendings, exc) from exc
        self._accepted(orders, fills)
        return orders

    def _sent_before(self, client_id: str) -> Order | None:
        """The order ``client_id`` names if it was sent before, else ``None`` (send it).

        One intent, one venue order: a resend of the same intent (a second Enter after a
        command timed out) gets the order as known, settling or settled, never a second
        order. Only an id whose last try the venue refused (or never received) may go
        again; its old record is dropped so the new try is tracked afresh.

        Raises:
            OrderRefused: the id's order was final and has been let go already.
        """
        if self.book.forgotten(client_id):
            raise OrderRefused(f"order {client_id} was sent before and is final")
        known = self.book.get(client_id)
        if known is None:
            return None
        if known.status is OrderStatus.REJECTED:
            self.book.retry(client_id)
            return None
        log.info("order %s sent before (%s): not sent again", client_id, known.status)
        return known

    @staticmethod
    def _pending(req: OrderRequest) -> Order:
        return req.as_order(OrderStatus.PENDING_NEW)

    def _seen_fill(self, fill: Fill) -> bool:
        """Whether ``fill`` was counted already (by symbol and trade id)."""
        let_go_to = self._fills_forgotten_to.get(fill.symbol)
        return (fill.symbol, fill.trade_id) in self.fills or (
            let_go_to is not None and fill.trade_id <= let_go_to
        )

    def _count_fill(self, fill: Fill) -> bool:
        """Remember ``fill``; whether it is new (its symbol and trade id not seen before)."""
        if self._seen_fill(fill):
            return False
        self.fills[(fill.symbol, fill.trade_id)] = fill
        now = time.monotonic()
        self._fill_times.append(now)
        if len(self._fill_times) == FILL_BURST and now - self._fill_times[0] <= 1.0:
            self._fill_times.clear()
            self.check_balances_soon("a fill burst")
        if len(self.fills) > KEEP_FILLS:
            symbol, trade_id = next(iter(self.fills))
            del self.fills[(symbol, trade_id)]
            self._fills_forgotten_to[symbol] = max(
                trade_id, self._fills_forgotten_to.get(symbol, trade_id)
            )
        return True

    async def _settle(self, order: Order) -> None:
        settled = await self.port.settle(order)
        if settled.status is not OrderStatus.UNKNOWN:
            log.info("order %s settled as %s", order.client_order_id, settled.status)
        self._learned(settled)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel(self, command: CancelOrder) -> Order:
        """Cancel one order; the order as the venue answered, or ``UNKNOWN`` when the answer
        was lost (then settled by query, like a new order).

        Raises:
            OrderRefused: the venue refused (e.g. -2011, the order is not open any more).
        """
        try:
            order = await self.port.cancel(command.symbol, command.client_order_id)
        except OutcomeUnknownError as exc:
            return self._unsure(command.symbol, command.client_order_id, f"cancel: {exc}")
        except Exception as exc:
            raise _refusal(exc) from exc
        self._learned(order)
        return order

    def _unsure(self, symbol: str, client_id: str, why: str) -> Order:
        """A request about an order lost its answer: the order is ``UNKNOWN`` (published)
        until a query settles it. The order as known now."""
        log.warning("order %s: outcome unknown (%s); asking the venue", client_id, why)
        known = self.book.get(client_id)
        if known is None:  # not tracked here (placed elsewhere): just ask
            self._spawn(self._query_and_learn(symbol, client_id))
            raise OrderRefused(f"{why}; order {client_id} is not tracked here, asking the venue")
        if known.status.is_terminal:
            return known  # already final: nothing the request could change
        unknown = msgspec.structs.replace(known, status=OrderStatus.UNKNOWN)
        self._learned(unknown)
        self._spawn(self._settle(unknown))
        return unknown

    async def _query_and_learn(self, symbol: str, client_id: str) -> None:
        try:
            self._learned(await self.port.query(symbol, client_id))
        except Exception as exc:  # the next reconciliation asks again
            log.warning("cannot query %s: %s", client_id, exc)

    async def replace(self, command: ReplaceOrder) -> Order:
        """Amend price or quantity by cancel-replace; the new order.

        The replacement's id is the command's (chosen once per intent), so a resend gets
        the replacement already sent. The replacement is tracked from the start
        (``PENDING_NEW``); a lost answer leaves both orders ``UNKNOWN`` until queried. An
        OCO leg is refused: amending one leg alone would drop the other.

        Raises:
            OrderRefused: not open, an OCO leg, or refused by the venue.
        """
        new_id = command.new_client_order_id or new_client_order_id()
        sent = self._sent_before(new_id)
        if sent is not None:
            return sent
        old = self.book.get(command.client_order_id)
        if old is None or not old.status.is_open:
            raise OrderRefused(f"order {command.client_order_id} is not open")
        if old.order_list_id != -1:
            raise OrderRefused(
                f"{command.client_order_id} is a leg of OCO list {old.order_list_id}: "
                "amend the whole list"
            )
        new = OrderRequest(
            symbol=old.symbol,
            side=old.side,
            type=old.type,
            quantity=command.quantity if command.quantity is not None else old.remaining_qty,
            price=command.price if command.price is not None else old.price,
            stop_price=old.stop_price,
            time_in_force=old.time_in_force,
            client_order_id=new_id,
        )
        pending = OrderManager._pending(new)
        self._publish(pending, ExecutionType.NEW)
        try:
            canceled, placed, fills = await self.port.replace(command.client_order_id, new)
        except OutcomeUnknownError as exc:
            self._unsure(old.symbol, old.client_order_id, f"cancel-replace: {exc}")
            return self._unsure(new.symbol, new_id, f"cancel-replace: {exc}")
        except Exception as exc:
            # Refused: the old order may be cancelled nonetheless (-2021); ask for it.
            self._spawn(self._settle(old))
            raise self._refused([pending], exc) from exc
        self._learned(canceled)
        self._learned(placed, fills)
        return placed

    async def replace_oco(self, command: ReplaceOco) -> list[Order]:
        """Amend an OCO as a whole: cancel the list at the venue, then place the new one;
        the new legs.

        The new list goes only when the old one is known to be cancelled with nothing
        traded: if the cancel's answer is lost (the legs are UNKNOWN until queried), or the
        venue refuses it (a leg traded, the list is done), or a leg had partly filled, the
        new list is not placed and its legs are published REJECTED with the reason, so the
        protective leg is never dropped, nor doubled, silently.

        Raises:
            OrderRefused: the old list is not open, or could not be cancelled cleanly.
        """
        sent = [self._sent_before(leg.client_order_id) for leg in (command.above, command.below)]
        if sent[0] is not None and sent[1] is not None:
            return [sent[0], sent[1]]
        list_id = command.order_list_id
        legs = [
            o
            for o in self.open_orders(command.symbol)
            if o.order_list_id == list_id and list_id != -1
        ]
        if not legs:
            raise OrderRefused(f"OCO list {list_id} is not open")
        new = PlaceOco(
            above=command.above,
            below=command.below,
            list_client_order_id=command.list_client_order_id,
        )
        try:
            canceled = await self.port.cancel_list(command.symbol, list_id)
        except OutcomeUnknownError as exc:
            for leg in legs:
                self._unsure(leg.symbol, leg.client_order_id, f"cancel of OCO list: {exc}")
            raise self._not_placed(
                new, f"OCO list {list_id}: the cancel's outcome is unknown (asking the venue)"
            ) from exc
        except Exception as exc:
            for leg in legs:
                self._spawn(self._settle(leg))  # a leg may have traded: learn how
            raise self._not_placed(
                new, f"OCO list {list_id} could not be cancelled: {_refusal(exc).reason}"
            ) from exc
        for leg in canceled:
            self._learned(leg)
        self.check_balances_soon("an OCO cancel")
        traded = [o for o in canceled if o.filled_qty > 0]
        if traded:
            raise self._not_placed(
                new,
                f"OCO list {list_id} was cancelled but leg {traded[0].client_order_id} had "
                f"traded {fmt(traded[0].filled_qty)}",
            )
        return await self.place_oco(new)

    def _not_placed(self, command: PlaceOco, why: str) -> OrderRefused:
        """Publish an OCO's legs as REJECTED (never sent) for ``why``; the error to raise."""
        reason = f"{why}: the new list was not placed"
        log.warning(reason)
        pendings = [OrderManager._pending(command.above), OrderManager._pending(command.below)]
        return self._refused(pendings, OrderRefused(reason))

    async def cancel_all(self, command: CancelAll) -> list[Order]:
        """Cancel every open order (of one symbol, or of every symbol known); the orders as
        the venue answered. A symbol whose answer was lost has its orders ``UNKNOWN``
        (returned too) until queried.

        Raises:
            OrderRefused: the venue refused.
        """
        symbols = (
            [command.symbol]
            if command.symbol
            else sorted(set(self.symbols) | {o.symbol for o in self.open_orders()})
        )
        done: list[Order] = []
        try:
            await self._cancel_all_of(symbols, done)
        finally:
            self.check_balances_soon("cancel-all")
        return done

    async def _cancel_all_of(self, symbols: list[str], done: list[Order]) -> None:
        for symbol in symbols:
            try:
                orders = await self.port.cancel_all(symbol)
            except OutcomeUnknownError as exc:
                for order in self.open_orders(symbol):
                    done.append(self._unsure(symbol, order.client_order_id, f"cancel-all: {exc}"))
                continue
            except Exception as exc:
                raise _refusal(exc) from exc
            for order in orders:
                self._learned(order)
            done.extend(orders)

    def check_balances_soon(self, reason: str) -> None:
        """Check balances with the venue shortly (once for several calls in a row)."""
        if reason not in self._balance_reasons:
            self._balance_reasons.append(reason)
        if self._balance_check is None or self._balance_check.done():
            self._balance_check = asyncio.ensure_future(self._check_balances_later())
            self._tasks.add(self._balance_check)
            self._balance_check.add_done_callback(self._tasks.discard)

    async def _check_balances_later(self) -> None:
        await asyncio.sleep(BALANCE_CHECK_DELAY_S)
        reasons, self._balance_reasons = self._balance_reasons, []
        try:
            await self.check_balances(" and ".join(reasons))
        except Exception as exc:  # the next check or reconciliation asks again
            log.warning("balance check after %s failed: %s", " and ".join(reasons), exc)

    async def check_balances(self, reason: str) -> list[str]:
        """Compare the balances the bus has said with the venue's (``GET /api/v3/account``).

        What differs is published: ``BalancesChanged`` with the venue's values, and a
        ``Reconciled`` whose detail names each difference, for the order event log. The
        differences, as sentences.
        """
        balances, differences = await self._venue_balances()
        if not differences:
            return []
        self.bus.publish(
            topics.BALANCE,
            BalancesChanged(balances=[b for b in balances if b.asset in differences]),
        )
        said = list(differences.values())
        detail = f"balances after {reason} differed from the venue's: " + "; ".join(said)
        log.warning(detail)
        self.bus.publish(
            topics.RECONCILE,
            Reconciled(
                orders_changed=[],
                fills_added=0,
                balances=len(differences),
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )
        return said

    async def _venue_balances(self) -> tuple[list[Balance], dict[str, str]]:
        """The venue's balances (an asset shown here but absent there is zero there), and
        how each asset that differs does so from what the bus said last."""
        venue = {b.asset: b for b in await self.port.balances()}
        for asset in self.balances:
            venue.setdefault(asset, Balance(asset=asset, free=ZERO, locked=ZERO))
        differences: dict[str, str] = {}
        for asset, theirs in sorted(venue.items()):
            ours = self.balances.get(asset)
            if ours is None:
                # Before the first balances are shown (start-up) nothing is missing yet.
                if theirs.total and self.balances:
                    differences[asset] = (
                        f"{asset} not shown, venue free {fmt(theirs.free)} "
                        f"locked {fmt(theirs.locked)}"
                    )
            elif (ours.free, ours.locked) != (theirs.free, theirs.locked):
                differences[asset] = (
                    f"{asset} shown free {fmt(ours.free)} locked {fmt(ours.locked)}, "
                    f"venue free {fmt(theirs.free)} locked {fmt(theirs.locked)}"
                )
        return list(venue.values()), differences

    async def reconcile(self) -> Reconciled:
        """Compare local state with the venue's and publish every difference.

        Run after each (re)connect of the user-data stream: open orders that changed or
        that we did not know, orders we believed open that are not (their final state is
        asked for), fills newer than the last one seen, and balances.
        """
        changed: list[str] = []
        venue_open = {o.client_order_id: o for o in await self.port.open_orders()}
        for client_id, order in venue_open.items():
            known = self.book.get(client_id)
            if self.book.is_news(order):
                self._publish(order, ExecutionType.NEW if known is None else ExecutionType.TRADE)
                changed.append(client_id)
        for known in self.open_orders():
            client_id = known.client_order_id
            if client_id not in venue_open:
                try:
                    final = await self.port.query(known.symbol, client_id)
                except Exception as exc:  # the venue forgot it: keep it, and say so
                    log.warning("reconcile: cannot query %s: %s", client_id, exc)
                    continue
                if self.book.is_news(final):
                    self._publish(final, _execution_of(final.status))
                    changed.append(client_id)
        mine = [o for o in self.book if self._mine(o.symbol)]
        owners: dict[int, Order | None] = {o.order_id: o for o in mine if o.order_id is not None}
        added = 0
        for symbol in sorted(set(self.symbols) | {o.symbol for o in mine}):
            added += await self._reconcile_fills(symbol, owners)
        balances, differences = await self._venue_balances()
        self.bus.publish(topics.BALANCE, BalancesChanged(balances=balances))
        detail = f"{len(changed)} orders changed, {added} fills added while disconnected"
        if differences:
            detail += "; balances differed: " + "; ".join(differences.values())
            log.warning("reconcile: balances differed from the venue's: %s", differences)
        report = Reconciled(
            orders_changed=changed,
            fills_added=added,
            balances=len(balances),
            detail=detail,
            time_ms=int(time.time() * 1000),
        )
        self.bus.publish(topics.RECONCILE, report)
        return report

    async def _reconcile_fills(self, symbol: str, owners: dict[int, Order | None]) -> int:
        """Fetch the fills of ``symbol`` above the last reconciled one and publish those not
        seen, each with its order; how many.

        Asks from the last reconciled point, not from the newest fill known: a fill the
        stream delivered after the link came back may sit above one missed while it was
        down, and asking above it would lose that one for good. The first time, the most
        recent fills: asking from id 0 would fetch a long-lived account's oldest fills and
        count them as missed.
        """
        mark = self._fills_complete_to.get(symbol)
        fetched = await self.port.fills_since(symbol, None if mark is None else mark + 1)
        added = 0
        unresolved: list[int] = []
        for fill in fetched:
            if self._seen_fill(fill):
                continue
            owner = await self._owner_of(fill, owners)
            if owner is None:
                unresolved.append(fill.trade_id)
                continue
            fill = msgspec.structs.replace(fill, client_order_id=owner.client_order_id)
            self._count_fill(fill)
            self._publish(owner, ExecutionType.TRADE, fill)
            added += 1
        if fetched:
            # Everything the venue answered (all fills above the old mark, or a page of
            # them) is known now, up to the first fill whose order could not be found: that
            # one is asked for again next time, not dropped.
            newest = max(f.trade_id for f in fetched)
            known_to = min(unresolved) - 1 if unresolved else newest
            self._fills_complete_to[symbol] = max(known_to, -1 if mark is None else mark)
        return added

    async def _owner_of(self, fill: Fill, owners: dict[int, Order | None]) -> Order | None:
        """The order a fetched fill belongs to: known by its venue id, or else asked for
        (an order whose answer was lost has no venue id here yet; one placed elsewhere is
        not known at all). ``None`` when the venue cannot say just now."""
        if fill.order_id in owners:
            return owners[fill.order_id]
        try:
            order = await self.port.query(fill.symbol, order_id=fill.order_id)
        except Exception as exc:
            log.warning(
                "reconcile: cannot find order %s of fill %s: %s", fill.order_id, fill.trade_id, exc
            )
            owners[fill.order_id] = None
            return None
        owners[fill.order_id] = order
        return order

    async def aclose(self) -> None:
        """Wait for settlements in flight."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
