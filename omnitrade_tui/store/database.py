"""Opening the history database: URL handling, engine settings, migrations at open.

SQLite (the default, a file in the platform's user-data directory) runs in WAL mode with
``synchronous=NORMAL``: readers never block the recorder, and a crash loses at most the
last transactions, never the file. PostgreSQL comes from a URL. Either way the schema is
brought to the newest Alembic revision before anything else touches it, so an upgrade of
the app keeps the user's history.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from omnitrade_tui.store.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL or bare path; ``None`` for any other database."""
    if "://" not in url:
        return Path(url).expanduser()
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database).expanduser()


def normalize_url(url: str) -> str:
    """Turn what a user types into an async SQLAlchemy URL.

    A bare path is a SQLite file; ``sqlite:///...`` gets the aiosqlite driver;
    ``postgres://``/``postgresql://`` get asyncpg. There is no default here: the one
    default database is the config's (``Settings.db_url``), so every command finds the same.
    """
    if not url:
        raise StoreError("no database named: give a SQLite path or a postgresql:// URL")
    if "://" not in url:
        return f"sqlite+aiosqlite:///{Path(url).expanduser()}"
    scheme, rest = url.split("://", 1)
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise StoreError(
        f"unsupported database URL scheme {scheme!r}: use a SQLite path or sqlite:///FILE, "
        "or postgresql://USER@HOST:PORT/DB"
    )


def make_private(path: Path) -> None:
    """Create the SQLite file owner-only (0600, its new folders 0700) before SQLite opens it.

    The database holds the gateway's password hashes and audit log. SQLite gives its ``-wal``
    and ``-shm`` files the database file's mode, so they are private too. A file an older
    version left readable by others is made private (and said so in the log).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    info = path.stat()
    if os.name == "posix" and info.st_mode & 0o077 and info.st_uid == os.getuid():
        os.chmod(path, 0o600)
        log.warning("database %s was readable by other users: made it owner-only (0600)", path)


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class Database:
    """An open, migrated history database: the engine and which dialect it speaks."""

    engine: AsyncEngine
    url: str
    schema: str | None = None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # Checkpoint every ~40 MB of WAL rather than every 4 MB: each checkpoint syncs the
        # file, and fewer of them is ~10% more rows/s for the recorder. The WAL file is
        # truncated back to 64 MB at most after a checkpoint.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute("PRAGMA journal_size_limit=67108864")
        cursor.close()

    return on_connect


def create_engine(url: str, schema: str | None = None, busy_timeout_ms: int = 5000) -> AsyncEngine:
    """An async engine for the URL (not yet connected).

    ``schema`` confines PostgreSQL to one schema; ``busy_timeout_ms`` is how long a SQLite
    write waits for another process's lock before it fails.
    """
    full = normalize_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            make_private(Path(parsed.database))
        engine = create_async_engine(full)
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        return engine
    server_settings = {"application_name": "omnitrade"}
    if schema is not None:
        server_settings["search_path"] = schema
    return create_async_engine(
        full,
        pool_pre_ping=True,
        connect_args={"server_settings": server_settings, "timeout": 5, "command_timeout": 30},
    )


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: sa.Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest migration this version of the app ships."""
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


async def open_database(
    url: str, schema: str | None = None, busy_timeout_ms: int = 5000
) -> Database:
    """Connect, create ``schema`` if asked (PostgreSQL), and migrate to the newest revision.

    Raises:
        StoreError: the database cannot be reached, opened or migrated; the message says
            which database and what to check.
    """
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise StoreError(f"invalid schema name {schema!r}: use lowercase letters, digits, _")
    full = normalize_url(url)
    shown = describe(full)
    try:
        engine = create_engine(full, schema, busy_timeout_ms)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot use database {shown}: {exc}") from exc
    try:
        async with engine.begin() as conn:
            if schema is not None and engine.dialect.name == "postgresql":
                await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except Exception as exc:
        await engine.dispose()
        raise StoreError(
            f"cannot open database {shown}: {_reason(exc)}. Check that the server is running "
            "and reachable, that the user may connect, or for SQLite that the folder is "
            "writable."
        ) from exc
    try:
        async with engine.begin() as conn:
            current = await conn.run_sync(_current_revision)
            known = {s.revision for s in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
            if current is not None and current not in known:
                raise StoreError(
                    f"database {shown} is at schema revision {current!r}, which this version "
                    "of omnitrade does not know: it was written by a newer version; upgrade "
                    "omnitrade or use another database"
                )
            await conn.run_sync(_upgrade)
    except StoreError:
        await engine.dispose()
        raise
    except Exception as exc:
        await engine.dispose()
        raise StoreError(
            f"cannot migrate database {shown} to schema revision {head_revision()}: "
            f"{_reason(exc)}. The database was left as it was; back it up and report this."
        ) from exc
    return Database(engine=engine, url=full, schema=schema)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
