"""History reads from a streaming replica: a primary and a hot standby of the test's own
(``initdb``, ``pg_basebackup -R``, on free local ports), the engine recording to the
primary, and the engine's history service and ``history export`` reading the replica."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from omnitrade_tui.cli.main import main
from omnitrade_tui.config import AppDirs
from omnitrade_tui.domain.commands import OrderHistory, PlaceOrder
from omnitrade_tui.domain.enums import OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.domain.models import Order, OrderRequest
from omnitrade_tui.runtime import Runtime
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.replica import open_replica
from tests.store.own_postgres import OwnPostgres, own_postgres
from tests.test_runtime import sim_settings
from tests.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@contextlib.contextmanager
def standby_of(primary: OwnPostgres) -> Iterator[OwnPostgres]:
    """A hot standby streaming from ``primary`` (``pg_basebackup -R``), started."""
    folder = Path(tempfile.mkdtemp(prefix="omt-pg-replica-", dir="/tmp"))
    replica = OwnPostgres(primary.bindir, folder)
    try:
        if replica.run_as:
            shutil.chown(folder, user="postgres")
        basebackup = shutil.which("pg_basebackup") or str(primary.bindir / "pg_basebackup")
        replica.run(
            basebackup, "-D", str(replica.data), "-R", "-X", "stream",
            "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "--no-sync",
        )  # fmt: skip
        replica.start()
        yield replica
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            replica.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[OwnPostgres, OwnPostgres]]:
    """A primary and its streaming replica."""
    if shutil.which("initdb") is None and not list(Path("/usr/lib/postgresql").glob("*/bin")):
        pytest.skip("initdb is not installed: no PostgreSQL server binaries to build a replica")
    with own_postgres() as primary, standby_of(primary) as replica:
        yield primary, replica


async def _rows(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _caught_up(primary: str, replica: str, sql: str) -> list[asyncpg.Record]:
    """The replica's answer to ``sql`` once it equals the primary's."""
    want = await _rows(primary, sql)
    got: list[asyncpg.Record] = []

    async def caught_up() -> bool:
        nonlocal got
        got = await _rows(replica, sql)
        return got == want

    if await until(caught_up, "the replica", 10.0, interval=0.1, fail=False):
        return got
    raise AssertionError(f"the replica did not catch up: {len(got)} rows, primary {len(want)}")


async def test_the_engine_records_to_the_primary_and_reads_history_from_the_replica(
    cluster: tuple[OwnPostgres, OwnPostgres], tmp_path: Path, app_dirs: AppDirs
) -> None:
    primary, replica = cluster
    # An empty replica of a never-migrated primary is refused, not migrated (read-only).
    with pytest.raises(StoreError, match="no schema yet"):
        await open_replica(replica.url, wait_s=0.3)

    settings = replace(sim_settings(tmp_path), db_url=primary.url, db_read_url=replica.url)
    async with Runtime.start(settings, seed=3) as rt:
        assert rt.recorder is not None
        recorder = rt.recorder
        await until(
            lambda: (
                rt.market_stream.books["BTCUSDT"].state is BookState.LIVE
                and recorder.written_rows >= 100
                and "BTCUSDT" in rt.gate.mids
            ),
            "a live book, rows written and a mid",
            fail=False,
        )
        price = (rt.gate.mids["BTCUSDT"] * Decimal("0.98")).quantize(Decimal("0.01"))
        placed = await rt.bus.request(
            PlaceOrder(
                request=OrderRequest(
                    symbol="BTCUSDT",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.01"),
                    price=price,
                    time_in_force=TimeInForce.GTC,
                )
            )
        )
        # The order reaches the primary through the recorder, the replica through the WAL,
        # and the blotter's history request is answered from the replica.
        seen: list[Order] = []

        async def shown() -> bool:
            nonlocal seen
            seen = await rt.bus.request(OrderHistory(symbol="BTCUSDT"))
            return any(o.client_order_id == placed.client_order_id for o in seen)

        if not await until(shown, "the order in history", 10.0, interval=0.1, fail=False):
            raise AssertionError(f"the replica's history never showed the order: {seen}")

    # Stopped: the primary holds what the recorder wrote; the replica shows the same rows.
    sql = "SELECT symbol, trade_id, price, qty FROM trades ORDER BY symbol, trade_id"
    trades = await _caught_up(primary.url, replica.url, sql)
    assert len(trades) >= 10
    # A replica is read-only: the history service read it, it did not write there.
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await _rows(replica.url, "CREATE TABLE nope (x int)")


def test_history_export_reads_the_replica_named_by_db_read_url(
    cluster: tuple[OwnPostgres, OwnPostgres],
    app_dirs: AppDirs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    primary, replica = cluster
    # The previous test recorded trades; export them from each server.
    assert main(["history", "export", "--what", "trades", "--db", primary.url]) == 0
    from_primary = capsys.readouterr().out
    monkeypatch.setenv("OMNITRADE_DB_READ_URL", replica.url)
    monkeypatch.setenv("OMNITRADE_DB_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["history", "export", "--what", "trades"]) == 0
    from_replica = capsys.readouterr()
    assert "exported" in from_replica.err
    lines = from_replica.out.splitlines()
    assert len(lines) > 10
    assert io.StringIO(from_replica.out).read() == from_primary
