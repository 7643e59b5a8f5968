"""The order book of record: the engine's one account of every order's state.

Reports of our orders reach the bus on ``exec.order`` from two sides (the venue's user-data
stream, and the order manager's REST answers), out of order at times and sometimes twice.
This book is their only reader that decides what is true: it is the one place
``OrderStatus.supersedes`` is applied (a late report never rolls a final order back, nor
brings back one let go), and where each fill is counted once by (symbol, trade id). Each
change it accepts is published on ``exec.book`` as an ``OrderBookUpdate`` with a sequence
number one above the last; ``OrderBookState`` answers with a snapshot at its sequence. The
order manager, the risk gate, the screen and the gateway read the book (in process) or its
updates (over the bus or the wire): nobody else keeps order state of their own.

A terminal that attaches late takes the snapshot, then the updates above its sequence: it
ends with the same orders as one that saw every update (the gateway hands the two over
without a gap, ``gateway/last_values.py``).

Memory stays bounded over a long session: open orders are kept while open, final ones only
the newest ``KEEP_FINAL_ORDERS`` (history is the store's job); the ids of those let go
(``KEEP_FORGOTTEN_IDS``) so that a late report cannot bring one back; fill keys the newest
``KEEP_FILLS`` with a per-symbol mark below which a fill counts as seen.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Iterator

import msgspec

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.bus.subscription import Subscription
from omnitrade_tui.domain.commands import OrderBookState
from omnitrade_tui.domain.enums import OrderStatus
from omnitrade_tui.domain.events import OrderBookSnapshot, OrderBookUpdate, OrderUpdated
from omnitrade_tui.domain.models import ExecutionReport, Fill, Order
from omnitrade_tui.domain.recent import RecentKeys, SeenTrades

#: Final orders (filled, cancelled, rejected, expired) kept after newer ones: far more than
#: any late report, a reconciliation's missed fill or a cancel-replace can refer to (they
#: concern orders seconds old); the full history is in the store.
KEEP_FINAL_ORDERS = 500
#: Ids of final orders let go, remembered so that a late report cannot bring one back as open.
KEEP_FORGOTTEN_IDS = 2_000
#: Fills remembered by (symbol, trade id) to count each once. A fill reaches us within
#: seconds (stream, REST answer) or at the next reconciliation, so a fill older than this
#: many newer ones is never new.
KEEP_FILLS = 1_000

#: The book of each bus (one engine, one book): the order manager and the risk gate built
#: on one bus share it without being handed it.
_BOOKS: weakref.WeakKeyDictionary[Bus, OrderBookOfRecord] = weakref.WeakKeyDictionary()


class OrderBookOfRecord:
    """Every open order and the newest final ones, fed by ``exec.order``, published in
    sequence on ``exec.book`` (see the module docstring)."""

    def __init__(
        self,
        bus: Bus,
        keep_final: int = KEEP_FINAL_ORDERS,
        keep_forgotten: int = KEEP_FORGOTTEN_IDS,
    ) -> None:
        if bus in _BOOKS:
            raise ValueError("this bus has its order book of record already (use .on(bus))")
        _BOOKS[bus] = self
        self.bus = bus
        self.keep_final = keep_final
        self._orders: dict[str, Order] = {}
        self._final_ids: deque[str] = deque()
        #: Final orders let go of: a late report must not bring one back as open.
        self.forgotten_ids: RecentKeys[str] = RecentKeys(keep_forgotten)
        self._fills = SeenTrades(KEEP_FILLS)
        #: The sequence number of the last update published (0: none yet).
        self.seq = 0
        self._sub: Subscription | None = bus.subscribe(
            topics.ORDER, each(self._on_report), name="order-book"
        )
        bus.handle(OrderBookState, self._on_state)

    @classmethod
    def on(
        cls,
        bus: Bus,
        keep_final: int = KEEP_FINAL_ORDERS,
        keep_forgotten: int = KEEP_FORGOTTEN_IDS,
    ) -> OrderBookOfRecord:
        """The book of record of ``bus``, made (with these bounds) the first time it is
        asked for."""
        book = _BOOKS.get(bus)
        return book if book is not None else cls(bus, keep_final, keep_forgotten)

    @staticmethod
    def of(bus: Bus) -> OrderBookOfRecord | None:
        """The book of record of ``bus``, if it has one (made by nobody here)."""
        return _BOOKS.get(bus)

    def close(self) -> None:
        """Leave the bus."""
        if self._sub is not None:
            self._sub.close()
            self._sub = None
            self.bus.unhandle(OrderBookState)
            _BOOKS.pop(self.bus, None)

    # -- reading ---------------------------------------------------------------------------

    def get(self, client_order_id: str) -> Order | None:
        """The order of record with this client order id, if the book holds it."""
        return self._orders.get(client_order_id)

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._orders

    def __iter__(self) -> Iterator[Order]:
        return iter(list(self._orders.values()))

    def __len__(self) -> int:
        return len(self._orders)

    @property
    def orders(self) -> dict[str, Order]:
        """Every order held, by client order id: the book's own table, to read (reports
        change it, through ``apply``)."""
        return self._orders

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that may still trade (UNKNOWN ones included: they might)."""
        return [
            o
            for o in self._orders.values()
            if o.status.is_open and (symbol is None or o.symbol == symbol)
        ]

    def forgotten(self, client_order_id: str) -> bool:
        """Whether the order was final and has been let go (a late report is ignored)."""
        return client_order_id in self.forgotten_ids

    def has_fill(self, fill: Fill) -> bool:
        """Whether the fill (by symbol and trade id) was counted already."""
        return (fill.symbol, fill.trade_id) in self._fills

    def is_news(self, order: Order) -> bool:
        """Whether a report of ``order`` would change the book's status or filled quantity
        of it (what the order manager publishes a REST answer for)."""
        if order.client_order_id in self.forgotten_ids:
            return False
        known = self._orders.get(order.client_order_id)
        if known is None:
            return True
        if not order.status.supersedes(known.status):
            return False
        return (known.status, known.filled_qty) != (order.status, order.filled_qty)

    def snapshot(self) -> OrderBookSnapshot:
        """Every order held, open ones first, as of the last update's sequence number."""
        held = list(self._orders.values())
        held.sort(key=lambda o: not o.status.is_open)
        return OrderBookSnapshot(seq=self.seq, orders=held)

    async def _on_state(self, command: OrderBookState) -> OrderBookSnapshot:
        return self.snapshot()

    # -- writing ---------------------------------------------------------------------------

    def retry(self, client_order_id: str) -> None:
        """Let an id whose last try was refused (``REJECTED``) be sent again: its old record
        goes, so the new try is tracked afresh (a refused order never reached the venue)."""
        known = self._orders.get(client_order_id)
        if known is not None and known.status is OrderStatus.REJECTED:
            del self._orders[client_order_id]

    def _on_report(self, topic: str, event: OrderUpdated) -> None:
        self.apply(event.report)

    def apply(self, report: ExecutionReport) -> OrderBookUpdate | None:
        """Take in one report: the update published (with its sequence), or ``None`` when it
        changed nothing (a late or repeated report of a known state, a fill counted)."""
        order = report.order
        client_id = order.client_order_id
        fill = report.fill
        new_fill = fill is not None and self._fills.add(fill.symbol, fill.trade_id)
        if client_id in self.forgotten_ids:
            return None
        known = self._orders.get(client_id)
        takes = order.status.supersedes(None if known is None else known.status)
        if takes and known is not None and order == known and not new_fill:
            return None  # the same state again
        if not takes:
            if not new_fill or known is None:
                return None
            # A fill the stream reported late, after the order's final state: the fill is
            # news, the order stays as it is.
            order = known
        dropped: list[str] = []
        if takes:
            self._orders[client_id] = order
            if order.status.is_terminal and (known is None or not known.status.is_terminal):
                self._final_ids.append(client_id)
                dropped = self._let_go_of_old_orders()
        if order is not report.order or (fill is not None and not new_fill):
            # What is published is what the book holds, and a fill only the first time.
            report = msgspec.structs.replace(report, order=order, fill=fill if new_fill else None)
        self.seq += 1
        update = OrderBookUpdate(seq=self.seq, report=report, dropped=dropped)
        self.bus.publish(topics.ORDER_BOOK, update)
        return update

    def _let_go_of_old_orders(self) -> list[str]:
        dropped: list[str] = []
        while len(self._final_ids) > self.keep_final:
            client_id = self._final_ids.popleft()
            order = self._orders.get(client_id)
            if order is not None and order.status.is_terminal:
                del self._orders[client_id]
                self.forgotten_ids.add(client_id)
                dropped.append(client_id)
        return dropped
