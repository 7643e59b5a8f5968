"""``omnitrade keys``: manage API keys in the OS keyring."""

from __future__ import annotations

import argparse
from typing import Any

from omnitrade_tui.cli.not_built import not_built


def register(subparsers: Any) -> None:
    """Add the ``keys`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys",
        help="add, list, remove or test API keys (kept in the OS keyring)",
        description="Manage the API keys the app trades with. Secrets live in the OS keyring "
        "(or an encrypted file on a headless box), never in the config file.",
    )
    parser.set_defaults(handler=not_built("key management (`omnitrade keys`)"))
