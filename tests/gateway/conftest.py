"""Gateway fixtures: the gateway repository on SQLite and on the real PostgreSQL, a cheap
password hasher, and a clock the tests move by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from omnitrade_tui.gateway.auth import AuthService
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.roles import Role
from omnitrade_tui.gateway.service import Listen, RunningGateway, run_gateway
from omnitrade_tui.gateway.throttle import LoginGuard
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.gateway_repository import GatewayRepository
from tests.store.conftest import drop_schema, unique_schema
from tests.test_runtime import sim_settings


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


# -- a running gateway (the engine on the sim, served on loopback) ---------------------------

PASSWORD = "correct horse battery staple"
USERS = {"ann": Role.ADMIN, "tom": Role.TRADER, "vic": Role.VIEWER}


def auth_factory(
    passwords: Passwords, access_ttl_s: float = 900.0
) -> Callable[[GatewayRepository, bytes], AuthService]:
    """Auth with cheap hashing, a chosen access lifetime and a short login block."""

    def make(repo: GatewayRepository, secret: bytes) -> AuthService:
        return AuthService(
            repo,
            secret,
            passwords=passwords,
            access_ttl_s=access_ttl_s,
            guard=LoginGuard(max_failures=3, window_s=60, block_s=1.5),
        )

    return make


async def with_users(gw: RunningGateway) -> None:
    """Add ``USERS``, all with ``PASSWORD``."""
    for name, role in USERS.items():
        await gw.auth.users.add(name, role, PASSWORD)


@pytest.fixture
async def gateway(tmp_path: Path, fast_passwords: Passwords) -> AsyncIterator[RunningGateway]:
    """A gateway on the sim, plain WebSocket on loopback, with an admin, a trader, a viewer."""
    where = Listen("127.0.0.1", 0)
    async with run_gateway(
        sim_settings(tmp_path), where, auth_factory=auth_factory(fast_passwords), record=False
    ) as gw:
        await with_users(gw)
        yield gw
