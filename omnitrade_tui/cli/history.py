"""``omnitrade history``: read and export recorded history."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from datetime import UTC, datetime
from typing import Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.repository import EXPORTABLE, SqlHistoryStore


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


async def export(args: argparse.Namespace, out: Any) -> int:
    """Write one table as CSV to ``out``, oldest first."""
    since = parse_since(args.since)
    try:
        store = SqlHistoryStore(await open_database(args.db))
    except StoreError as exc:
        raise CliError(str(exc), ExitCode.DATABASE) from exc
    try:
        writer = csv.writer(out)
        wrote_header = False
        rows = 0
        async for header, chunk in store.export_rows(args.what, args.symbol, since):
            if not wrote_header:
                writer.writerow(header)
                wrote_header = True
            writer.writerows(chunk)
            rows += len(chunk)
        if not wrote_header:
            writer.writerow(_header(args.what))
    finally:
        await store.close()
    print(f"omnitrade history: exported {rows} {args.what}", file=sys.stderr)
    return 0


def _header(what: str) -> list[str]:
    from omnitrade_tui.store.tables import METADATA

    return [c.name for c in METADATA.tables[what].columns]


def _run(args: argparse.Namespace) -> int:
    if args.format != "csv":
        raise CliError(f"unknown format {args.format!r}: only csv", ExitCode.USAGE)
    if not args.out:
        return asyncio.run(export(args, sys.stdout))
    with open(args.out, "w", newline="") as out:
        return asyncio.run(export(args, out))


def register(subparsers: Any) -> None:
    """Add the ``history`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        help="export recorded trades, fills, orders or candles",
        description="Read what the recorder kept: export trades, fills, orders or candles as CSV.",
    )
    sub = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    exp = sub.add_parser("export", help="write a table as CSV")
    exp.add_argument("--what", choices=EXPORTABLE, required=True, help="the table to export")
    exp.add_argument(
        "--symbol", metavar="SYMBOL", default=None, help="only this symbol (default: all)"
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
        help="SQLite path or postgresql:// URL (default: the user data folder's)",
    )
    exp.add_argument("--out", metavar="FILE", default=None, help="file to write (default: stdout)")
    exp.set_defaults(handler=_run)
