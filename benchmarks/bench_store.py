"""Recorder throughput: batched Core executemany (SQLite) and COPY (PostgreSQL) against a
naive per-row ORM insert, on the same machine in the same run.

Service URLs come from ``OMNITRADE_TEST_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test); a part whose service is unreachable is
reported as skipped in its JSON.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlmodel import Session, create_engine

from benchmarks.harness import Result
from omnitrade_tui.bus import topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.store.rows import Batch
from omnitrade_tui.store.tables import TradeRow

REDIS_URL = os.environ.get("OMNITRADE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_URL = os.environ.get("OMNITRADE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _trades(n: int) -> list[Trade]:
    return [
        Trade(
            symbol="ETHUSDT",
            trade_id=i,
            price=2500.0 + (i % 100) * 0.01,
            qty=0.01,
            time_ms=1_723_161_254_000 + i,
            buyer_is_maker=bool(i & 1),
        )
        for i in range(1, n + 1)
    ]


async def _recorder_rate(url: str, schema: str | None, trades: list[Trade], prefill: bool) -> float:
    """Rows/s until the recorder has committed every row.

    ``prefill`` False: timed from the first publish (the bus's own publish cost, paid by
    the venue in production, is included, in the same thread). True: the trades are
    already queued on the bus when the clock starts: the recorder's own drain rate.
    """
    store = SqlHistoryStore(await open_database(url, schema=schema))
    with tempfile.TemporaryDirectory() as spill:
        bus = Bus()
        rec = Recorder(
            bus,
            store,
            RecorderConfig(
                spill_dir=Path(spill), queue_bound=len(trades) + 1, max_memory_rows=2_000_000
            ),
        )
        await rec.start()
        if prefill:
            for t in trades:
                bus.publish(topics.trade("ETHUSDT"), t)
        start = time.perf_counter()
        if not prefill:
            for i, t in enumerate(trades):
                bus.publish(topics.trade("ETHUSDT"), t)
                if i % 5000 == 0:
                    await asyncio.sleep(0)
        await rec.stop(timeout=300)
        took = time.perf_counter() - start
    count = await store.count("trades")
    await store.close()
    assert count == len(trades), (count, len(trades))
    return len(trades) / took


_NOTE = (
    "rows_per_s: the recorder draining trades already queued on the bus (its own rate); "
    "end_to_end_rows_per_s also pays the bus publish in the same thread"
)


def _orm_rate(sync_url: str, schema: str | None, trades: list[Trade]) -> float:
    """The naive way: one ORM object and one commit per trade."""
    args = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
    engine = create_engine(sync_url, **args)
    start = time.perf_counter()
    with Session(engine) as session:
        for t in trades:
            session.add(
                TradeRow(
                    symbol=t.symbol,
                    trade_id=t.trade_id,
                    price=t.price,
                    qty=t.qty,
                    time_ms=t.time_ms,
                    buyer_is_maker=t.buyer_is_maker,
                )
            )
            session.commit()
    took = time.perf_counter() - start
    engine.dispose()
    return len(trades) / took


async def _pg_reachable() -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def _drop(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


class _AwayDatabase:
    """A database that refuses every write, as one in an outage does."""

    async def write_batch(self, batch: Batch) -> int:
        raise OSError("connection refused (benchmark outage)")


async def _journal_rate(trades: list[Trade]) -> float:
    """Rows/s the recorder takes in while the database is away: every held batch goes to
    the journal on disk as it is held (what a crash during the outage would otherwise
    lose), timed from the first publish until the journal holds every row."""
    with tempfile.TemporaryDirectory() as spill:
        bus = Bus()
        rec = Recorder(
            bus,
            _AwayDatabase(),
            RecorderConfig(spill_dir=Path(spill), queue_bound=len(trades) + 1, retry_max_s=0.05),
        )
        await rec.start()
        start = time.perf_counter()
        for i, t in enumerate(trades):
            bus.publish(topics.trade("ETHUSDT"), t)
            if i % 5000 == 0:
                await asyncio.sleep(0)
        # The recorder has no "all journaled" event to wait on; polling costs the run little.
        while rec.spill.rows_on_disk < len(trades):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        took = time.perf_counter() - start
        await rec.stop(timeout=1)
    return len(trades) / took


def run(quick: bool) -> list[Result]:
    """SQLite and PostgreSQL recorder rates, each with its per-row ORM baseline."""
    n = 50_000 if quick else 300_000
    n_orm = 2_000 if quick else 5_000
    trades = _trades(n)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        e2e = asyncio.run(_recorder_rate(str(Path(tmp) / "a.db"), None, trades, False))
        ours = asyncio.run(_recorder_rate(str(Path(tmp) / "c.db"), None, trades, True))
        asyncio.run(open_database(str(Path(tmp) / "b.db")))  # migrated, empty
        base = _orm_rate(f"sqlite:///{Path(tmp) / 'b.db'}", None, trades[:n_orm])
    results.append(
        Result(
            name="recorder_sqlite_trades",
            figures={
                "rows": n,
                "rows_per_s": round(ours),
                "end_to_end_rows_per_s": round(e2e),
                "orm_rows_per_s": round(base),
            },
            notes=_NOTE,
            baseline="per-row SQLModel ORM insert + commit (SQLite WAL, synchronous=NORMAL)",
            ratio=ours / base,
            goal=">= 150,000 trades/s",
            met=ours >= 150_000,
        )
    )
    journal = asyncio.run(_journal_rate(trades))
    results.append(
        Result(
            name="recorder_outage_journal",
            figures={"rows": n, "rows_per_s": round(journal), "sqlite_rows_per_s": round(e2e)},
            notes="database away: every held batch journaled to disk as it is held",
            baseline="the same recorder writing to SQLite, end to end, in this run",
            ratio=journal / e2e,
            goal="journaling keeps up with a healthy database's intake (ratio >= 1)",
            met=journal >= e2e,
        )
    )
    results.append(_bridge_result(20_000 if quick else 100_000))
    why = asyncio.run(_pg_reachable())
    if why is not None:
        results.append(
            Result(
                name="recorder_postgres_trades",
                figures={"skipped": why},
                baseline="per-row ORM",
                ratio=0.0,
                goal=">= 150,000 trades/s",
                met=None,
                notes=f"skipped: PostgreSQL unreachable at {PG_URL}",
            )
        )
        return results
    schema_a, schema_b = (f"omt_bench_{uuid.uuid4().hex[:8]}" for _ in range(2))
    try:
        e2e = asyncio.run(_recorder_rate(PG_URL, schema_a, trades, False))
        asyncio.run(_drop(schema_a))
        ours = asyncio.run(_recorder_rate(PG_URL, schema_a, trades, True))
        asyncio.run(open_database(PG_URL, schema=schema_b))
        sync_url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            base = _orm_rate(sync_url, schema_b, trades[:n_orm])
            base_note = "psycopg"
        except Exception:
            base = asyncio.run(_orm_rate_async(schema_b, trades[:n_orm]))
            base_note = "asyncpg AsyncSession"
    finally:
        asyncio.run(_drop(schema_a))
        asyncio.run(_drop(schema_b))
    results.append(
        Result(
            name="recorder_postgres_trades",
            figures={
                "rows": n,
                "rows_per_s": round(ours),
                "end_to_end_rows_per_s": round(e2e),
                "orm_rows_per_s": round(base),
            },
            notes=_NOTE,
            baseline=f"per-row SQLModel ORM insert + commit ({base_note})",
            ratio=ours / base,
            goal=">= 150,000 trades/s (COPY)",
            met=ours >= 150_000,
        )
    )
    return results


async def _orm_rate_async(schema: str, trades: list[Trade]) -> float:
    from sqlmodel.ext.asyncio.session import AsyncSession

    db = await open_database(PG_URL, schema=schema)
    start = time.perf_counter()
    async with AsyncSession(db.engine) as session:
        for t in trades:
            session.add(
                TradeRow(
                    symbol=t.symbol,
                    trade_id=t.trade_id,
                    price=t.price,
                    qty=t.qty,
                    time_ms=t.time_ms,
                    buyer_is_maker=t.buyer_is_maker,
                )
            )
            await session.commit()
    took = time.perf_counter() - start
    await db.dispose()
    return len(trades) / took


async def _bridge_rate(n: int) -> dict[str, float]:
    """Events/s from publishing on one bus to receiving on another through Redis Streams."""
    import redis.asyncio as redis

    from omnitrade_tui.bus.policy import Each
    from omnitrade_tui.store.redis_bridge import RedisBridgeConsumer, RedisBridgePublisher

    client = redis.Redis.from_url(REDIS_URL)
    stream = f"omt:bench:{uuid.uuid4().hex}"
    source, sink = Bus(), Bus()
    got = 0
    done = asyncio.Event()

    def count(_topic: str, _event: object) -> None:
        nonlocal got
        got += 1
        if got >= n:
            done.set()

    sink.subscribe("md.>", Each(count))
    publisher = RedisBridgePublisher(source, client, stream, ("md.trade.*",))
    consumer = RedisBridgeConsumer(sink, client, stream, start_id="0-0")
    await publisher.start()
    await consumer.start()
    trades = _trades(n)
    start = time.perf_counter()
    for i, t in enumerate(trades):
        source.publish(topics.trade("ETHUSDT"), t)
        if i % 1000 == 0:
            await asyncio.sleep(0)
    await done.wait()
    took = time.perf_counter() - start
    await publisher.stop()
    await consumer.stop()
    await client.delete(stream)
    await client.aclose()
    return {
        "events_per_s": n / took,
        "lag_ms_mean": consumer.lag_ms_mean,
        "lag_ms_max": consumer.lag_ns_max / 1e6,
    }


def _naive_bridge_rate(n: int) -> float:
    """Baseline: one XADD round trip per event, no pipeline."""

    async def go() -> float:
        import msgspec
        import redis.asyncio as redis

        client = redis.Redis.from_url(REDIS_URL)
        stream = f"omt:bench:{uuid.uuid4().hex}"
        trades = _trades(n)
        start = time.perf_counter()
        for t in trades:
            await client.xadd(
                stream, {"t": "md.trade.ETHUSDT", "k": "Trade", "p": msgspec.msgpack.encode(t)}
            )
        took = time.perf_counter() - start
        await client.delete(stream)
        await client.aclose()
        return n / took

    return asyncio.run(go())


def _bridge_result(n: int) -> Result:
    async def reachable() -> str | None:
        import redis.asyncio as redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            await client.ping()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            await client.aclose()
        return None

    why = asyncio.run(reachable())
    if why is not None:
        return Result(
            name="redis_bridge",
            figures={"skipped": why},
            baseline="per-event XADD",
            ratio=0.0,
            goal=">= 20,000 events/s",
            met=None,
            notes=f"skipped: Redis unreachable at {REDIS_URL}",
        )
    figures = asyncio.run(_bridge_rate(n))
    base = _naive_bridge_rate(min(n, 5000))
    rate = figures["events_per_s"]
    return Result(
        name="redis_bridge",
        figures={
            "events": n,
            "events_per_s": round(rate),
            "naive_xadd_per_s": round(base),
            "lag_ms_mean": round(figures["lag_ms_mean"], 2),
            "lag_ms_max": round(figures["lag_ms_max"], 2),
        },
        baseline="one XADD round trip per event (publish side only)",
        ratio=rate / base,
        goal=">= 20,000 events/s end to end (bus -> Redis -> bus)",
        met=rate >= 20_000,
    )
