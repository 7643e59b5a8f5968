"""Gateway fixtures: the gateway repository on SQLite and on the real PostgreSQL, a cheap
password hasher, and a clock the tests move by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.gateway_repository import GatewayRepository
from tests.store.conftest import drop_schema, unique_schema


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A clock at a fixed time, moved by ``advance``."""
    return FakeClock()


@pytest.fixture(scope="session")
def fast_passwords() -> Passwords:
    """argon2id with the lowest cost: the tests check behaviour, not hashing strength."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[GatewayRepository]:
    """A migrated gateway repository: a SQLite file, or a unique schema on PostgreSQL."""
    if request.param == "sqlite":
        gateway = GatewayRepository(await open_database(str(tmp_path / "gw.db")))
        yield gateway
        await gateway.close()
        return
    url = request.getfixturevalue("postgres_url")
    schema = unique_schema()
    gateway = GatewayRepository(await open_database(url, schema=schema))
    try:
        yield gateway
    finally:
        await gateway.close()
        await drop_schema(url, schema)
