"""The recorder on a real bus and real databases: batching, flush, outage, spill, replay."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from omnitrade_tui.bus import topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.policy import Queue
from omnitrade_tui.domain.events import RecorderStatus
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.repository import SqlHistoryStore
from tests.store.conftest import drop_schema, unique_schema
from tests.waiting import until


def _trade(i: int) -> Trade:
    return Trade(
        symbol="ETHUSDT", trade_id=i, price=2500.0, qty=0.1, time_ms=i, buyer_is_maker=False
    )


async def test_recorder_writes_everything_and_flushes_on_stop(
    store: SqlHistoryStore, tmp_path: Path
) -> None:
    bus = Bus()
    statuses = bus.subscribe_queue(topics.RECORDER, Queue(bound=10_000))
    rec = Recorder(bus, store, RecorderConfig(spill_dir=tmp_path / "spill"))
    await rec.start()
    for i in range(1, 5001):
        await bus.publish_wait(topics.trade("ETHUSDT"), _trade(i))
        if i % 1000 == 0:
            await asyncio.sleep(0)
    for i in range(1, 1001):  # the same trades again: no duplicates
        bus.publish(topics.trade("ETHUSDT"), _trade(i))
    await rec.stop()
    assert await store.count("trades") == 5000
    last = [d.event for d in await statuses.get_batch(10_000, timeout=0)][-1]
    assert isinstance(last, RecorderStatus)
    assert last.state == "stopped"
    assert last.backlog_rows == 0
    assert last.spilled_rows == 0
    assert rec.batches >= 2  # batched, not one giant write and not per row


async def test_postgres_outage_loses_nothing(postgres_url: str, tmp_path: Path) -> None:
    """The recorder's role is locked out and its sessions killed mid-stream; once it may log
    in again, every row is there, once."""
    role = f"omt_rec_{uuid.uuid4().hex[:8]}"
    schema = unique_schema()
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
    host_part = postgres_url.split("@", 1)[1]
    rec_url = f"postgresql://{role}@{host_part}"
    repo = SqlHistoryStore(await open_database(rec_url, schema=schema))
    bus = Bus()
    cfg = RecorderConfig(
        spill_dir=tmp_path / "spill", max_memory_rows=3000, retry_initial_s=0.05, retry_max_s=0.2
    )
    rec = Recorder(bus, repo, cfg)
    await rec.start()
    try:
        for i in range(1, 3001):
            bus.publish(topics.trade("ETHUSDT"), _trade(i))
        await asyncio.sleep(0.5)
        await admin.execute(f"ALTER ROLE {role} NOLOGIN")
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
        )
        for i in range(3001, 20001):
            bus.publish(topics.trade("ETHUSDT"), _trade(i))
            if i % 500 == 0:
                await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)
        during = rec.status()
        assert during.state in ("degraded", "spilling")
        assert during.spilled_rows > 0  # the memory bound was reached: rows went to disk
        await admin.execute(f"ALTER ROLE {role} LOGIN")
        await until(
            lambda: rec.status().state == "ok" and rec.status().backlog_rows == 0,
            "the backlog written",
            10.0,
            interval=0.1,
            fail=False,
        )
        assert rec.status().state == "ok"  # it says so once the backlog is written
        assert rec.status().last_error == ""  # and no longer shows the outage's error
        await rec.stop()
        assert await repo.count("trades") == 20000
        assert rec.status().spilled_rows == 0
    finally:
        await repo.close()
        await admin.execute(f"ALTER ROLE {role} LOGIN")
        await drop_schema(postgres_url, schema)
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
        )
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


async def test_spill_left_by_a_dead_run_is_replayed_at_start(
    store: SqlHistoryStore, tmp_path: Path
) -> None:
    from omnitrade_tui.store.rows import RowBuilder, new_batch
    from omnitrade_tui.store.spill import SpillFiles

    spill = SpillFiles(tmp_path / "spill")
    batch = new_batch()
    b = RowBuilder()
    for i in range(1, 101):
        b.add(batch, "md.trade.ETHUSDT", _trade(i))
    spill.append(batch)
    spill.close()
    with (tmp_path / "spill").joinpath(spill.segments()[0].name).open("ab") as f:
        f.write(b"\x00\x00\x10\x00partial")  # a frame cut short by kill -9
    rec = Recorder(Bus(), store, RecorderConfig(spill_dir=tmp_path / "spill"))
    await rec.start()
    await until(lambda: not rec.spill.segments(), "the spill replayed", 2.5, fail=False)
    await rec.stop()
    assert await store.count("trades") == 100
    assert rec.spill.truncated_frames == 1


async def test_rows_the_database_refuses_are_kept_aside_not_retried_forever(
    store: SqlHistoryStore, tmp_path: Path
) -> None:
    bus = Bus()
    rec = Recorder(bus, store, RecorderConfig(spill_dir=tmp_path / "spill"))
    await rec.start()
    for i in range(1, 1001):
        bus.publish(topics.trade("ETHUSDT"), _trade(i))
        if i == 500:  # msgspec does not validate on construction: a NULL symbol gets through
            bad = Trade(
                symbol=None,  # type: ignore[arg-type]  # the NULL the store must survive
                trade_id=0,
                price=1.0,
                qty=1.0,
                time_ms=0,
                buyer_is_maker=False,
            )
            bus.publish(topics.trade("ETHUSDT"), bad)
    # A generous stop: on a loaded machine the bisection that isolates the bad row can
    # outlast the default 10 s, and the rest would (correctly) go to the spill file.
    await rec.stop(timeout=60)
    assert await store.count("trades") == 1000
    assert rec.status().rejected_rows == 1
    [segment] = rec.rejected.segments()
    [kept] = list(rec.rejected.read(segment))
    assert kept["trades"][0][0] is None


async def test_sqlite_locked_by_another_process_loses_nothing(tmp_path: Path) -> None:
    """Another process holds an exclusive lock mid-stream: the recorder holds, spills, and
    writes everything once the lock is gone."""
    import sqlite3

    db_path = tmp_path / "h.db"
    repo = SqlHistoryStore(await open_database(str(db_path), busy_timeout_ms=50))
    bus = Bus()
    cfg = RecorderConfig(
        spill_dir=tmp_path / "spill", max_memory_rows=2000, retry_initial_s=0.05, retry_max_s=0.1
    )
    rec = Recorder(bus, repo, cfg)
    await rec.start()
    for i in range(1, 2001):
        bus.publish(topics.trade("ETHUSDT"), _trade(i))
    await asyncio.sleep(0.5)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(2001, 12001):
            bus.publish(topics.trade("ETHUSDT"), _trade(i))
            if i % 500 == 0:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        during = rec.status()
        assert during.state in ("degraded", "spilling")
        assert during.spilled_rows > 0
        assert "locked" in during.last_error
    finally:
        other.execute("ROLLBACK")
        other.close()
    await until(
        lambda: rec.status().state == "ok" and rec.status().backlog_rows == 0,
        "the backlog written",
        5.0,
        fail=False,
    )
    assert rec.status().state == "ok"  # it says so once the backlog is written
    await rec.stop()
    assert await repo.count("trades") == 12000
    assert rec.status().spilled_rows == 0
    await repo.close()


class _Away:
    """A database in an outage: every write refused."""

    async def write_batch(self, batch: object) -> int:
        raise OSError("connection refused")


async def test_a_first_retry_wait_above_the_cap_is_capped_not_fatal(tmp_path: Path) -> None:
    """``retry_initial_s`` above ``retry_max_s`` (the store benchmark's outage config): the
    writer retries at the cap and the outage is journaled, rather than the writer task
    dying on the backoff's check and the recorder holding rows forever."""
    bus = Bus()
    cfg = RecorderConfig(spill_dir=tmp_path / "spill", retry_initial_s=0.2, retry_max_s=0.05)
    rec = Recorder(bus, _Away(), cfg)
    await rec.start()
    for i in range(1, 2001):
        bus.publish(topics.trade("ETHUSDT"), _trade(i))
    for _ in range(400):
        if rec.spill.rows_on_disk == 2000:
            break
        await asyncio.sleep(0.01)
    assert rec.spill.rows_on_disk == 2000
    assert rec._writer_task is not None and not rec._writer_task.done()
    await rec.stop(timeout=1)
