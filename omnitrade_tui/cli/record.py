"""``omnitrade record``: the headless recorder for a trading box."""

from __future__ import annotations

import argparse
from typing import Any

from omnitrade_tui.cli.not_built import not_built


def register(subparsers: Any) -> None:
    """Add the ``record`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "record",
        help="record market data and account history to the database, with no screen",
        description="Record trades, quotes, candles and account events of the given symbols "
        "to SQLite or PostgreSQL, optionally sharing the feed through Redis.",
    )
    parser.set_defaults(handler=not_built("the headless recorder (`omnitrade record`)"))
