"""``omnitrade history``: read and export recorded history."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import overrides_from_args
from omnitrade_tui.config import load_settings
from omnitrade_tui.domain.venue import InstrumentIdError, parse
from omnitrade_tui.store.database import normalize_url, open_database, sqlite_path
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.replica import open_replica
from omnitrade_tui.store.repository import EXPORTABLE, SqlHistoryStore, export_header


def parse_since(text: str | None) -> int:
    """``--since``: epoch milliseconds, or an ISO date/time (UTC unless it says otherwise)."""
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(
            f"--since {text!r} is neither epoch milliseconds nor an ISO date "
            "(e.g. 2024-08-09 or 2024-08-09T00:05:00)",
            ExitCode.USAGE,
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def plain(value: object) -> object:
    """A cell as a person reads it: decimals written out (``0``, ``0.00000001``), never in
    exponent form (``0E-8``)."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    return value


async def export(args: argparse.Namespace, url: str, out: Any, replica: bool = False) -> int:
    """Write one table as CSV to ``out``, oldest first, and say on stderr what was written
    and where the trades the history lacks are. ``replica``: ``url`` is a read replica
    (opened without migrating)."""
    since = parse_since(args.since)
    symbol = parse_symbol(args.symbol)
    try:
        store = SqlHistoryStore(await (open_replica(url) if replica else open_database(url)))
    except StoreError as exc:
        raise CliError(str(exc), ExitCode.DATABASE) from exc
    try:
        writer = csv.writer(out, lineterminator="\n")
        wrote_header = False
        rows = 0
        async for header, chunk in store.export_rows(args.what, symbol, since):
            if not wrote_header:
                writer.writerow(header)
                wrote_header = True
            writer.writerows([plain(v) for v in row] for row in chunk)
            rows += len(chunk)
        if not wrote_header:
            writer.writerow(export_header(args.what))
        gaps = await store.trade_gaps(symbol, since) if args.what == "trades" else []
    finally:
        await store.close()
    print(f"omnitrade history: exported {rows} {args.what}", file=sys.stderr)
    if gaps:
        missing = sum(g.missing for g in gaps)
        print(
            f"omnitrade history: the trades are not whole: {len(gaps)} gap(s), {missing} "
            "trade ids the venue could not give back (export --what trade_gaps lists them):",
            file=sys.stderr,
        )
        for gap in gaps[:10]:
            print(f"  {gap.symbol} ids {gap.first_id}-{gap.last_id}: {gap.reason}", file=sys.stderr)
    return 0


def database_url(args: argparse.Namespace) -> tuple[str, bool]:
    """The database to read, and whether it is a read replica: ``--db``, else the config's
    ``db_read_url`` (a replica), else the one the app and ``record`` use (the
    environment's ``OMNITRADE_DB_URL``, the config's ``db_url``, the data directory).

    Raises:
        CliError: a SQLite file that does not exist (an export never creates a database).
    """
    settings = load_settings(replace(overrides_from_args(args), db_url=args.db))
    if args.db is None and settings.db_read_url:
        return settings.db_read_url, True
    url = settings.db_url
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise CliError(
            f"no history database at {path}: record something first (omnitrade or "
            "omnitrade record), or name one with --db",
            ExitCode.DATABASE,
        )
    return url, False


def parse_symbol(text: str | None) -> str | None:
    """``--symbol`` as an instrument id (``BTCUSDT``; ``BTCUSDT@kraken`` on another venue).

    Raises:
        CliError: not a symbol (exit code 2).
    """
    try:
        return parse(text) if text else None
    except InstrumentIdError as exc:
        raise CliError(f"--symbol: {exc}", ExitCode.USAGE) from None


def _run(args: argparse.Namespace) -> int:
    if args.format != "csv":
        raise CliError(f"unknown format {args.format!r}: only csv", ExitCode.USAGE)
    # A mistyped command line is said before the database is looked for.
    parse_since(args.since)
    parse_symbol(args.symbol)
    url, replica = database_url(args)
    if not args.out:
        return asyncio.run(export(args, url, sys.stdout, replica))
    target = Path(args.out)
    if not target.parent.is_dir():
        raise CliError(
            f"cannot write {target}: the folder {target.parent} does not exist", ExitCode.USAGE
        )
    try:
        out = target.open("w", newline="")
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror}", ExitCode.USAGE) from None
    with out:
        return asyncio.run(export(args, url, out, replica))


def register(subparsers: Any) -> None:
    """Add the ``history`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        help="export recorded trades, fills, orders, candles or trade gaps",
        description="Read what the recorder kept: export trades, fills, orders, candles or the "
        "gaps in the trades (ids the venue could not give back) as CSV.",
    )
    sub = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    exp = sub.add_parser("export", help="write a table as CSV")
    exp.add_argument("--what", choices=EXPORTABLE, required=True, help="the table to export")
    exp.add_argument(
        "--symbol",
        metavar="SYMBOL",
        default=None,
        help="only this symbol, BTCUSDT@VENUE on a venue beside the first (default: all)",
    )
    exp.add_argument(
        "--since",
        metavar="WHEN",
        default=None,
        help="from this time on: epoch ms or ISO date/time, UTC unless it says otherwise",
    )
    exp.add_argument("--format", default="csv", choices=["csv"], help="output format (csv)")
    exp.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="SQLite path or postgresql:// URL (default: the app's, as config show says)",
    )
    exp.add_argument("--out", metavar="FILE", default=None, help="file to write (default: stdout)")
    exp.set_defaults(handler=_run)

    part = sub.add_parser(
        "partitions",
        help="make the day partitions of the market data ahead, drop those past retention",
        description="PostgreSQL keeps trades, quotes and candles in one partition per UTC "
        "day. Make today's and the next days' partitions (moving stray rows out of the "
        "default partition) and drop, or detach, the days older than the retention. The "
        "recorder does this every hour by itself; this is the same step by hand or by cron.",
    )
    part.add_argument(
        "--db", metavar="URL", default=None, help="postgresql:// URL (default: the app's)"
    )
    part.add_argument(
        "--retention-days",
        type=int,
        default=None,
        metavar="DAYS",
        help="keep this many days (default: market_retention_days; none: keep all)",
    )
    part.add_argument(
        "--detach", action="store_true", help="detach old partitions instead of dropping them"
    )
    part.add_argument("--days-ahead", type=int, default=7, help="partitions made ahead (7)")
    part.set_defaults(handler=_partitions)


def _partitions(args: argparse.Namespace) -> int:
    from omnitrade_tui.store.partitions import maintain_database

    settings = load_settings(replace(overrides_from_args(args), db_url=args.db))
    if not normalize_url(settings.db_url).startswith("postgresql"):
        raise CliError(
            "day partitions are a PostgreSQL feature: give --db postgresql://...", ExitCode.USAGE
        )
    retention = args.retention_days or settings.market_retention_days
    if retention is not None and retention < 1:
        raise CliError("--retention-days must be at least 1", ExitCode.USAGE)

    async def run() -> int:
        try:
            db = await open_database(settings.db_url)
        except StoreError as exc:
            raise CliError(str(exc), ExitCode.DATABASE) from exc
        try:
            done = await maintain_database(
                db, days_ahead=args.days_ahead, retention_days=retention, detach=args.detach
            )
        finally:
            await db.dispose()
        for verb, names in (
            ("created", done.created),
            ("dropped", done.dropped),
            ("detached", done.detached),
        ):
            print(f"omnitrade history: {verb} {len(names)} partition(s) {' '.join(names)}")
        if done.expired_default_rows:
            print(f"omnitrade history: deleted {done.expired_default_rows} expired stray rows")
        return 0

    return asyncio.run(run())
