"""A history store on SQLite and on the real PostgreSQL, one fresh schema per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.repository import SqlHistoryStore


def unique_schema() -> str:
    """A schema name no other test run uses."""
    return f"omt_test_{uuid.uuid4().hex[:12]}"


async def drop_schema(postgres_url: str, schema: str) -> None:
    """Remove a test schema and everything in it."""
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlHistoryStore]:
    """An open, migrated store: a SQLite file, or a unique schema on PostgreSQL."""
    if request.param == "sqlite":
        db = await open_database(str(tmp_path / "history.db"))
        repo = SqlHistoryStore(db)
        yield repo
        await repo.close()
        return
    url = request.getfixturevalue("postgres_url")
    schema = unique_schema()
    db = await open_database(url, schema=schema)
    repo = SqlHistoryStore(db)
    try:
        yield repo
    finally:
        await repo.close()
        await drop_schema(url, schema)
