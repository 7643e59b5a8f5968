"""History reads from a streaming replica (``db_read_url``): the primary keeps the writes.

A PostgreSQL hot standby is read-only and follows the primary's schema through the WAL, so
it is opened without migrating: the schema revision it reports must be one this version
knows (the primary was migrated by the recorder or the app). ``history_reader`` is the one
call the runtime makes: the replica's store when a URL is given, else the primary's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from alembic.script import ScriptDirectory

from omnitrade_tui.store.database import (
    MIGRATIONS_DIR,
    Database,
    _current_revision,
    _reason,
    create_engine,
    describe,
    normalize_url,
)
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.repository import SqlHistoryStore


async def open_replica(url: str, schema: str | None = None, wait_s: float = 10.0) -> Database:
    """Connect to a read replica and check its schema, without migrating it.

    A replica replays the primary's migrations a moment after the primary ran them (on a
    first start the runtime migrates the primary just before), so a schema not there yet
    is asked again for up to ``wait_s`` seconds.

    Raises:
        StoreError: it cannot be reached, has no schema yet (not following the primary, or
            the primary was never migrated), or a revision this version does not know.
    """
    full = normalize_url(url)
    shown = describe(full)
    engine = create_engine(full, schema)
    known = {s.revision for s in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
    deadline = time.monotonic() + wait_s
    while True:
        try:
            async with engine.connect() as conn:
                current = await conn.run_sync(_current_revision)
        except Exception as exc:
            await engine.dispose()
            raise StoreError(f"cannot open the read replica {shown}: {_reason(exc)}") from exc
        if current in known:
            return Database(engine=engine, url=full, schema=schema)
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.1)
    await engine.dispose()
    what = "no schema yet" if current is None else f"schema revision {current!r}"
    raise StoreError(
        f"the read replica {shown} has {what}: it must follow a primary this version "
        "has migrated (start the recorder or the app on the primary first)"
    )


async def history_reader(
    stack: contextlib.AsyncExitStack, read_url: str | None, primary: SqlHistoryStore
) -> SqlHistoryStore:
    """The store history reads use: the replica at ``read_url`` (closed with ``stack``),
    else ``primary``."""
    if not read_url:
        return primary
    replica = SqlHistoryStore(await open_replica(read_url))
    stack.push_async_callback(replica.close)
    return replica
