"""A shared handler for subcommands whose feature has not landed yet."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode


def not_built(what: str) -> Callable[[argparse.Namespace], int]:
    """A handler that refuses honestly: ``what`` is not built in this version."""

    def handler(args: argparse.Namespace) -> int:
        raise CliError(f"{what} is not built yet in this version", ExitCode.NOT_BUILT)

    return handler
