"""Alerts on the bus: rules evaluated in the engine as events flow, so the app, a headless
``record`` and the gateway all run them, and every attached terminal hears them.

The service keeps the rules (from an ``AlertStore``: the database in a run with one, memory
otherwise), subscribes to the topics their kinds need, and publishes an ``AlertFired`` on
``alert.fired`` when one fires. The screen turns that into a toast, the bell and a desktop
notification; the rule's ``delivery`` names targets from the config (a webhook or a
command), which an ``Outbox`` serves in the background with timeouts and retries, bounded,
never blocking the engine.

Evaluation is per event and cheap: rules are indexed by symbol, price levels are kept sorted
so a trade checks only the levels it crossed, and rules that share a window share its
arithmetic.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import msgspec

from omnitrade_tui.bus import each, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.subscription import Subscription
from omnitrade_tui.domain.alerts import (
    AlertFired,
    AlertKind,
    AlertRule,
    AlertRuleError,
    PriceWindow,
    Trigger,
    VolumeWindows,
    crossed,
    imbalance,
    price_text,
    spread_bps,
)
from omnitrade_tui.domain.backoff import Backoff
from omnitrade_tui.domain.commands import (
    AddAlert,
    AlertHistory,
    DeleteAlert,
    ListAlerts,
    UpdateAlert,
)
from omnitrade_tui.domain.enums import OrderStatus
from omnitrade_tui.domain.events import (
    BookTop,
    ConnectionChanged,
    FeedFreshness,
    KillSwitchChanged,
    LinkState,
    OrderBookSnapshot,
    OrderBookUpdate,
    OrderRejected,
)
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.domain.recent import RecentKeys
from omnitrade_tui.engine.book_of_record import OrderBookOfRecord

log = logging.getLogger(__name__)

#: Most rules one engine keeps (each costs a little on every event of its symbol).
MAX_RULES = 5_000
#: Alerts that fired kept in memory when no database keeps them.
MAX_MEMORY_HISTORY = 1_000
_TICK_S = 0.25


class AlertStore(Protocol):
    """Where rules and what fired are kept (the store implements it over the database)."""

    async def load_rules(self) -> list[AlertRule]:
        """Every rule, oldest first."""
        ...

    async def save_rule(self, rule: AlertRule) -> None:
        """Insert or replace a rule by its id."""
        ...

    async def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule; whether there was one."""
        ...

    async def record_fired(self, fired: AlertFired) -> None:
        """Keep one firing."""
        ...

    async def fired(self, limit: int) -> list[AlertFired]:
        """What fired, newest first."""
        ...


class MemoryAlertStore:
    """Rules and a bounded history in memory, for a run with no database."""

    def __init__(self) -> None:
        self._rules: dict[str, AlertRule] = {}
        self._fired: deque[AlertFired] = deque(maxlen=MAX_MEMORY_HISTORY)

    async def load_rules(self) -> list[AlertRule]:
        """Every rule, oldest first."""
        return list(self._rules.values())

    async def save_rule(self, rule: AlertRule) -> None:
        """Insert or replace a rule by its id."""
        self._rules[rule.rule_id] = rule

    async def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule; whether there was one."""
        return self._rules.pop(rule_id, None) is not None

    async def record_fired(self, fired: AlertFired) -> None:
        """Keep one firing (the oldest let go past the bound)."""
        self._fired.append(fired)

    async def fired(self, limit: int) -> list[AlertFired]:
        """What fired, newest first."""
        return list(reversed(self._fired))[:limit]


@dataclass(frozen=True)
class DeliveryTarget:
    """Somewhere an alert may be sent besides the screen, as the config lists it: a webhook
    (``url``: an HTTP POST of the alert as JSON) or a command (``argv``: run with the alert
    as JSON on its standard input and ``OMNITRADE_ALERT`` in its environment)."""

    name: str
    url: str | None = None
    argv: tuple[str, ...] = ()
    timeout_s: float = 5.0
    retries: int = 3


@dataclass
class OutboxStats:
    """What the outbox did, for diagnostics and tests."""

    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    by_target: dict[str, int] = field(default_factory=dict)


class Outbox:
    """Keeps what fired and sends it to its targets, in the background: a bounded queue and
    a few workers, each send with a timeout and retries with backoff. A full queue drops
    the newest with a warning rather than hold the engine."""

    def __init__(
        self,
        store: AlertStore,
        targets: Mapping[str, DeliveryTarget],
        bound: int = 1_000,
        workers: int = 2,
        retry_s: float = 0.5,
    ) -> None:
        self.store = store
        self.targets = dict(targets)
        self.retry_s = retry_s
        self.stats = OutboxStats()
        self._queue: asyncio.Queue[AlertFired] = asyncio.Queue(maxsize=bound)
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None

    def start(self) -> None:
        """Start the workers."""
        self._http = httpx.AsyncClient(follow_redirects=False)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self, drain_s: float = 2.0) -> None:
        """Give what is queued a moment to go, then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    def put(self, fired: AlertFired) -> None:
        """Queue one firing; never waits."""
        try:
            self._queue.put_nowait(fired)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            log.warning("alert outbox full: %s not kept or delivered", fired.message)

    async def _work(self) -> None:
        while True:
            fired = await self._queue.get()
            try:
                await self._deliver(fired)
            finally:
                self._queue.task_done()

    async def _deliver(self, fired: AlertFired) -> None:
        try:
            await self.store.record_fired(fired)
        except Exception:
            log.exception("alert history: could not keep %s", fired.message)
        for name in fired.delivery:
            target = self.targets.get(name)
            if target is None:
                log.warning(
                    "alert %s names delivery %r, which the config does not list",
                    fired.rule_id,
                    name,
                )
                self.stats.failed += 1
                continue
            if await self._send(target, fired):
                self.stats.delivered += 1
                self.stats.by_target[name] = self.stats.by_target.get(name, 0) + 1
            else:
                self.stats.failed += 1

    async def _send(self, target: DeliveryTarget, fired: AlertFired) -> bool:
        body = msgspec.json.encode(fired)
        waits = Backoff(self.retry_s)
        for attempt in range(max(1, target.retries)):
            if attempt:
                await asyncio.sleep(waits.next())
            try:
                if target.url is not None:
                    assert self._http is not None
                    response = await self._http.post(
                        target.url,
                        content=body,
                        headers={"Content-Type": "application/json"},
                        timeout=target.timeout_s,
                    )
                    if response.status_code < 300:
                        return True
                    log.warning("alert webhook %s answered %d", target.name, response.status_code)
                    if 400 <= response.status_code < 500 and response.status_code != 429:
                        return False  # the receiver refuses this body: retrying cannot help
                elif target.argv:
                    if await self._run(target, body, fired.message):
                        return True
                else:
                    return False
            except (httpx.HTTPError, OSError, TimeoutError) as exc:
                log.warning("alert delivery %s failed: %s", target.name, exc)
        return False

    async def _run(self, target: DeliveryTarget, body: bytes, message: str) -> bool:
        proc = await asyncio.create_subprocess_exec(
            *target.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={"OMNITRADE_ALERT": message, "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
        try:
            await asyncio.wait_for(proc.communicate(body), target.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.warning("alert command %s ran past %gs: killed", target.name, target.timeout_s)
            return False
        return proc.returncode == 0


@dataclass
class _Live:
    """A rule being evaluated: its trigger and the running figures its kind needs."""

    rule: AlertRule
    trigger: Trigger
    since_ms: dict[Any, int] = field(default_factory=dict)


@dataclass
class _SymbolRules:
    """A symbol's market rules, arranged for cheap evaluation per event."""

    levels: list[tuple[float, str]] = field(default_factory=list)  # sorted (level, rule_id)
    moves: dict[float, tuple[PriceWindow, list[_Live]]] = field(default_factory=dict)
    volumes: dict[float, tuple[VolumeWindows, list[_Live]]] = field(default_factory=dict)
    book: list[_Live] = field(default_factory=list)
    last_price: float | None = None


def new_rule_id() -> str:
    """A fresh rule id."""
    return "al-" + secrets.token_hex(6)


class AlertService:
    """Evaluate alert rules on the bus; handle the alert commands."""

    def __init__(
        self,
        bus: Bus,
        store: AlertStore | None = None,
        targets: Mapping[str, DeliveryTarget] | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.bus = bus
        self.store: AlertStore = store or MemoryAlertStore()
        self.outbox = Outbox(self.store, targets or {})
        self._now = clock_ms or (lambda: int(time.time() * 1000))
        self._rules: dict[str, AlertRule] = {}
        self._live: dict[str, _Live] = {}
        self._symbols: dict[str, _SymbolRules] = {}
        self._by_kind: dict[AlertKind, list[_Live]] = {}
        self._seen_orders: RecentKeys[tuple[str, str]] = RecentKeys(4_096)
        self._down: dict[tuple[str, str], int] = {}
        self._stale: dict[tuple[str, str], int] = {}
        self._subs: list[Subscription] = []
        self._tick: asyncio.Task[None] | None = None
        self._persisting: set[asyncio.Task[None]] = set()
        self.fired_count = 0

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the rules, subscribe, handle the commands, start the clock and the outbox."""
        for rule in await self.store.load_rules():
            self._rules[rule.rule_id] = rule
        self._reindex()
        # Our orders as the engine's book of record accepted them: a fill the REST answer
        # and the user stream both report is one update there, so one alert.
        OrderBookOfRecord.on(self.bus)
        sub = self.bus.subscribe
        self._subs = [
            sub(topics.trade.all, each(self._on_trade), name="alerts.trade"),
            sub(topics.book.all, each(self._on_book), name="alerts.book"),
            sub(topics.freshness.all, each(self._on_fresh), name="alerts.fresh"),
            sub(topics.ORDER_BOOK, each(self._on_order), name="alerts.order"),
            sub(topics.REJECT, each(self._on_reject), name="alerts.reject"),
            sub(topics.CONNECTION, each(self._on_link), name="alerts.link"),
            sub(topics.KILL_SWITCH, each(self._on_kill), name="alerts.kill"),
        ]
        self.bus.handle(AddAlert, self.add)
        self.bus.handle(UpdateAlert, self.update)
        self.bus.handle(DeleteAlert, self.delete)
        self.bus.handle(ListAlerts, self.all_rules)
        self.bus.handle(AlertHistory, self.history)
        self.outbox.start()
        self._tick = asyncio.create_task(self._clock(), name="alerts-clock")

    async def stop(self) -> None:
        """Stop evaluating; let the outbox send what it holds."""
        for s in self._subs:
            s.close()
        self._subs = []
        for command in (AddAlert, UpdateAlert, DeleteAlert, ListAlerts, AlertHistory):
            self.bus.unhandle(command)
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick
        await asyncio.gather(*self._persisting, return_exceptions=True)
        await self.outbox.stop()

    # -- commands --------------------------------------------------------------------------

    async def add(self, command: AddAlert) -> AlertRule:
        """Add a rule; the reply is the rule as kept (with its id)."""
        if len(self._rules) >= MAX_RULES:
            raise AlertRuleError(f"at most {MAX_RULES} alert rules")
        rule = msgspec.structs.replace(
            command.rule, rule_id=new_rule_id(), created_ms=command.rule.created_ms or self._now()
        )
        return await self._keep(rule)

    async def update(self, command: UpdateAlert) -> AlertRule:
        """Replace a rule by its id (its evaluation starts afresh)."""
        if command.rule.rule_id not in self._rules:
            raise AlertRuleError(f"no alert {command.rule.rule_id!r}")
        return await self._keep(command.rule)

    async def _keep(self, rule: AlertRule) -> AlertRule:
        rule.check()
        if rule.symbol is not None:
            rule = msgspec.structs.replace(rule, symbol=rule.symbol.upper())
        await self.store.save_rule(rule)
        self._rules[rule.rule_id] = rule
        self._reindex()
        return rule

    async def delete(self, command: DeleteAlert) -> bool:
        """Delete a rule."""
        existed = self._rules.pop(command.rule_id, None) is not None
        await self.store.delete_rule(command.rule_id)
        self._reindex()
        return existed

    async def all_rules(self, command: ListAlerts) -> list[AlertRule]:
        """Every rule, oldest first."""
        # Oldest first; rules made in the same millisecond keep the order they were added.
        return sorted(self._rules.values(), key=lambda r: r.created_ms)

    async def history(self, command: AlertHistory) -> list[AlertFired]:
        """What fired, newest first."""
        return await self.store.fired(max(1, min(command.limit, 10_000)))

    # -- index -----------------------------------------------------------------------------

    def _reindex(self) -> None:
        """Arrange the enabled rules for evaluation; a rule's running figures survive when
        the rule itself did not change."""
        old = self._live
        old_symbols = self._symbols
        self._live = {}
        self._symbols = {}
        self._by_kind = {}
        for rule in self._rules.values():
            if not rule.enabled:
                continue
            kept = old.get(rule.rule_id)
            live = (
                kept
                if kept is not None and kept.rule == rule
                else _Live(rule, Trigger(rule.cooldown_s if rule.repeat else 0.0))
            )
            self._live[rule.rule_id] = live
            kind = rule.kind
            if kind.needs_symbol:
                assert rule.symbol is not None
                rules = self._symbols.get(rule.symbol)
                before = old_symbols.get(rule.symbol)
                if rules is None:
                    rules = self._symbols[rule.symbol] = _SymbolRules()
                    # The market's running figures outlive a change of the rules.
                    rules.last_price = before.last_price if before else None
                if kind is AlertKind.PRICE_CROSS:
                    assert rule.level is not None
                    bisect.insort(rules.levels, (rule.level, rule.rule_id))
                elif kind is AlertKind.MOVE_PCT:
                    if rule.window_s not in rules.moves:
                        kept_move = before.moves.get(rule.window_s) if before else None
                        window = kept_move[0] if kept_move else PriceWindow(rule.window_s)
                        rules.moves[rule.window_s] = (window, [])
                    rules.moves[rule.window_s][1].append(live)
                elif kind is AlertKind.VOLUME_SPIKE:
                    if rule.window_s not in rules.volumes:
                        kept_vol = before.volumes.get(rule.window_s) if before else None
                        windows = kept_vol[0] if kept_vol else VolumeWindows(rule.window_s)
                        rules.volumes[rule.window_s] = (windows, [])
                    rules.volumes[rule.window_s][1].append(live)
                else:
                    rules.book.append(live)
            else:
                self._by_kind.setdefault(kind, []).append(live)

    # -- evaluation --------------------------------------------------------------------------

    def _on_trade(self, topic: str, event: Trade) -> None:
        rules = self._symbols.get(event.symbol)
        if rules is None:
            return
        price = event.price
        previous, rules.last_price = rules.last_price, price
        if rules.levels and previous is not None and previous != price:
            low, high = (previous, price) if previous < price else (price, previous)
            start = bisect.bisect_left(rules.levels, (low, ""))
            for level, rule_id in rules.levels[start:]:
                if level > high:
                    break
                live = self._live[rule_id]
                if crossed(previous, price, level, live.rule.direction):
                    way = "up" if price > previous else "down"
                    self._pulse(
                        live,
                        f"{event.symbol} crossed {price_text(level)} {way} at {price_text(price)}",
                        price,
                        event.symbol,
                    )
        for window, lives in rules.moves.values():
            move = window.add(event.time_ms, price)
            for live in lives:
                if self._fires(live, abs(move) >= live.rule.threshold):
                    self._fire(
                        live,
                        f"{event.symbol} moved {move:+.2f}% in {live.rule.window_s:g}s "
                        f"to {price_text(price)}",
                        move,
                        event.symbol,
                    )
        for windows, lives in rules.volumes.values():
            ratio = windows.add(event.time_ms, event.qty)
            for live in lives:
                if self._fires(live, ratio >= live.rule.threshold):
                    self._fire(
                        live,
                        f"{event.symbol} volume {ratio:.1f}x usual in {live.rule.window_s:g}s",
                        ratio,
                        event.symbol,
                    )

    def _on_book(self, topic: str, event: BookTop) -> None:
        if not event.bids or not event.asks:
            return
        rules = self._symbols.get(event.symbol)
        if rules is None or not rules.book:
            return
        bid, ask = event.bids[0].price, event.asks[0].price
        spread = spread_bps(bid, ask)
        bids = sum(level.qty for level in event.bids)
        asks = sum(level.qty for level in event.asks)
        lopsided = imbalance(bids, asks)
        for live in rules.book:
            rule = live.rule
            if rule.kind is AlertKind.SPREAD_BPS:
                if self._fires(live, spread > rule.threshold):
                    self._fire(
                        live,
                        f"{event.symbol} spread {spread:.1f} bps "
                        f"({price_text(bid)} / {price_text(ask)})",
                        spread,
                        event.symbol,
                    )
            else:
                heavy = "bids" if bids >= asks else "asks"
                if self._fires(live, lopsided >= rule.threshold):
                    self._fire(
                        live,
                        f"{event.symbol} book {lopsided:.1f}:1 to the {heavy}",
                        lopsided,
                        event.symbol,
                    )

    def _on_order(self, topic: str, event: OrderBookUpdate | OrderBookSnapshot) -> None:
        if not isinstance(event, OrderBookUpdate):
            return  # a snapshot (to a late reader) says nothing new happened
        report = event.report
        order, fill = report.order, report.fill
        if fill is not None:
            for live in self._for(AlertKind.OWN_FILL, order.symbol):
                self._pulse(
                    live,
                    f"filled {fill.side} {fill.qty} {fill.symbol} @ {fill.price} "
                    f"({order.client_order_id})",
                    float(fill.price),
                    order.symbol,
                )
        if order.status in (OrderStatus.REJECTED, OrderStatus.EXPIRED):
            self._order_failed(
                order.client_order_id,
                order.symbol,
                f"{order.status} {order.side} {order.quantity} {order.symbol} "
                f"{order.type} ({order.client_order_id})"
                + (f": {order.reject_reason}" if order.reject_reason else ""),
            )

    def _on_reject(self, topic: str, event: OrderRejected) -> None:
        text = f"REJECTED {event.symbol} ({event.client_order_id}): {event.reason}"
        if event.source == "risk":
            for live in self._for(AlertKind.RISK_REFUSAL, event.symbol):
                self._pulse(
                    live,
                    f"risk refused {event.symbol} ({event.client_order_id}): {event.reason}",
                    None,
                    event.symbol,
                )
        self._order_failed(event.client_order_id, event.symbol, text)

    def _order_failed(self, client_order_id: str, symbol: str, text: str) -> None:
        key = (client_order_id, "failed")
        if key in self._seen_orders:
            return  # the REST answer and the stream both told of it
        self._seen_orders.add(key)
        for live in self._for(AlertKind.ORDER_FAILED, symbol):
            self._pulse(live, text, None, symbol)

    def _on_kill(self, topic: str, event: KillSwitchChanged) -> None:
        if event.engaged:
            for live in self._by_kind.get(AlertKind.KILL_SWITCH, ()):
                self._pulse(
                    live, f"KILL SWITCH engaged: {event.reason} {event.detail}".strip(), None, None
                )

    def _on_link(self, topic: str, event: ConnectionChanged) -> None:
        key = (event.venue, event.link)
        if event.state is LinkState.CONNECTED:
            self._down.pop(key, None)
        else:
            self._down.setdefault(key, self._now())

    def _on_fresh(self, topic: str, event: FeedFreshness) -> None:
        key = (event.symbol, event.stream)
        if event.stale:
            self._stale.setdefault(key, self._now() - event.age_ms)
        else:
            self._stale.pop(key, None)

    async def _clock(self) -> None:
        """Conditions that are about time passing: a link down, a feed silent, for N s."""
        while True:
            await asyncio.sleep(_TICK_S)
            self.check_time()

    def check_time(self) -> None:
        """Evaluate the time-based rules now (the clock task calls it; tests may too)."""
        now = self._now()
        for live in self._by_kind.get(AlertKind.LINK_DOWN, ()):
            limit = live.rule.seconds * 1000
            longest = max(((now - t, k) for k, t in self._down.items()), default=None)
            down = longest is not None and longest[0] >= limit
            what = f"{longest[1][0]} {longest[1][1]}" if longest else ""
            if self._fires(live, down):
                self._fire(live, f"venue link {what} down for {live.rule.seconds:g}s", None, None)
        for live in self._by_kind.get(AlertKind.FEED_STALE, ()):
            limit = live.rule.seconds * 1000
            silent = [
                (symbol, stream)
                for (symbol, stream), since in self._stale.items()
                if now - since >= limit and live.rule.symbol in (None, symbol)
            ]
            names = ", ".join(f"{s} {k}" for s, k in sorted(silent))
            if self._fires(live, bool(silent)):
                self._fire(
                    live, f"feed silent for {live.rule.seconds:g}s: {names}", None, live.rule.symbol
                )

    def _for(self, kind: AlertKind, symbol: str) -> list[_Live]:
        return [
            live
            for live in self._by_kind.get(kind, ())
            if live.rule.symbol is None or live.rule.symbol == symbol
        ]

    def _pulse(self, live: _Live, message: str, value: float | None, symbol: str | None) -> None:
        """An instantaneous event (a crossing, a fill): fires unless in its cooldown."""
        if live.trigger.update(True, self._now()):
            self._fire(live, message, value, symbol)
        live.trigger.update(False, self._now())

    def _fires(self, live: _Live, condition: bool) -> bool:
        """Whether a state (a wide spread, a silent feed) fires now: when it becomes true.
        Callers format the message only then: most evaluations fire nothing, and formatting
        would be their dearest part."""
        return live.trigger.update(condition, self._now())

    def _fire(self, live: _Live, message: str, value: float | None, symbol: str | None) -> None:
        rule = live.rule
        fired = AlertFired(
            rule_id=rule.rule_id,
            kind=rule.kind,
            symbol=symbol,
            message=f"{rule.label}: {message}" if rule.label else message,
            value=value,
            delivery=rule.delivery,
            time_ms=self._now(),
        )
        self.fired_count += 1
        self.bus.publish(topics.ALERT, fired)
        self.outbox.put(fired)
        if not rule.repeat:
            # One-shot: paused once it fired, kept (and shown as done) until deleted.
            done = msgspec.structs.replace(rule, enabled=False)
            self._rules[rule.rule_id] = done
            self._live.pop(rule.rule_id, None)
            self._reindex()
            task = asyncio.ensure_future(self.store.save_rule(done))
            self._persisting.add(task)
            task.add_done_callback(self._persisting.discard)
