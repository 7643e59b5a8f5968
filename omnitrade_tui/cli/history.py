"""``omnitrade history``: read and export recorded history."""

from __future__ import annotations

import argparse
from typing import Any

from omnitrade_tui.cli.not_built import not_built


def register(subparsers: Any) -> None:
    """Add the ``history`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        help="export recorded trades, fills, orders or candles",
        description="Read what the recorder kept: export trades, fills, orders or candles as CSV.",
    )
    parser.set_defaults(handler=not_built("history export (`omnitrade history`)"))
