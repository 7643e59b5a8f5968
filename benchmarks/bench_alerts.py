"""Alert evaluation cost: the engine's alert service with 1,000 rules on the bus while
market data flows at 2,000 messages a second, against the same bus and flow with no rules,
in the same process.

The rules are what a trader sets: price levels (most), moves, spreads, imbalances and volume
spikes over four symbols, plus account and system ones; the flow is trades and book tops
alternating over the same symbols with a random-walk price, so crossings really happen. CPU
is the process's own time (``time.process_time``) per message, paced at 2,000 messages a
second in real time.
"""

from __future__ import annotations

import asyncio
import random
import time

from benchmarks.harness import Result
from omnitrade_tui.bus import topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.domain.alerts import AlertKind, AlertRule
from omnitrade_tui.domain.commands import AddAlert
from omnitrade_tui.domain.events import BookTop
from omnitrade_tui.domain.models import BookLevel, Trade
from omnitrade_tui.engine.alerts import AlertService

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")
START = {"BTCUSDT": 67_000.0, "ETHUSDT": 2_600.0, "SOLUSDT": 150.0, "BNBUSDT": 560.0}
RATE = 2_000


def rules(n: int, rng: random.Random) -> list[AlertRule]:
    """``n`` rules: 80% price levels near the market, the rest of the other kinds."""
    out: list[AlertRule] = []
    other = (
        AlertKind.MOVE_PCT,
        AlertKind.SPREAD_BPS,
        AlertKind.IMBALANCE,
        AlertKind.VOLUME_SPIKE,
        AlertKind.OWN_FILL,
        AlertKind.FEED_STALE,
    )
    for i in range(n):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        if i % 5:
            level = START[symbol] * (1 + rng.uniform(-0.01, 0.01))
            out.append(
                AlertRule(
                    kind=AlertKind.PRICE_CROSS,
                    symbol=symbol,
                    level=level,
                    repeat=True,
                    cooldown_s=1,
                )
            )
            continue
        kind = other[(i // 5) % len(other)]
        threshold = {AlertKind.IMBALANCE: 3.0, AlertKind.VOLUME_SPIKE: 4.0}.get(kind, 0.5)
        out.append(
            AlertRule(
                kind=kind,
                symbol=symbol,
                threshold=threshold,
                window_s=float(rng.choice((10, 30, 60))),
                seconds=5,
                repeat=True,
                cooldown_s=1,
            )
        )
    return out


async def _cpu_per_message(n_rules: int, messages: int, seed: int) -> tuple[float, int]:
    """CPU seconds per message over ``messages`` paced at RATE a second; alerts fired."""
    rng = random.Random(seed)
    bus = Bus()
    service = AlertService(bus)
    await service.start()
    for rule in rules(n_rules, rng):
        await bus.request(AddAlert(rule=rule))
    prices = dict(START)
    batch = RATE // 100  # paced in 10 ms slices
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    sent = 0
    while sent < messages:
        for _ in range(batch):
            symbol = SYMBOLS[sent % len(SYMBOLS)]
            price = prices[symbol] = prices[symbol] * (1 + rng.gauss(0, 0.0004))
            now = int(time.time() * 1000)
            if sent % 2:
                bus.publish(
                    topics.trade(symbol),
                    Trade(
                        symbol=symbol,
                        trade_id=sent,
                        price=price,
                        qty=rng.expovariate(1.0),
                        time_ms=now,
                        buyer_is_maker=bool(sent & 2),
                    ),
                )
            else:
                half = price * 0.00005
                bus.publish(
                    topics.book(symbol),
                    BookTop(
                        symbol=symbol,
                        update_id=sent,
                        bids=[BookLevel(price - half, rng.uniform(0.1, 5)) for _ in range(5)],
                        asks=[BookLevel(price + half, rng.uniform(0.1, 5)) for _ in range(5)],
                    ),
                )
            sent += 1
        ahead = wall_start + sent / RATE - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)
    cpu = time.process_time() - cpu_start
    fired = service.fired_count
    await service.stop()
    return cpu / messages, fired


def run(quick: bool) -> list[Result]:
    """CPU per market message with 1,000 alert rules, against none."""
    messages = 6_000 if quick else 30_000
    base, _ = asyncio.run(_cpu_per_message(0, messages, seed=1))
    ours, fired = asyncio.run(_cpu_per_message(1_000, messages, seed=1))
    return [
        Result(
            name="alerts_1000_rules",
            figures={
                "messages": messages,
                "rate_per_s": RATE,
                "rules": 1_000,
                "cpu_us_per_msg": round(ours * 1e6, 2),
                "cpu_us_per_msg_no_rules": round(base * 1e6, 2),
                "added_us_per_msg": round((ours - base) * 1e6, 2),
                "alerts_fired": fired,
                "core_share_pct": round(ours * RATE * 100, 2),
            },
            baseline="the same bus and flow with the alert service running no rules",
            ratio=base / ours if ours else 0.0,
            goal="1,000 rules add at most 20 us a message (4% of a core at 2,000 msgs/s)",
            met=(ours - base) * 1e6 <= 20,
            notes="ratio = CPU per message without rules / with them (1.0: rules cost nothing)",
        )
    ]
