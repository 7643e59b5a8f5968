"""``omnitrade sim``: run the simulated Binance-compatible venue on its own."""

from __future__ import annotations

import argparse
from typing import Any

from omnitrade_tui.cli.not_built import not_built


def register(subparsers: Any) -> None:
    """Add the ``sim`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="run the simulated venue (speaks the Binance spot API) until interrupted",
        description="Run a local exchange that speaks the Binance spot wire protocol, so "
        "Binance clients and bots can trade against it offline.",
    )
    parser.set_defaults(handler=not_built("the simulated venue (`omnitrade sim`)"))
